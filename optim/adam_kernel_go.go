package optim

import "math"

// adamUpdateGo is Adam's elementwise update over one group in Go: the
// update itself where the C kernel is not built (adam_kernel_purego.go), and
// the reference the C kernels are tested against. It allocates nothing and
// makes one pass over the four arrays. Every product is converted to
// float32 explicitly: the Go compiler fuses x*y + z into one FMA on arm64
// (and other architectures) unless the product is converted, and a fused
// step rounds differently from the C kernels and from torch.
func adamUpdateGo(p, g, m, v []float32, beta1, c1, beta2, c2, wd, stepSize, bc2Sqrt, eps float32) {
	g = g[:len(p)]
	m = m[:len(p)]
	v = v[:len(p)]
	for i := range p {
		gi := g[i] + float32(wd*p[i])
		mi := float32(beta1*m[i]) + float32(c1*gi)
		vi := float32(beta2*v[i]) + float32(float32(c2*gi)*gi)
		m[i], v[i] = mi, vi
		// sqrt in float64 then rounded is sqrtf's correctly rounded result.
		denom := float32(math.Sqrt(float64(vi)))/bc2Sqrt + eps // torch divides, so do we
		p[i] -= float32(stepSize * (mi / denom))
	}
}
