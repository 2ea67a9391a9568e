// Package thin owns the thinning of long series for drawing, shared by the
// figures (plotting) and the live charts (serve): a series of more points
// than the picture has columns is cut into buckets of consecutive points,
// and each bucket keeps its lowest and highest point, so no spike is lost
// and a line drawn at the bucket count or fewer columns covers the pixels
// the full line does.
package thin

// Series is Y at X, X sorted increasing, with an optional band Lo–Hi (the
// seeds' min and max around their mean; nil for none). The zero value is
// the empty series.
type Series struct {
	X, Y, Lo, Hi []float64
}

// MinMax keeps at most maxPoints (at least 4) of s: the points are cut into
// (maxPoints-2)/2 buckets of consecutive points, sizes differing by at most
// one, and of each bucket its smallest and largest Y are kept, in X order;
// the first and last points are kept too, so the X extent is exact (a live
// run's newest row shows). With a band, each kept point carries its
// bucket's lowest Lo and highest Hi. A series that fits is returned as it
// is.
func MinMax(s Series, maxPoints int) Series {
	n := len(s.X)
	maxPoints = max(maxPoints, 4)
	if n <= maxPoints {
		return s
	}
	buckets := (maxPoints - 2) / 2
	out := Series{X: make([]float64, 0, maxPoints), Y: make([]float64, 0, maxPoints)}
	band := s.Lo != nil
	if band {
		out.Lo, out.Hi = make([]float64, 0, maxPoints), make([]float64, 0, maxPoints)
	}
	keep := func(i int, lo, hi float64) {
		if k := len(out.X); k > 0 && out.X[k-1] == s.X[i] && out.Y[k-1] == s.Y[i] {
			return // the same point twice
		}
		out.X, out.Y = append(out.X, s.X[i]), append(out.Y, s.Y[i])
		if band {
			out.Lo, out.Hi = append(out.Lo, lo), append(out.Hi, hi)
		}
	}
	for b := range buckets {
		start, end := b*n/buckets, (b+1)*n/buckets // bucket b is [start, end)
		lo, hi := start, start
		for i := start + 1; i < end; i++ {
			if s.Y[i] < s.Y[lo] {
				lo = i
			}
			if s.Y[i] > s.Y[hi] {
				hi = i
			}
		}
		var bl, bh float64
		if band {
			bl, bh = s.Lo[start], s.Hi[start]
			for i := start + 1; i < end; i++ {
				bl, bh = min(bl, s.Lo[i]), max(bh, s.Hi[i])
			}
		}
		if b == 0 && min(lo, hi) > 0 {
			keep(0, bl, bh)
		}
		keep(min(lo, hi), bl, bh)
		if hi != lo {
			keep(max(lo, hi), bl, bh)
		}
		if b == buckets-1 && max(lo, hi) < n-1 {
			keep(n-1, bl, bh)
		}
	}
	return out
}
