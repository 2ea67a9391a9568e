package linalg

import (
	"math"
	"math/rand/v2"
	"testing"
)

// naive computes op(A)·op(B) in float64, the independent reference.
func naive(transA, transB bool, m, n, k int, a []float32, lda int, b []float32, ldb int) []float64 {
	c := make([]float64, m*n)
	for i := 0; i < m; i++ {
		for j := 0; j < n; j++ {
			var s float64
			for p := 0; p < k; p++ {
				var x, y float32
				if transA {
					x = a[p*lda+i]
				} else {
					x = a[i*lda+p]
				}
				if transB {
					y = b[j*ldb+p]
				} else {
					y = b[p*ldb+j]
				}
				s += float64(x) * float64(y)
			}
			c[i*n+j] = s
		}
	}
	return c
}

func TestGemmAgainstNaive(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	for _, tc := range []struct{ ta, tb bool }{{false, false}, {false, true}, {true, false}, {true, true}} {
		m, n, k := 7, 5, 9
		a := make([]float32, m*k)
		b := make([]float32, k*n)
		for i := range a {
			a[i] = float32(rng.NormFloat64())
		}
		for i := range b {
			b[i] = float32(rng.NormFloat64())
		}
		lda, ldb := k, n
		if tc.ta {
			lda = m
		}
		if tc.tb {
			ldb = k
		}
		c := make([]float32, m*n)
		for i := range c {
			c[i] = 1
		}
		Gemm(tc.ta, tc.tb, m, n, k, 2, a, lda, b, ldb, 0.5, c, n)
		want := naive(tc.ta, tc.tb, m, n, k, a, lda, b, ldb)
		for i := range c {
			w := 2*want[i] + 0.5
			if math.Abs(float64(c[i])-w) > 1e-4*(1+math.Abs(w)) {
				t.Fatalf("trans=%v,%v: c[%d]=%v want %v", tc.ta, tc.tb, i, c[i], w)
			}
		}
	}
}

func TestSumSquaresAndDot(t *testing.T) {
	rng := rand.New(rand.NewPCG(4, 4))
	v := make([]float32, 10001)
	var want float64
	for i := range v {
		v[i] = float32(rng.NormFloat64())
		want += float64(v[i]) * float64(v[i])
	}
	if got := SumSquares(v); math.Abs(got-want) > 1e-6*want {
		t.Fatalf("SumSquares = %v, float64 sum %v", got, want)
	}
	if got := Dot(v[:7], v[3:10]); math.Abs(float64(got)-naive(false, false, 1, 1, 7, v[:7], 7, v[3:10], 1)[0]) > 1e-5 {
		t.Fatalf("Dot = %v", got)
	}
}
