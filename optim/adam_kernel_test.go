package optim

import (
	"math"
	"math/rand/v2"
	"testing"
)

// adamCase is random Adam state and scalars for kernel comparisons.
type adamCase struct {
	p, g, m, v                                   []float32
	beta1, c1, beta2, c2, wd, step, bc2Sqrt, eps float32
}

func newAdamCase(n int, wd float32, seed uint64) adamCase {
	rng := rand.New(rand.NewPCG(seed, 1))
	c := adamCase{p: make([]float32, n), g: make([]float32, n), m: make([]float32, n), v: make([]float32, n),
		beta1: 0.9, c1: float32(1 - 0.9), beta2: 0.999, c2: float32(1 - 0.999), wd: wd,
		step: float32(1e-3 / (1 - math.Pow(0.9, 7))), bc2Sqrt: float32(math.Sqrt(1 - math.Pow(0.999, 7))), eps: 1e-8}
	for i := range n {
		c.p[i] = float32(rng.NormFloat64() * 0.1)
		c.g[i] = float32(rng.NormFloat64() * 0.01)
		c.m[i] = float32(rng.NormFloat64() * 0.003)
		c.v[i] = float32(rng.ExpFloat64() * 1e-4)
	}
	return c
}

func (c adamCase) clone() adamCase {
	d := c
	d.p, d.g, d.m, d.v = append([]float32(nil), c.p...), append([]float32(nil), c.g...),
		append([]float32(nil), c.m...), append([]float32(nil), c.v...)
	return d
}

// adamReference is the update with every operation done in float64 and
// rounded to float32 at once: exactly one IEEE float32 operation each, since
// float64 carries more than 2·24+2 bits (so the double rounding is exact
// for +, −, ·, / and √), and no operation fused with another.
func adamReference(c adamCase) {
	r := func(x float64) float64 { return float64(float32(x)) }
	b1, c1, b2, c2, wd := float64(c.beta1), float64(c.c1), float64(c.beta2), float64(c.c2), float64(c.wd)
	for i := range c.p {
		p, g, m, v := float64(c.p[i]), float64(c.g[i]), float64(c.m[i]), float64(c.v[i])
		gi := r(g + r(wd*p))
		mi := r(r(b1*m) + r(c1*gi))
		vi := r(r(b2*v) + r(r(c2*gi)*gi))
		den := r(r(r(math.Sqrt(vi))/float64(c.bc2Sqrt)) + float64(c.eps))
		c.p[i], c.m[i], c.v[i] = float32(r(p-r(float64(c.step)*r(mi/den)))), float32(mi), float32(vi)
	}
}

func sameBits(t *testing.T, what string, got, want []float32) {
	t.Helper()
	for i := range want {
		if math.Float32bits(got[i]) != math.Float32bits(want[i]) {
			t.Fatalf("%s[%d] = %g (%#x), want %g (%#x)", what, i, got[i], math.Float32bits(got[i]), want[i], math.Float32bits(want[i]))
		}
	}
}

// TestAdamGoLoopIsUnfusedFloat32: the Go loop does each operation as one
// rounded float32 operation, as torch's elementwise ops do, on any
// architecture (a fused multiply-add would differ in the last bit of many
// entries).
func TestAdamGoLoopIsUnfusedFloat32(t *testing.T) {
	for _, wd := range []float32{0, 1e-2} {
		c := newAdamCase(1023, wd, 3)
		want := c.clone()
		for range 5 {
			adamUpdateGo(c.p, c.g, c.m, c.v, c.beta1, c.c1, c.beta2, c.c2, c.wd, c.step, c.bc2Sqrt, c.eps)
			adamReference(want)
		}
		sameBits(t, "p", c.p, want.p)
		sameBits(t, "m", c.m, want.m)
		sameBits(t, "v", c.v, want.v)
	}
}
