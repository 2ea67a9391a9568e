//go:build cgo && !purego && amd64

package optim

import (
	"strconv"
	"testing"
)

// TestAdamKernelsSameBits: every C kernel the CPU has (AVX-512, AVX, scalar,
// and the automatic choice) gives bit for bit the Go loop's result, so runs
// agree across x86-64 CPUs and with the pure-Go build. Lengths cover whole
// vectors and odd tails; five steps let any difference compound.
func TestAdamKernelsSameBits(t *testing.T) {
	kernels := map[string]adamKernel{"auto": kernelAuto, "scalar": kernelScalar, "avx": kernelAVX, "avx512": kernelAVX512}
	for name, k := range kernels {
		if !k.cpuHas() {
			t.Logf("this CPU lacks %s: not tested", name)
			continue
		}
		for _, n := range []int{1, 15, 64, 65, 79, 1000, 1023} {
			for _, wd := range []float32{0, 1e-2} {
				c := newAdamCase(n, wd, uint64(n))
				want := c.clone()
				for range 5 {
					adamUpdateOn(k, c.p, c.g, c.m, c.v, c.beta1, c.c1, c.beta2, c.c2, c.wd, c.step, c.bc2Sqrt, c.eps)
					adamUpdateGo(want.p, want.g, want.m, want.v, c.beta1, c.c1, c.beta2, c.c2, c.wd, c.step, c.bc2Sqrt, c.eps)
				}
				what := name + " kernel, n " + strconv.Itoa(n)
				sameBits(t, what+": p", c.p, want.p)
				sameBits(t, what+": m", c.m, want.m)
				sameBits(t, what+": v", c.v, want.v)
			}
		}
	}
}
