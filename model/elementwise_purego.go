//go:build !cgo || purego || !amd64

package model

// The Go loops of elementwise.go, where the C kernels are not built (no
// cgo, -tags purego, or not x86-64).

func reluBias(z, b, h []float32, rows, n int)              { reluBiasGo(z, b, h, rows, n) }
func creluBias(z, b, h []float32, rows, n int)             { creluBiasGo(z, b, h, rows, n) }
func reluBack(z, dh, dz []float32)                         { reluBackGo(z, dh, dz) }
func reluBackSum(z, dh, dz, colSum []float32, rows, n int) { reluBackSumGo(z, dh, dz, colSum, rows, n) }
func creluBack(z, dh, dz []float32, rows, n int)           { creluBackGo(z, dh, dz, rows, n) }
func addBias(z, b []float32, rows int)                     { addBiasGo(z, b, rows) }
func columnSums(d, out []float32, rows int)                { columnSumsGo(d, out, rows) }

func outputHessianRows(jac, r, p, out, y []float32, rows, c, n int, invB float32) {
	outputHessianRowsGo(jac, r, p, out, y, rows, c, n, invB)
}
