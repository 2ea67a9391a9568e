package data

import (
	"fmt"
	"math"
	"strings"

	"github.com/lot-toolkit/lot/rng"
)

// Task is one task's training data: X is N×D row-major float32 (normalised),
// Y are class labels. X and Y may share memory with the stream or with other
// tasks, so callers must treat them as read-only.
type Task struct {
	Index, N, D int
	X           []float32
	Y           []int32
}

// Stream is a sequence of tasks built from one MNIST subset.
type Stream interface {
	Name() string
	InputDim() int
	Classes() int
	// Task returns task k (0-based). Deterministic in (stream config, seed, k): calling Task(k) in any order gives identical data.
	Task(k int) (*Task, error)
}

// Normalised is implemented by every stream NewStream returns. It reports
// the statistics used to normalise the subset: X = (p/255 - mean) / std.
type Normalised interface {
	Normalisation() (mean, std float64)
}

// Config selects and parameterises a stream.
type Config struct {
	Kind    string  // one of StreamKinds(); "" means "random-label"
	Samples int     // training images drawn once per seed, in [1, MNIST.N]
	Relabel float64 // random-label: fraction of labels re-drawn per task, in [0, 1]
	Seed    uint64
}

// DefaultConfig is the standard loss-of-trainability setup: 21000 images,
// every label re-drawn at each task.
func DefaultConfig() Config {
	return Config{Kind: "random-label", Samples: 21000, Relabel: 1.0}
}

// streamKinds lists the stream constructors; adding a stream means adding
// an entry here.
var streamKinds = []struct {
	name  string
	build func(s *subset, cfg Config) Stream
}{
	{"random-label", newRandomLabelStream},
	{"permuted", newPermutedStream},
}

// StreamKinds returns the valid Config.Kind values, the default first.
func StreamKinds() []string {
	kinds := make([]string, len(streamKinds))
	for i, k := range streamKinds {
		kinds[i] = k.name
	}
	return kinds
}

// NewStream validates cfg and builds the stream. The subset is drawn and
// normalised here, in O(Samples·D).
func NewStream(m *MNIST, cfg Config) (Stream, error) {
	if m == nil || m.N <= 0 || m.D <= 0 || len(m.Pixels) != m.N*m.D || len(m.Labels) != m.N {
		return nil, fmt.Errorf("data: stream needs a loaded MNIST set")
	}
	kind := cfg.Kind
	if kind == "" {
		kind = streamKinds[0].name
	}
	if cfg.Samples < 1 || cfg.Samples > m.N {
		return nil, fmt.Errorf("data: stream samples %d outside [1, %d]", cfg.Samples, m.N)
	}
	if !(cfg.Relabel >= 0 && cfg.Relabel <= 1) { // also rejects NaN
		return nil, fmt.Errorf("data: stream relabel fraction %v outside [0, 1]", cfg.Relabel)
	}
	for _, k := range streamKinds {
		if k.name == kind {
			return k.build(newSubset(m, cfg.Samples, cfg.Seed), cfg), nil
		}
	}
	return nil, fmt.Errorf("data: unknown stream kind %q (valid: %s)", cfg.Kind, strings.Join(StreamKinds(), ", "))
}

// subset is the normalised sample of training images that every task of a
// stream is built from.
type subset struct {
	n, d      int
	index     []int     // positions in MNIST, in draw order
	x         []float32 // n×d normalised pixels
	labels    []int32   // true labels
	mean, std float64
}

// newSubset draws n distinct images with rng (seed, "subsample") — the first
// n entries of a Fisher–Yates shuffle, kept in draw order — and normalises
// them with their scalar mean and unbiased standard deviation (as
// torch.Tensor.std() computes) over all n·d pixels.
func newSubset(m *MNIST, n int, seed uint64) *subset {
	r := rng.New(seed, "subsample")
	perm := make([]int, m.N)
	for i := range perm {
		perm[i] = i
	}
	for i := range n {
		j := i + r.IntN(m.N-i)
		perm[i], perm[j] = perm[j], perm[i]
	}
	s := &subset{n: n, d: m.D, index: perm[:n:n], labels: make([]int32, n)}

	// A histogram of the 256 pixel values gives accurate float64 statistics
	// in one cheap pass.
	var hist [256]int64
	for _, idx := range s.index {
		for _, p := range m.Pixels[idx*m.D : (idx+1)*m.D] {
			hist[p]++
		}
	}
	total := float64(n * m.D)
	var sum float64
	for v, c := range hist {
		sum += float64(c) * float64(v) / 255
	}
	s.mean = sum / total
	var ss float64
	for v, c := range hist {
		dev := float64(v)/255 - s.mean
		ss += float64(c) * dev * dev
	}
	s.std = 1 // a constant subset (or a single pixel) is only centred
	if total > 1 {
		if std := math.Sqrt(ss / (total - 1)); std > 0 {
			s.std = std
		}
	}

	var lut [256]float32
	for v := range lut {
		lut[v] = float32((float64(v)/255 - s.mean) / s.std)
	}
	s.x = make([]float32, n*m.D)
	for i, idx := range s.index {
		row := s.x[i*m.D : (i+1)*m.D]
		for j, p := range m.Pixels[idx*m.D : (idx+1)*m.D] {
			row[j] = lut[p]
		}
		s.labels[i] = int32(m.Labels[idx])
	}
	return s
}

func (s *subset) InputDim() int                      { return s.d }
func (s *subset) Classes() int                       { return numClasses }
func (s *subset) Normalisation() (mean, std float64) { return s.mean, s.std }

func checkTaskIndex(k int) error {
	if k < 0 {
		return fmt.Errorf("data: task index %d is negative", k)
	}
	return nil
}
