// Package rng owns lot's random streams. Every random draw in a run comes
// from a stream named by (seed, purpose, indices), so any part of a run (the
// labels of task 7, the shuffle of epoch 3 of task 2) can be recreated on its
// own. That is what makes resumed runs equal uninterrupted ones without
// saving generator internals.
package rng

import (
	"hash/fnv"
	"math/rand/v2"
)

// New returns a generator for the stream (seed, purpose, idx...). Distinct
// purposes or indices give independent streams.
func New(seed uint64, purpose string, idx ...int) *rand.Rand {
	h := fnv.New64a()
	h.Write([]byte(purpose))
	var b [8]byte
	for _, i := range idx {
		u := uint64(i)
		for j := range b {
			b[j] = byte(u >> (8 * j))
		}
		h.Write(b[:])
	}
	return rand.New(rand.NewPCG(splitmix(seed), splitmix(h.Sum64()^seed)))
}

// splitmix is SplitMix64's finaliser: it spreads nearby seeds far apart.
func splitmix(x uint64) uint64 {
	x += 0x9e3779b97f4a7c15
	x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9
	x = (x ^ (x >> 27)) * 0x94d049bb133111eb
	return x ^ (x >> 31)
}
