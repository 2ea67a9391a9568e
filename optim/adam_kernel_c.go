//go:build cgo && !purego && amd64

package optim

/*
#cgo CFLAGS: -O3
#cgo LDFLAGS: -lm

// No contraction of a·b + c into a fused multiply-add: the AVX-512 target
// implies FMA, and gcc's default (-ffp-contract=fast) then fuses, so
// AVX-512 CPUs, AVX CPUs and the Go loop would give different bits. cgo
// refuses -ffp-contract=off in CFLAGS, hence the pragma (clang honours only
// the standard one).
#if defined(__clang__)
#pragma STDC FP_CONTRACT OFF
#else
#pragma GCC optimize("fp-contract=off")
#endif
#include <immintrin.h>
#include <math.h>

// Adam's update in C, vectorised by hand: with errno-setting sqrtf (cgo
// refuses -fno-math-errno) gcc will not vectorise the plain loop. Every
// lane does the same IEEE operations in the same order as the scalar loop.
#define ADAM_ARGS float* restrict p, const float* restrict g, float* restrict m, float* restrict v, long n, \
	float beta1, float c1, float beta2, float c2, float wd, float step, float bc2, float eps

static void adam_scalar(ADAM_ARGS) {
	for (long i = 0; i < n; i++) {
		float gi = g[i] + wd * p[i];
		float mi = beta1 * m[i] + c1 * gi;
		float vi = beta2 * v[i] + c2 * gi * gi;
		m[i] = mi;
		v[i] = vi;
		p[i] -= step * (mi / (sqrtf(vi) / bc2 + eps));
	}
}

#define ADAM_SIMD(W, T, P) \
	long i = 0; \
	T B1 = P##_set1_ps(beta1), C1 = P##_set1_ps(c1), B2 = P##_set1_ps(beta2), C2 = P##_set1_ps(c2); \
	T WD = P##_set1_ps(wd), S = P##_set1_ps(step), BC = P##_set1_ps(bc2), E = P##_set1_ps(eps); \
	for (; i + W <= n; i += W) { \
		T pi = P##_loadu_ps(p + i); \
		T gi = P##_add_ps(P##_loadu_ps(g + i), P##_mul_ps(WD, pi)); \
		T mi = P##_add_ps(P##_mul_ps(B1, P##_loadu_ps(m + i)), P##_mul_ps(C1, gi)); \
		T vi = P##_add_ps(P##_mul_ps(B2, P##_loadu_ps(v + i)), P##_mul_ps(P##_mul_ps(C2, gi), gi)); \
		P##_storeu_ps(m + i, mi); \
		P##_storeu_ps(v + i, vi); \
		T den = P##_add_ps(P##_div_ps(P##_sqrt_ps(vi), BC), E); \
		P##_storeu_ps(p + i, P##_sub_ps(pi, P##_mul_ps(S, P##_div_ps(mi, den)))); \
	} \
	adam_scalar(p + i, g + i, m + i, v + i, n - i, beta1, c1, beta2, c2, wd, step, bc2, eps);

__attribute__((target("avx512f"))) static void adam_avx512(ADAM_ARGS) { ADAM_SIMD(16, __m512, _mm512) }
__attribute__((target("avx"))) static void adam_avx(ADAM_ARGS) { ADAM_SIMD(8, __m256, _mm256) }

// Kernel choices; lot_adam_has says which the CPU runs. Every one gives the
// same bits: the lanes do the scalar loop's operations in its order, each
// rounded (no FMA, see the pragma above).
enum { LOT_ADAM_AUTO, LOT_ADAM_SCALAR, LOT_ADAM_AVX, LOT_ADAM_AVX512 };

static int lot_adam_has(int kernel) {
	switch (kernel) {
	case LOT_ADAM_AVX512: return __builtin_cpu_supports("avx512f");
	case LOT_ADAM_AVX: return __builtin_cpu_supports("avx");
	default: return 1;
	}
}

static void lot_adam_dispatch(int kernel, ADAM_ARGS) {
	if (kernel == LOT_ADAM_AUTO)
		kernel = lot_adam_has(LOT_ADAM_AVX512) ? LOT_ADAM_AVX512 : lot_adam_has(LOT_ADAM_AVX) ? LOT_ADAM_AVX : LOT_ADAM_SCALAR;
	switch (kernel) {
	case LOT_ADAM_AVX512: adam_avx512(p, g, m, v, n, beta1, c1, beta2, c2, wd, step, bc2, eps); break;
	case LOT_ADAM_AVX: adam_avx(p, g, m, v, n, beta1, c1, beta2, c2, wd, step, bc2, eps); break;
	default: adam_scalar(p, g, m, v, n, beta1, c1, beta2, c2, wd, step, bc2, eps);
	}
}

// The update runs with flush-to-zero and denormals-are-zero, restoring the
// caller's MXCSR after: parameters and moments that decay below 1.2e-38 (dead
// units under weight decay) become 0 rather than subnormal, which would make
// every later product with them many times slower. Only values below the
// float32 normal range differ from torch (and from the Go loop).
static void lot_adam(int kernel, ADAM_ARGS) {
	unsigned int csr = _mm_getcsr();
	_mm_setcsr(csr | 0x8040);
	lot_adam_dispatch(kernel, p, g, m, v, n, beta1, c1, beta2, c2, wd, step, bc2, eps);
	_mm_setcsr(csr);
}
*/
import "C"

import "unsafe"

// adamKernel picks one of the C kernels; kernelAuto is the fastest the CPU
// has. The others exist so that tests can check that all give the same bits.
type adamKernel C.int

const (
	kernelAuto   adamKernel = C.LOT_ADAM_AUTO
	kernelScalar adamKernel = C.LOT_ADAM_SCALAR
	kernelAVX    adamKernel = C.LOT_ADAM_AVX
	kernelAVX512 adamKernel = C.LOT_ADAM_AVX512
)

// cpuHas reports whether the CPU runs kernel k.
func (k adamKernel) cpuHas() bool { return C.lot_adam_has(C.int(k)) != 0 }

// adamUpdate is Adam's elementwise update over one group, in C so that it
// vectorises (adamUpdateGo is the same loop in Go, and gives the same bits
// for values in float32's normal range). c1 and c2 are 1−β1 and 1−β2,
// formed in float64 as torch does: in float32 1−0.999 loses five digits.
func adamUpdate(p, g, m, v []float32, beta1, c1, beta2, c2, wd, stepSize, bc2Sqrt, eps float32) {
	adamUpdateOn(kernelAuto, p, g, m, v, beta1, c1, beta2, c2, wd, stepSize, bc2Sqrt, eps)
}

// adamUpdateOn is adamUpdate on the given kernel, which the CPU must have.
func adamUpdateOn(k adamKernel, p, g, m, v []float32, beta1, c1, beta2, c2, wd, stepSize, bc2Sqrt, eps float32) {
	if len(p) == 0 {
		return
	}
	_, _, _ = g[len(p)-1], m[len(p)-1], v[len(p)-1]
	C.lot_adam(C.int(k), (*C.float)(unsafe.Pointer(&p[0])), (*C.float)(unsafe.Pointer(&g[0])),
		(*C.float)(unsafe.Pointer(&m[0])), (*C.float)(unsafe.Pointer(&v[0])), C.long(len(p)),
		C.float(beta1), C.float(c1), C.float(beta2), C.float(c2), C.float(wd),
		C.float(stepSize), C.float(bc2Sqrt), C.float(eps))
}
