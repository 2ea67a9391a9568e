// Package finitediff owns the float64 central-difference references that
// lot's tests check exact derivatives against. It is independent of every
// derivative the project computes: it only evaluates a loss.
package finitediff

// Gradient returns the central-difference gradient of f at p with step h.
// p is perturbed in place and restored.
func Gradient(f func([]float64) float64, p []float64, h float64) []float64 {
	g := make([]float64, len(p))
	for i := range p {
		orig := p[i]
		p[i] = orig + h
		up := f(p)
		p[i] = orig - h
		down := f(p)
		p[i] = orig
		g[i] = (up - down) / (2 * h)
	}
	return g
}

// Hessian returns the dense Hessian of f at p (row-major, symmetric) by
// second central differences with step h. p is perturbed in place and
// restored.
func Hessian(f func([]float64) float64, p []float64, h float64) []float64 {
	n := len(p)
	H := make([]float64, n*n)
	for i := 0; i < n; i++ {
		for j := i; j < n; j++ {
			pi, pj := p[i], p[j]
			var v float64
			for _, s := range [4][3]float64{{1, 1, 1}, {1, -1, -1}, {-1, 1, -1}, {-1, -1, 1}} {
				p[i] += s[0] * h
				p[j] += s[1] * h
				v += s[2] * f(p)
				p[i], p[j] = pi, pj
			}
			H[i*n+j] = v / (4 * h * h)
			H[j*n+i] = H[i*n+j]
		}
	}
	return H
}
