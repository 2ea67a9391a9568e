// Package model owns the multilayer perceptrons that lot trains: their
// parameters (laid out and named as in PyTorch, so a state_dict maps one to
// one), initialisation, the forward pass, softmax cross-entropy and the exact
// backward pass.
//
// All parameters live in one flat float32 slice. Each named tensor is a view
// into it, and each layer's tensors are contiguous, so an optimiser can treat
// a layer as one parameter group and a whole-network vector is just a slice.
package model
