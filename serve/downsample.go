package serve

// Points is a series as the page draws it: Y at X, with an optional band
// Lo–Hi (the seeds' min and max around their mean).
type Points struct {
	X  []float64 `json:"x"`
	Y  []float64 `json:"y"`
	Lo []float64 `json:"lo,omitempty"`
	Hi []float64 `json:"hi,omitempty"`
}

// downsample keeps at most maxPoints of a series sorted by x: the points
// are cut into (maxPoints-2)/2 buckets of consecutive points, and of each
// bucket its smallest and largest y are kept, in x order, so no spike is
// lost; the first and last points are kept too, so the x extent is exact
// (a live run's newest row shows). With a band, each kept point carries
// its bucket's lowest Lo and highest Hi. A series that fits is returned as
// it is.
func downsample(p Points, maxPoints int) Points {
	n := len(p.X)
	maxPoints = max(maxPoints, 4)
	if n <= maxPoints {
		return p
	}
	buckets := (maxPoints - 2) / 2
	out := Points{X: make([]float64, 0, maxPoints), Y: make([]float64, 0, maxPoints)}
	band := p.Lo != nil
	if band {
		out.Lo, out.Hi = make([]float64, 0, maxPoints), make([]float64, 0, maxPoints)
	}
	keep := func(i int, lo, hi float64) {
		if k := len(out.X); k > 0 && out.X[k-1] == p.X[i] && out.Y[k-1] == p.Y[i] {
			return // the same point twice
		}
		out.X, out.Y = append(out.X, p.X[i]), append(out.Y, p.Y[i])
		if band {
			out.Lo, out.Hi = append(out.Lo, lo), append(out.Hi, hi)
		}
	}
	for b := range buckets {
		// Bucket b holds points [start, end): sizes differ by at most one.
		start, end := b*n/buckets, (b+1)*n/buckets
		lo, hi := start, start
		for i := start + 1; i < end; i++ {
			if p.Y[i] < p.Y[lo] {
				lo = i
			}
			if p.Y[i] > p.Y[hi] {
				hi = i
			}
		}
		var bl, bh float64
		if band {
			bl, bh = p.Lo[start], p.Hi[start]
			for i := start + 1; i < end; i++ {
				bl, bh = min(bl, p.Lo[i]), max(bh, p.Hi[i])
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

// window cuts a series sorted by x to from ≤ x ≤ to; a NaN bound is open.
func window(x, y []float64, from, to float64) ([]float64, []float64) {
	i, j := 0, len(x)
	if from == from {
		for i < j && x[i] < from {
			i++
		}
	}
	if to == to {
		for j > i && x[j-1] > to {
			j--
		}
	}
	return x[i:j], y[i:j]
}
