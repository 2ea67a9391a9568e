package serve

import "github.com/lot-toolkit/lot/internal/thin"

// Points is a series as the page draws it: Y at X, with an optional band
// Lo–Hi (the seeds' min and max around their mean).
type Points struct {
	X  []float64 `json:"x"`
	Y  []float64 `json:"y"`
	Lo []float64 `json:"lo,omitempty"`
	Hi []float64 `json:"hi,omitempty"`
}

// downsample keeps at most maxPoints of p (see thin.MinMax).
func downsample(p Points, maxPoints int) Points {
	return Points(thin.MinMax(thin.Series(p), maxPoints))
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
