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
// are cut into maxPoints/2 buckets of consecutive points, and of each
// bucket its smallest and largest y are kept, in x order, so no spike is
// lost. With a band, each kept point carries its bucket's lowest Lo and
// highest Hi. A series that fits is returned as it is.
func downsample(p Points, maxPoints int) Points {
	n := len(p.X)
	if maxPoints < 2 {
		maxPoints = 2
	}
	if n <= maxPoints {
		return p
	}
	buckets := maxPoints / 2
	out := Points{X: make([]float64, 0, maxPoints), Y: make([]float64, 0, maxPoints)}
	band := p.Lo != nil
	if band {
		out.Lo, out.Hi = make([]float64, 0, maxPoints), make([]float64, 0, maxPoints)
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
		first, second := min(lo, hi), max(lo, hi)
		var bl, bh float64
		if band {
			bl, bh = p.Lo[start], p.Hi[start]
			for i := start + 1; i < end; i++ {
				bl, bh = min(bl, p.Lo[i]), max(bh, p.Hi[i])
			}
		}
		for _, i := range []int{first, second} {
			if i == second && second == first {
				break
			}
			out.X, out.Y = append(out.X, p.X[i]), append(out.Y, p.Y[i])
			if band {
				out.Lo, out.Hi = append(out.Lo, bl), append(out.Hi, bh)
			}
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
