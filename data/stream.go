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
	// Size is the number of images in every task (Config.Samples resolved).
	Size() int
	InputDim() int
	Classes() int
	// Task returns task k (0-based). Deterministic in (stream config, seed, k): calling Task(k) in any order gives identical data.
	Task(k int) (*Task, error)
}

// Normalised is implemented by every stream NewStream returns. It reports
// the statistics used to normalise the subset, X = (p/255 - mean) / std:
// the subset's own or the full set's, as Config.Normalize chose.
type Normalised interface {
	Normalisation() (mean, std float64)
}

// Config selects and parameterises a stream.
type Config struct {
	Kind string // one of StreamKinds(); "" means "random-label"
	// Samples is the number of training images drawn once per seed, in
	// [1, MNIST.N], or AllSamples.
	Samples   int
	Normalize string  // one of Normalizations(); "" means NormalizeSubset
	Relabel   float64 // random-label: fraction of labels re-drawn per task, in [0, 1]
	Seed      uint64
}

// AllSamples as Config.Samples takes every image of the set: the same
// stream as Samples = MNIST.N (all images, in the seed's draw order).
const AllSamples = -1

// The normalisations: which images' pixel statistics set X = (p/255 −
// mean)/std. Both use one scalar mean and one unbiased standard deviation
// over all pixels of those images, as the authors' code computes them
// ((data/255).mean() and .std() over every axis, torch's std being
// unbiased) and applies them with torchvision's Normalize. Here the
// statistics and X are formed in float64 and X rounded once to float32;
// torch works in float32, so a value may differ from its by one float32 ulp.
const (
	// NormalizeSubset uses the drawn subset's own statistics (paper, App. D).
	NormalizeSubset = "subset"
	// NormalizeFullTrain uses the statistics of every image of the set given
	// to NewStream — all 60,000 training images with LoadMNIST — whatever
	// subset is drawn (the authors' public code).
	NormalizeFullTrain = "full-train"
)

// Normalizations returns the valid Config.Normalize values, the default first.
func Normalizations() []string { return []string{NormalizeSubset, NormalizeFullTrain} }

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
// normalised here, in O(Samples·D), or O(MNIST.N·D) for NormalizeFullTrain.
func NewStream(m *MNIST, cfg Config) (Stream, error) {
	if m == nil || m.N <= 0 || m.D <= 0 || len(m.Pixels) != m.N*m.D || len(m.Labels) != m.N {
		return nil, fmt.Errorf("data: stream needs a loaded MNIST set")
	}
	kind := cfg.Kind
	if kind == "" {
		kind = streamKinds[0].name
	}
	n := cfg.Samples
	if n == AllSamples {
		n = m.N
	}
	if n < 1 || n > m.N {
		return nil, fmt.Errorf("data: stream samples %d outside [1, %d] (or AllSamples)", cfg.Samples, m.N)
	}
	var fullSet bool
	switch cfg.Normalize {
	case "", NormalizeSubset:
	case NormalizeFullTrain:
		fullSet = true
	default:
		return nil, fmt.Errorf("data: unknown stream normalisation %q (valid: %s)", cfg.Normalize, strings.Join(Normalizations(), ", "))
	}
	if !(cfg.Relabel >= 0 && cfg.Relabel <= 1) { // also rejects NaN
		return nil, fmt.Errorf("data: stream relabel fraction %v outside [0, 1]", cfg.Relabel)
	}
	for _, k := range streamKinds {
		if k.name == kind {
			return k.build(newSubset(m, n, cfg.Seed, fullSet), cfg), nil
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
// them with the scalar mean and unbiased standard deviation (as
// torch.Tensor.std() computes) over all pixels of the subset, or of every
// image of m when fullSet is set.
func newSubset(m *MNIST, n int, seed uint64, fullSet bool) *subset {
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
	// in one cheap pass, and the same bits whatever the images' order.
	var hist [256]int64
	if fullSet {
		for _, p := range m.Pixels {
			hist[p]++
		}
	} else {
		for _, idx := range s.index {
			for _, p := range m.Pixels[idx*m.D : (idx+1)*m.D] {
				hist[p]++
			}
		}
	}
	s.mean, s.std = pixelStats(&hist)

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

// pixelStats returns the mean and unbiased standard deviation of p/255 over
// a histogram of pixel values p. A constant set (or a single pixel) gets
// std 1, so that it is only centred.
func pixelStats(hist *[256]int64) (mean, std float64) {
	var count int64
	for _, c := range hist {
		count += c
	}
	total := float64(count)
	var sum float64
	for v, c := range hist {
		sum += float64(c) * float64(v) / 255
	}
	mean = sum / total
	var ss float64
	for v, c := range hist {
		dev := float64(v)/255 - mean
		ss += float64(c) * dev * dev
	}
	std = 1
	if total > 1 {
		if sd := math.Sqrt(ss / (total - 1)); sd > 0 {
			std = sd
		}
	}
	return mean, std
}

func (s *subset) Size() int                          { return s.n }
func (s *subset) InputDim() int                      { return s.d }
func (s *subset) Classes() int                       { return numClasses }
func (s *subset) Normalisation() (mean, std float64) { return s.mean, s.std }

func checkTaskIndex(k int) error {
	if k < 0 {
		return fmt.Errorf("data: task index %d is negative", k)
	}
	return nil
}
