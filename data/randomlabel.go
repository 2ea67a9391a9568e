package data

import (
	"math"
	"sync"

	"github.com/lot-toolkit/lot/rng"
)

// randomLabelStream keeps the subset's images fixed and, at the start of
// every task k (task 0 included), re-draws the labels of round(Relabel·n)
// images chosen without replacement, each uniformly over the classes (so a
// label may stay the same). Labels carry over, so task k depends on all
// earlier tasks; the stream caches the latest labels and replays from the
// true labels when asked for an earlier task.
type randomLabelStream struct {
	*subset
	seed   uint64
	redraw int // labels re-drawn per task

	mu      sync.Mutex // guards the cache below
	cur     int        // task whose labels are in labels; -1 = true labels
	labels  []int32
	scratch []int // index pool for choosing the re-drawn labels
}

func newRandomLabelStream(s *subset, cfg Config) Stream {
	return &randomLabelStream{
		subset:  s,
		seed:    cfg.Seed,
		redraw:  int(math.Round(cfg.Relabel * float64(s.n))),
		cur:     -1,
		labels:  append([]int32(nil), s.labels...),
		scratch: make([]int, s.n),
	}
}

func (s *randomLabelStream) Name() string { return "random-label" }

// Task returns task k. X is the subset itself, shared by every task.
func (s *randomLabelStream) Task(k int) (*Task, error) {
	if err := checkTaskIndex(k); err != nil {
		return nil, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.cur > k {
		copy(s.labels, s.subset.labels)
		s.cur = -1
	}
	for s.cur < k {
		s.cur++
		s.relabel(s.cur)
	}
	return &Task{
		Index: k, N: s.n, D: s.d,
		X: s.x,
		Y: append([]int32(nil), s.labels...), // the cache changes; the task must not
	}, nil
}

// relabel applies task k's re-draw to s.labels and returns the re-drawn
// positions (valid until the next call).
func (s *randomLabelStream) relabel(k int) []int {
	r := rng.New(s.seed, "relabel", k)
	// A partial Fisher–Yates shuffle from the identity, so the choice depends
	// only on (seed, k).
	pool := s.scratch
	for i := range pool {
		pool[i] = i
	}
	for i := range s.redraw {
		j := i + r.IntN(len(pool)-i)
		pool[i], pool[j] = pool[j], pool[i]
		s.labels[pool[i]] = int32(r.IntN(numClasses))
	}
	return pool[:s.redraw]
}
