// Package data owns lot's inputs: reading the MNIST IDX files and turning
// them into the continual-learning task streams that experiments train on.
//
// The IDX reader is lot's own (GoMNIST supplies only the data files, found in
// the Go module cache by DefaultDir). It validates every header field and the
// exact payload length, so a truncated download or a wrong file gives one
// clear error instead of a panic or silently short data.
//
// A Stream hands out tasks by index. Every stream first draws a fixed random
// subset of the training images for its seed (or takes all of them) and
// normalises it with one scalar mean and unbiased standard deviation over
// all pixels, either the subset's own (the paper) or those of the whole
// training set (the authors' code); the stream kind then
// decides how tasks differ: "random-label" re-draws a fraction of the labels
// at the start of each task, "permuted" applies a fresh pixel permutation.
// All randomness comes from package rng, so Task(k) is the same whichever
// tasks were asked for before it.
package data
