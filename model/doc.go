// Package model owns the multilayer perceptrons that lot trains: their
// parameters (laid out and named as in PyTorch, so a state_dict maps one to
// one), initialisation, the forward pass, softmax cross-entropy and the exact
// backward pass.
//
// All parameters live in one flat float32 slice. Each named tensor is a view
// into it, and each layer's tensors are contiguous, so an optimiser can treat
// a layer as one parameter group and a whole-network vector is just a slice.
//
// The matrix products go to linalg. The memory-bound passes around them
// (bias, activation, their backward, column sums) are Go loops
// (elementwise.go), run as AVX-512 C kernels with the same bits where the
// CPU has AVX-512 and cgo is on (elementwise_c.go).
package model
