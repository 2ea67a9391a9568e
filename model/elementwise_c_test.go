//go:build cgo && !purego && amd64

package model

import (
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
	"testing"
)

// specialFloats draws values that stress each pass's selections: signed
// zeros, NaNs of both signs and several payloads (quiet and signalling),
// infinities, subnormals and ordinary values of either sign.
func specialFloats(rng *rand.Rand, n int) []float32 {
	special := []uint32{0, 0x80000000, 0x7fc00000, 0xffc00000, 0x7fc00123, 0xff800001, 0x7f800001,
		0x7f800000, 0xff800000, 1, 0x80000001, 0x007fffff, 0x3f800000, 0xbf800000}
	x := make([]float32, n)
	for i := range x {
		if rng.IntN(3) == 0 {
			x[i] = math.Float32frombits(special[rng.IntN(len(special))])
		} else {
			x[i] = float32(rng.NormFloat64())
		}
	}
	return x
}

// sameBitsModel fails unless got and want agree bit for bit.
func sameBitsModel(t *testing.T, what string, got, want []float32) {
	t.Helper()
	sameUpToNaNPayload(t, what, got, want, false)
}

// sameUpToNaNPayload is sameBitsModel, except that with nanPayload two NaNs
// agree: which payload a sum of two NaNs carries depends on operand order,
// which the Go compiler may commute (the Go loop's own payloads are fixed
// only per build). A NaN against a number, or a sign of zero, still fails.
func sameUpToNaNPayload(t *testing.T, what string, got, want []float32, nanPayload bool) {
	t.Helper()
	for i := range want {
		bothNaN := nanPayload && got[i] != got[i] && want[i] != want[i]
		if math.Float32bits(got[i]) != math.Float32bits(want[i]) && !bothNaN {
			t.Fatalf("%s: element %d: %#x, Go loop %#x", what, i, math.Float32bits(got[i]), math.Float32bits(want[i]))
		}
	}
}

// TestElementwiseKernelsSameBits: each AVX-512 pass gives bit for bit the
// Go loop's result (elementwise.go) on values full of NaNs, signed zeros,
// infinities and subnormals, for widths with and without a masked tail, so
// that runs agree with the pure-Go build and across CPUs.
func TestElementwiseKernelsSameBits(t *testing.T) {
	if !elementwiseC {
		t.Skip("this CPU lacks AVX-512: the Go loops run")
	}
	rng := rand.New(rand.NewPCG(12, 12))
	for _, rows := range []int{1, 3, 8} {
		for _, n := range []int{1, 10, 15, 16, 17, 40, 256} {
			for _, zeroBias := range []bool{true, false} {
				what := func(pass string) string { return fmt.Sprintf("%s, %d×%d, zero bias %v", pass, rows, n, zeroBias) }
				z, b := specialFloats(rng, rows*n), specialFloats(rng, n)
				if zeroBias {
					clear(b) // no sum of two NaNs: every bit is fixed, a NaN's sign after max included
				}
				// Sums of two NaNs may carry either payload.
				sameBitsSum := func(what string, got, want []float32) { sameUpToNaNPayload(t, what, got, want, !zeroBias) }
				dh, dh2 := specialFloats(rng, rows*n), specialFloats(rng, 2*rows*n)
				// Outputs start as garbage: every element must be written.
				garbage := func(k int) []float32 { return specialFloats(rng, k) }

				zc, zg := slices.Clone(z), slices.Clone(z)
				hc, hg := garbage(rows*n), garbage(rows*n)
				reluBias(zc, b, hc, rows, n)
				reluBiasGo(zg, b, hg, rows, n)
				sameBitsSum(what("reluBias z"), zc, zg)
				sameBitsSum(what("reluBias h"), hc, hg)

				zc, zg = slices.Clone(z), slices.Clone(z)
				hc, hg = garbage(2*rows*n), garbage(2*rows*n)
				creluBias(zc, b, hc, rows, n)
				creluBiasGo(zg, b, hg, rows, n)
				sameBitsSum(what("creluBias z"), zc, zg)
				sameBitsSum(what("creluBias h"), hc, hg)

				dc, dg := garbage(rows*n), garbage(rows*n)
				reluBack(z, dh, dc)
				reluBackGo(z, dh, dg)
				sameBitsModel(t, what("reluBack"), dc, dg)

				dc, dg = garbage(rows*n), garbage(rows*n)
				sc, sg := garbage(n), garbage(n)
				reluBackSum(z, dh, dc, sc, rows, n)
				reluBackSumGo(z, dh, dg, sg, rows, n)
				sameBitsModel(t, what("reluBackSum dz"), dc, dg)
				sameUpToNaNPayload(t, what("reluBackSum sums"), sc, sg, true)

				dc, dg = garbage(rows*n), garbage(rows*n)
				creluBack(z, dh2, dc, rows, n)
				creluBackGo(z, dh2, dg, rows, n)
				sameBitsModel(t, what("creluBack"), dc, dg)

				zc, zg = slices.Clone(z), slices.Clone(z)
				addBias(zc, b, rows)
				addBiasGo(zg, b, rows)
				sameBitsSum(what("addBias"), zc, zg)

				sc, sg = garbage(n), garbage(n)
				columnSums(dh, sc, rows)
				columnSumsGo(dh, sg, rows)
				sameUpToNaNPayload(t, what("columnSums"), sc, sg, true)
			}
		}
	}
}

// TestOutputHessianKernelSameBits: the AVX-512 row pass of OutputJacobian
// gives the Go loop's bits on ordinary values mixed with signed zeros and
// subnormals (no NaNs or infinities: sums of two NaNs may carry either
// payload), for widths with and without a masked tail and class counts
// below, at and above one vector.
func TestOutputHessianKernelSameBits(t *testing.T) {
	if !outputHessianC {
		t.Skip("this CPU lacks AVX-512: the Go loop runs")
	}
	rng := rand.New(rand.NewPCG(13, 13))
	finite := func(k int) []float32 {
		x := specialFloats(rng, k)
		for i, v := range x {
			if math.IsNaN(float64(v)) || math.IsInf(float64(v), 0) {
				x[i] = float32(rng.NormFloat64())
			}
		}
		return x
	}
	for _, rows := range []int{1, 5} {
		for _, n := range []int{1, 15, 16, 17, 40, 256} {
			for _, c := range []int{1, 3, 10, 17} {
				jac, r, p := finite(rows*c*n), finite(rows*n), finite(rows*c)
				outC, outGo := specialFloats(rng, rows*n), specialFloats(rng, rows*n)
				yC, yGo := make([]float32, c), make([]float32, c)
				outputHessianRows(jac, r, p, outC, yC, rows, c, n, 1/float32(rows))
				outputHessianRowsGo(jac, r, p, outGo, yGo, rows, c, n, 1/float32(rows))
				sameBitsModel(t, fmt.Sprintf("%d rows × %d, %d classes", rows, n, c), outC, outGo)
			}
		}
	}
}
