package diagnostics

import "math"

// window keeps the last W values of a normalised sharpness series and forms
// its mean μ and variance σ² as the chosen statistic defines them.
type window struct {
	vals           []float64 // ring buffer, oldest first once full
	next, n        int
	emaMu, emaVar  float64
	emaInitialised bool
}

func newWindow(w int) *window { return &window{vals: make([]float64, w)} }

func (w *window) push(x float64) {
	w.vals[w.next] = x
	w.next = (w.next + 1) % len(w.vals)
	w.n = min(w.n+1, len(w.vals))
	// EMA with span W: a = 2/(W+1), and the matching exponentially
	// weighted variance.
	a := 2 / float64(len(w.vals)+1)
	if !w.emaInitialised {
		w.emaMu, w.emaVar, w.emaInitialised = x, 0, true
		return
	}
	d := x - w.emaMu
	w.emaMu += a * d
	w.emaVar = (1 - a) * (w.emaVar + a*d*d)
}

// stats returns μ and σ² for the statistic: "window", "ema" or "code";
// last is the most recent value.
func (w *window) stats(kind string, last float64) (mu, sigma2 float64) {
	if w.n == 0 {
		return math.NaN(), math.NaN()
	}
	if kind == "ema" {
		return w.emaMu, w.emaVar
	}
	var s float64
	for _, v := range w.vals[:w.n] {
		s += v
	}
	mu = s / float64(w.n)
	if kind == "code" {
		return mu, (last - mu) * (last - mu)
	}
	for _, v := range w.vals[:w.n] {
		sigma2 += (v - mu) * (v - mu)
	}
	return mu, sigma2 / float64(w.n)
}
