package curvature

import (
	"slices"
	"testing"
)

// TestPowerIteratorRandStateReplaysColdStarts: a second iterator given the
// first's stream state after one cold start draws the same second start
// (the same run, bit for bit), where a fresh iterator draws the first start
// again and runs differently.
func TestPowerIteratorRandStateReplaysColdStarts(t *testing.T) {
	op := diagonal{5, 4.9, 3, 1, 0.5, 0.1}
	opts := PowerOptions{MaxIter: 4, Tol: -1, Seed: 11} // a few steps: the result shows the start
	a := NewPowerIterator(len(op), opts)
	a.Run(op)
	a.Reset()
	saved := a.RandState()
	want := slices.Clone(a.Run(op).Vector)

	b := NewPowerIterator(len(op), opts)
	if err := b.SetRandState(saved); err != nil {
		t.Fatal(err)
	}
	if got := b.Run(op).Vector; !slices.Equal(got, want) {
		t.Fatalf("restored stream ran to %v, want %v", got, want)
	}
	if got := NewPowerIterator(len(op), opts).Run(op).Vector; slices.Equal(got, want) {
		t.Fatal("a fresh stream gave the second start: the test cannot tell streams apart")
	}
	if err := b.SetRandState([]byte("junk")); err == nil {
		t.Fatal("a corrupt state was accepted")
	}
}
