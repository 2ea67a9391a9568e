//go:build !cgo || purego

package linalg

const backend = "gonum"

func gemm(transA, transB bool, m, n, k int, alpha float32, a []float32, lda int, b []float32, ldb int, beta float32, c []float32, ldc int) {
	gonumGemm(transA, transB, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc)
}

// setThreads is a no-op: gonum's Sgemm parallelises on its own, in a fixed
// block order, so its results do not depend on the thread count.
func setThreads(int) {}

// Kernel names the kernel in use.
func Kernel() string { return "gonum (pure Go)" }

func dot(a, b []float32) float32 { return gonumDot(a, b) }

func gram64(a []float64, w, n int, out []float64) { gonumGram64(a, w, n, out) }

func loadError() error { return nil }
