//go:build !cgo || purego || !amd64

package optim

// adamUpdate is Adam's elementwise update over one group, the Go loop where
// the C kernel is not built (no cgo, -tags purego, or not x86-64). c1 and c2
// are 1−β1 and 1−β2, formed in float64 as torch does: in float32 1−0.999
// loses five digits.
func adamUpdate(p, g, m, v []float32, beta1, c1, beta2, c2, wd, stepSize, bc2Sqrt, eps float32) {
	adamUpdateGo(p, g, m, v, beta1, c1, beta2, c2, wd, stepSize, bc2Sqrt, eps)
}
