//go:build cgo && !purego && amd64

package model

/*
#cgo CFLAGS: -O3

#pragma GCC optimize("fp-contract=off")
#include <immintrin.h>

// outputHessianRowsGo in AVX-512: each row's Jacobian (classes×n) is read
// once, while in L1, for both its products. Lane l of a dot product's
// vector takes the columns ≡ l mod 16 in order (masked adds leave the
// tail's idle lanes as they are), and the lanes are added in order;
// products are rounded before they are added (no FMA): the Go loop's bits.

#define OJ_TARGET __attribute__((target("avx512f")))
#define OJ_TAIL(j, n) ((__mmask16)((j) + 16 <= (n) ? 0xffff : (1u << ((n) - (j))) - 1))

static int lot_oj_has_avx512(void) { return __builtin_cpu_supports("avx512f"); }

static OJ_TARGET void lot_output_hessian_rows(const float* jac, const float* r, const float* p, float* out, float* y,
		long rows, long c, long n, float invB) {
	float lanes[16];
	for (long b = 0; b < rows; b++) {
		const float *jb = jac + b * c * n, *rb = r + b * n, *pb = p + b * c;
		float* ob = out + b * n;
		float dot = 0;
		for (long k = 0; k < c; k++) {
			const float* jk = jb + k * n;
			__m512 acc = _mm512_setzero_ps();
			for (long j = 0; j < n; j += 16) {
				__mmask16 m = OJ_TAIL(j, n);
				__m512 prod = _mm512_mul_ps(_mm512_maskz_loadu_ps(m, jk + j), _mm512_maskz_loadu_ps(m, rb + j));
				acc = _mm512_mask_add_ps(acc, m, acc, prod);
			}
			_mm512_storeu_ps(lanes, acc);
			float s = 0;
			for (int l = 0; l < 16; l++)
				s += lanes[l];
			y[k] = s;
			float t = pb[k] * s;
			dot += t;
		}
		for (long k = 0; k < c; k++) {
			float t = pb[k] * (y[k] - dot);
			y[k] = t * invB;
		}
		for (long j = 0; j < n; j += 16) {
			__mmask16 m = OJ_TAIL(j, n);
			__m512 acc = _mm512_setzero_ps();
			for (long k = 0; k < c; k++)
				acc = _mm512_add_ps(acc, _mm512_mul_ps(_mm512_set1_ps(y[k]), _mm512_maskz_loadu_ps(m, jb + k * n + j)));
			_mm512_mask_storeu_ps(ob + j, m, acc);
		}
	}
}
*/
import "C"

// outputHessianC is whether Apply's pass runs in C: the CPU has AVX-512.
var outputHessianC = C.lot_oj_has_avx512() != 0

func outputHessianRows(jac, r, p, out, y []float32, rows, c, n int, invB float32) {
	if !outputHessianC || rows*c*n == 0 {
		outputHessianRowsGo(jac, r, p, out, y, rows, c, n, invB)
		return
	}
	_, _, _, _, _ = jac[rows*c*n-1], r[rows*n-1], p[rows*c-1], out[rows*n-1], y[c-1]
	C.lot_output_hessian_rows(cFloats(jac), cFloats(r), cFloats(p), cFloats(out), cFloats(y), C.long(rows), C.long(c), C.long(n), C.float(invB))
}
