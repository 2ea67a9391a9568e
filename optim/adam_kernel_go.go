//go:build !cgo || purego

package optim

import "math"

// adamUpdate is Adam's elementwise update over one group. It allocates
// nothing and makes one pass over the four arrays.
// c1 and c2 are 1−β1 and 1−β2, formed in float64 as torch does: in float32
// 1−0.999 loses five digits.
func adamUpdate(p, g, m, v []float32, beta1, c1, beta2, c2, wd, stepSize, bc2Sqrt, eps float32) {
	g = g[:len(p)]
	m = m[:len(p)]
	v = v[:len(p)]
	for i := range p {
		gi := g[i] + wd*p[i]
		mi := beta1*m[i] + c1*gi
		vi := beta2*v[i] + c2*gi*gi
		m[i], v[i] = mi, vi
		denom := float32(math.Sqrt(float64(vi)))/bc2Sqrt + eps // torch divides, so do we
		p[i] -= stepSize * (mi / denom)
	}
}
