package data

import "github.com/lot-toolkit/lot/rng"

// permutedStream keeps the true labels and gives each task k its own pixel
// permutation, drawn with rng (seed, "permute", k): output pixel j of every
// image is input pixel perm[j].
type permutedStream struct {
	*subset
	seed uint64
}

func newPermutedStream(s *subset, cfg Config) Stream {
	return &permutedStream{subset: s, seed: cfg.Seed}
}

func (s *permutedStream) Name() string { return "permuted" }

// Task returns task k, with a freshly allocated X.
func (s *permutedStream) Task(k int) (*Task, error) {
	if err := checkTaskIndex(k); err != nil {
		return nil, err
	}
	perm := s.permutation(k)
	x := make([]float32, len(s.x))
	for i := range s.n {
		src := s.x[i*s.d : (i+1)*s.d]
		dst := x[i*s.d : (i+1)*s.d]
		for j, p := range perm {
			dst[j] = src[p]
		}
	}
	return &Task{
		Index: k, N: s.n, D: s.d,
		X: x,
		Y: append([]int32(nil), s.labels...),
	}, nil
}

// permutation returns task k's pixel permutation (a Fisher–Yates shuffle).
func (s *permutedStream) permutation(k int) []int {
	r := rng.New(s.seed, "permute", k)
	perm := make([]int, s.d)
	for i := range perm {
		perm[i] = i
	}
	for i := len(perm) - 1; i > 0; i-- {
		j := r.IntN(i + 1)
		perm[i], perm[j] = perm[j], perm[i]
	}
	return perm
}
