package linalg

import "testing"

// The standard step's two large products: the first layer's forward
// (256×784 by 784×256) and its weight gradient (256×256 by 256×784).
func BenchmarkForwardLayer1(b *testing.B) {
	x, w, z := make([]float32, 256*784), make([]float32, 256*784), make([]float32, 256*256)
	for i := range x {
		x[i], w[i] = float32(i%7)*0.1, float32(i%5)*0.1
	}
	b.SetBytes(0)
	for b.Loop() {
		Gemm(false, true, 256, 256, 784, 1, x, 784, w, 784, 0, z, 256)
	}
	b.ReportMetric(2*256*256*784/float64(b.Elapsed().Nanoseconds())*float64(b.N), "GFLOP/s")
}

func BenchmarkWeightGradLayer1(b *testing.B) {
	d, x, g := make([]float32, 256*256), make([]float32, 256*784), make([]float32, 256*784)
	for i := range x {
		x[i] = float32(i%7) * 0.1
	}
	for b.Loop() {
		Gemm(true, false, 256, 784, 256, 1, d, 256, x, 784, 0, g, 784)
	}
	b.ReportMetric(2*256*256*784/float64(b.Elapsed().Nanoseconds())*float64(b.N), "GFLOP/s")
}
