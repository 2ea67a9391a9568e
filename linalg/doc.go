// Package linalg owns the dense float32 kernels that every numerical package
// in lot calls: row-major matrix products and the thread count they use.
//
// By default the products go to OpenBLAS through cgo. Building with the tag
// "purego" (or with CGO_ENABLED=0) switches to gonum's pure-Go BLAS, for
// machines without libopenblas. Both back ends give results that agree to
// float32 rounding; only the OpenBLAS one is fast.
package linalg
