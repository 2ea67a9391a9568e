package rng

import "testing"

func TestStreamsAreReproducibleAndDistinct(t *testing.T) {
	a, b := New(1, "labels", 3), New(1, "labels", 3)
	for i := 0; i < 10; i++ {
		if a.Uint64() != b.Uint64() {
			t.Fatal("same stream gave different draws")
		}
	}
	x := New(1, "labels", 3).Uint64()
	for _, other := range []uint64{New(2, "labels", 3).Uint64(), New(1, "labels", 4).Uint64(), New(1, "shuffle", 3).Uint64()} {
		if other == x {
			t.Fatal("distinct streams collided on their first draw")
		}
	}
}
