package curvature

import (
	"math"
	"math/rand/v2"

	"gonum.org/v1/gonum/floats"
)

// pcgStream is the fixed PCG stream selector; the caller's seed picks the state.
const pcgStream = 0x9e3779b97f4a7c15

func newRand(seed uint64) *rand.Rand {
	return rand.New(rand.NewPCG(seed, pcgStream))
}

// fillNormal fills v with independent standard normal draws.
func fillNormal(rng *rand.Rand, v []float64) {
	for i := range v {
		v[i] = rng.NormFloat64()
	}
}

// fillRademacher fills v with independent ±1 draws, 64 signs per draw.
func fillRademacher(rng *rand.Rand, v []float64) {
	for i := 0; i < len(v); i += 64 {
		bits := rng.Uint64()
		for j := i; j < len(v) && j < i+64; j++ {
			v[j] = float64(int64(bits&1)<<1 - 1)
			bits >>= 1
		}
	}
}

// norm2 returns the Euclidean norm of v.
func norm2(v []float64) float64 {
	return math.Sqrt(floats.Dot(v, v))
}

// normalize scales v to unit norm and returns its former norm; a zero v is
// left as it is.
func normalize(v []float64) float64 {
	nrm := norm2(v)
	if nrm > 0 {
		floats.Scale(1/nrm, v)
	}
	return nrm
}
