//go:build cgo && !purego && amd64

package model

/*
#cgo CFLAGS: -O3
#include <immintrin.h>

// The passes of elementwise.go in AVX-512, 16 columns per vector and a
// masked tail, each lane doing the Go loop's operations: no arithmetic is
// reassociated, and column sums still add their rows in order.

static int lot_ew_has_avx512(void) { return __builtin_cpu_supports("avx512f"); }

#define TARGET __attribute__((target("avx512f")))
#define TAIL(j, n) ((__mmask16)((j) + 16 <= (n) ? 0xffff : (1u << ((n) - (j))) - 1))

static inline TARGET __m512 lot_xor(__m512 a, __m512 b) {
	return _mm512_castsi512_ps(_mm512_xor_si512(_mm512_castps_si512(a), _mm512_castps_si512(b)));
}
static inline TARGET __m512 lot_or(__m512 a, __m512 b) {
	return _mm512_castsi512_ps(_mm512_or_si512(_mm512_castps_si512(a), _mm512_castps_si512(b)));
}

// Go's max(x, 0), NaNs included, by the sequence Go compiles it to on
// x86-64: −min(−x, −0) formed as two MINs (which return their second
// operand on a NaN) joined by OR, so that max(−0, 0) is +0 and a NaN comes
// back with its sign cleared.
static inline TARGET __m512 lot_max0(__m512 x) {
	const __m512 s = _mm512_set1_ps(-0.0f);
	__m512 a = lot_xor(x, s);
	__m512 t = _mm512_min_ps(a, s);
	__m512 u = _mm512_min_ps(t, a);
	return lot_xor(lot_or(u, t), s);
}

// x where z > 0 (ordered: not for NaN), else +0.
static inline TARGET __m512 lot_where_pos(__m512 z, __m512 x) {
	return _mm512_maskz_mov_ps(_mm512_cmp_ps_mask(z, _mm512_setzero_ps(), _CMP_GT_OQ), x);
}

static TARGET void lot_relu_bias(float* z, const float* b, float* h, long rows, long n) {
	for (long r = 0; r < rows; r++) {
		float *zr = z + r * n, *hr = h + r * n;
		for (long j = 0; j < n; j += 16) {
			__mmask16 m = TAIL(j, n);
			__m512 v = _mm512_add_ps(_mm512_maskz_loadu_ps(m, b + j), _mm512_maskz_loadu_ps(m, zr + j));
			_mm512_mask_storeu_ps(zr + j, m, v);
			_mm512_mask_storeu_ps(hr + j, m, lot_max0(v));
		}
	}
}

static TARGET void lot_crelu_bias(float* z, const float* b, float* h, long rows, long n) {
	const __m512 s = _mm512_set1_ps(-0.0f);
	for (long r = 0; r < rows; r++) {
		float *zr = z + r * n, *pos = h + 2 * r * n, *neg = pos + n;
		for (long j = 0; j < n; j += 16) {
			__mmask16 m = TAIL(j, n);
			__m512 v = _mm512_add_ps(_mm512_maskz_loadu_ps(m, b + j), _mm512_maskz_loadu_ps(m, zr + j));
			_mm512_mask_storeu_ps(zr + j, m, v);
			_mm512_mask_storeu_ps(pos + j, m, lot_max0(v));
			_mm512_mask_storeu_ps(neg + j, m, lot_max0(lot_xor(v, s)));
		}
	}
}

static TARGET void lot_relu_back(const float* z, const float* dh, float* dz, long n) {
	for (long j = 0; j < n; j += 16) {
		__mmask16 m = TAIL(j, n);
		_mm512_mask_storeu_ps(dz + j, m, lot_where_pos(_mm512_maskz_loadu_ps(m, z + j), _mm512_maskz_loadu_ps(m, dh + j)));
	}
}

static TARGET void lot_relu_back_sum(const float* z, const float* dh, float* dz, float* sum, long rows, long n) {
	for (long j = 0; j < n; j += 16)
		_mm512_mask_storeu_ps(sum + j, TAIL(j, n), _mm512_setzero_ps());
	for (long r = 0; r < rows; r++) {
		const float *zr = z + r * n, *hr = dh + r * n;
		float* dr = dz + r * n;
		for (long j = 0; j < n; j += 16) {
			__mmask16 m = TAIL(j, n);
			__m512 v = lot_where_pos(_mm512_maskz_loadu_ps(m, zr + j), _mm512_maskz_loadu_ps(m, hr + j));
			_mm512_mask_storeu_ps(dr + j, m, v);
			_mm512_mask_storeu_ps(sum + j, m, _mm512_add_ps(_mm512_maskz_loadu_ps(m, sum + j), v));
		}
	}
}

static TARGET void lot_crelu_back(const float* z, const float* dh, float* dz, long rows, long n) {
	const __m512 s = _mm512_set1_ps(-0.0f);
	for (long r = 0; r < rows; r++) {
		const float *zr = z + r * n, *pos = dh + 2 * r * n, *neg = pos + n;
		float* dr = dz + r * n;
		for (long j = 0; j < n; j += 16) {
			__mmask16 m = TAIL(j, n);
			__m512 v = _mm512_maskz_loadu_ps(m, zr + j);
			__m512 p = lot_where_pos(v, _mm512_maskz_loadu_ps(m, pos + j));
			__m512 q = lot_where_pos(lot_xor(v, s), lot_xor(_mm512_maskz_loadu_ps(m, neg + j), s));
			_mm512_mask_storeu_ps(dr + j, m, lot_or(p, q));
		}
	}
}

static TARGET void lot_add_bias(float* z, const float* b, long rows, long n) {
	for (long r = 0; r < rows; r++) {
		float* zr = z + r * n;
		for (long j = 0; j < n; j += 16) {
			__mmask16 m = TAIL(j, n);
			_mm512_mask_storeu_ps(zr + j, m, _mm512_add_ps(_mm512_maskz_loadu_ps(m, b + j), _mm512_maskz_loadu_ps(m, zr + j)));
		}
	}
}

static TARGET void lot_column_sums(const float* d, float* out, long rows, long n) {
	for (long j = 0; j < n; j += 16)
		_mm512_mask_storeu_ps(out + j, TAIL(j, n), _mm512_setzero_ps());
	for (long r = 0; r < rows; r++) {
		const float* dr = d + r * n;
		for (long j = 0; j < n; j += 16) {
			__mmask16 m = TAIL(j, n);
			_mm512_mask_storeu_ps(out + j, m, _mm512_add_ps(_mm512_maskz_loadu_ps(m, out + j), _mm512_maskz_loadu_ps(m, dr + j)));
		}
	}
}
*/
import "C"

import "unsafe"

// elementwiseC is whether the passes run in C: the CPU has AVX-512.
// Elsewhere they run as the Go loops, which give the same bits.
var elementwiseC = C.lot_ew_has_avx512() != 0

// cFloats passes a slice to C as a pointer to its first element.
func cFloats(x []float32) *C.float { return (*C.float)(unsafe.Pointer(&x[0])) }

func reluBias(z, b, h []float32, rows, n int) {
	if !elementwiseC || rows*n == 0 {
		reluBiasGo(z, b, h, rows, n)
		return
	}
	_, _, _ = z[rows*n-1], b[n-1], h[rows*n-1]
	C.lot_relu_bias(cFloats(z), cFloats(b), cFloats(h), C.long(rows), C.long(n))
}

func creluBias(z, b, h []float32, rows, n int) {
	if !elementwiseC || rows*n == 0 {
		creluBiasGo(z, b, h, rows, n)
		return
	}
	_, _, _ = z[rows*n-1], b[n-1], h[2*rows*n-1]
	C.lot_crelu_bias(cFloats(z), cFloats(b), cFloats(h), C.long(rows), C.long(n))
}

func reluBack(z, dh, dz []float32) {
	if !elementwiseC || len(z) == 0 {
		reluBackGo(z, dh, dz)
		return
	}
	_, _ = dh[len(z)-1], dz[len(z)-1]
	C.lot_relu_back(cFloats(z), cFloats(dh), cFloats(dz), C.long(len(z)))
}

func reluBackSum(z, dh, dz, colSum []float32, rows, n int) {
	if !elementwiseC || rows*n == 0 {
		reluBackSumGo(z, dh, dz, colSum, rows, n)
		return
	}
	_, _, _, _ = z[rows*n-1], dh[rows*n-1], dz[rows*n-1], colSum[n-1]
	C.lot_relu_back_sum(cFloats(z), cFloats(dh), cFloats(dz), cFloats(colSum), C.long(rows), C.long(n))
}

func creluBack(z, dh, dz []float32, rows, n int) {
	if !elementwiseC || rows*n == 0 {
		creluBackGo(z, dh, dz, rows, n)
		return
	}
	_, _, _ = z[rows*n-1], dh[2*rows*n-1], dz[rows*n-1]
	C.lot_crelu_back(cFloats(z), cFloats(dh), cFloats(dz), C.long(rows), C.long(n))
}

func addBias(z, b []float32, rows int) {
	n := len(b)
	if !elementwiseC || rows*n == 0 {
		addBiasGo(z, b, rows)
		return
	}
	_ = z[rows*n-1]
	C.lot_add_bias(cFloats(z), cFloats(b), C.long(rows), C.long(n))
}

func columnSums(d, out []float32, rows int) {
	n := len(out)
	if !elementwiseC || rows*n == 0 {
		columnSumsGo(d, out, rows)
		return
	}
	_ = d[rows*n-1]
	C.lot_column_sums(cFloats(d), cFloats(out), C.long(rows), C.long(n))
}
