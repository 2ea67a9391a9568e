package data

import (
	"math"
	"slices"
	"strings"
	"testing"
)

func newTestStream(t *testing.T, cfg Config) Stream {
	t.Helper()
	s, err := NewStream(loadReal(t), cfg)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func task(t *testing.T, s Stream, k int) *Task {
	t.Helper()
	tk, err := s.Task(k)
	if err != nil {
		t.Fatal(err)
	}
	if tk.Index != k || tk.N*tk.D != len(tk.X) || len(tk.Y) != tk.N || tk.D != s.InputDim() {
		t.Fatalf("task %d: inconsistent shape: index %d, %d×%d, len(X)=%d, len(Y)=%d", k, tk.Index, tk.N, tk.D, len(tk.X), len(tk.Y))
	}
	return tk
}

// within fails unless got is within tol of want.
func within(t *testing.T, what string, got, want, tol float64) {
	t.Helper()
	if math.Abs(got-want) > tol {
		t.Errorf("%s = %.5f, want %.5f ± %.5f", what, got, want, tol)
	}
}

// fiveSigma is a binomial-proportion tolerance: a correct implementation
// fails with probability below 1e-6.
func fiveSigma(p float64, n int) float64 { return 5 * math.Sqrt(p*(1-p)/float64(n)) }

func TestNewStreamValidation(t *testing.T) {
	m := loadReal(t)
	for _, c := range []struct {
		cfg  Config
		want string
	}{
		{Config{Kind: "random-label", Samples: 0, Relabel: 1}, "samples 0"},
		{Config{Kind: "random-label", Samples: m.N + 1, Relabel: 1}, "samples 60001"},
		{Config{Kind: "random-label", Samples: 10, Relabel: 1.5}, "relabel"},
		{Config{Kind: "random-label", Samples: 10, Relabel: -0.1}, "relabel"},
		{Config{Kind: "random-label", Samples: 10, Relabel: math.NaN()}, "relabel"},
		{Config{Kind: "split", Samples: 10}, "random-label, permuted"},
	} {
		if _, err := NewStream(m, c.cfg); err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%+v: got %v, want an error containing %q", c.cfg, err, c.want)
		}
	}
	if _, err := NewStream(&MNIST{N: 2, D: 3, Pixels: make([]uint8, 5), Labels: make([]uint8, 2)}, DefaultConfig()); err == nil {
		t.Error("inconsistent MNIST accepted")
	}
	s, err := NewStream(m, Config{Samples: 10})
	if err != nil || s.Name() != "random-label" || s.Classes() != 10 || s.InputDim() != 784 {
		t.Errorf("empty kind: got %v, %v; want the random-label stream", s, err)
	}
	if _, err := s.Task(-1); err == nil {
		t.Error("Task(-1) succeeded")
	}
	if got := StreamKinds(); !slices.Equal(got, []string{"random-label", "permuted"}) {
		t.Errorf("StreamKinds() = %v", got)
	}
}

func TestSubsetNormalisation(t *testing.T) {
	m := loadReal(t)
	s := newTestStream(t, DefaultConfig())
	x := task(t, s, 0).X
	var sum, ss float64
	for _, v := range x {
		sum += float64(v)
	}
	mean := sum / float64(len(x))
	for _, v := range x {
		ss += (float64(v) - mean) * (float64(v) - mean)
	}
	within(t, "normalised mean", mean, 0, 1e-5)
	within(t, "normalised std", math.Sqrt(ss/float64(len(x)-1)), 1, 1e-5)

	// The reported statistics are those of the subset's raw pixels/255,
	// and X is (p/255 - mean)/std for the subset's images in draw order.
	sub := s.(*randomLabelStream).subset
	rawMean, rawStd := s.(Normalised).Normalisation()
	sum, ss = 0, 0
	for _, idx := range sub.index {
		for _, p := range m.Pixels[idx*m.D : (idx+1)*m.D] {
			sum += float64(p) / 255
		}
	}
	wantMean := sum / float64(len(x))
	for _, idx := range sub.index {
		for _, p := range m.Pixels[idx*m.D : (idx+1)*m.D] {
			ss += (float64(p)/255 - wantMean) * (float64(p)/255 - wantMean)
		}
	}
	within(t, "reported mean", rawMean, wantMean, 1e-9) // the reference sums naively
	within(t, "reported std", rawStd, math.Sqrt(ss/float64(len(x)-1)), 1e-9)
	within(t, "MNIST-like mean", rawMean, 0.1307, 0.005)
	within(t, "MNIST-like std", rawStd, 0.3081, 0.005)
	for _, i := range []int{0, 1, 20999} {
		idx := sub.index[i]
		for j := 0; j < m.D; j += 7 {
			want := float32((float64(m.Pixels[idx*m.D+j])/255 - rawMean) / rawStd)
			if got := x[i*m.D+j]; got != want {
				t.Fatalf("X[%d,%d] = %v, want %v", i, j, got, want)
			}
		}
		if sub.labels[i] != int32(m.Labels[idx]) {
			t.Fatalf("label %d = %d, want MNIST label %d", i, sub.labels[i], m.Labels[idx])
		}
	}
}

func TestSubsetDrawsDistinctImagesPerSeed(t *testing.T) {
	m := loadReal(t)
	a := newSubset(m, 21000, 1, false)
	b := newSubset(m, 21000, 2, false)
	seen := make([]bool, m.N)
	for _, idx := range a.index {
		if seen[idx] {
			t.Fatalf("image %d drawn twice", idx)
		}
		seen[idx] = true
	}
	if slices.Equal(a.index, b.index) || slices.Equal(a.x, b.x) {
		t.Error("seeds 1 and 2 drew the same subset")
	}
	if again := newSubset(m, 21000, 1, false); !slices.Equal(a.index, again.index) || !slices.Equal(a.x, again.x) {
		t.Error("seed 1 drew different subsets")
	}
	// Seed 1 and 2 subsets overlap like independent 35% samples do.
	shared := 0
	for _, idx := range b.index {
		if seen[idx] {
			shared++
		}
	}
	p := 21000.0 / 60000
	within(t, "overlap fraction", float64(shared)/21000, p, fiveSigma(p, 21000))
}

func TestRandomLabelPartialRelabel(t *testing.T) {
	s := newTestStream(t, Config{Kind: "random-label", Samples: 21000, Relabel: 0.3, Seed: 7})
	prev := slices.Clone(s.(*randomLabelStream).subset.labels) // before task 0: true labels
	want := 0.3 * 0.9                                          // re-drawn and landing on another class
	tol := 5 * math.Sqrt(6300*0.9*0.1) / 21000
	for k := range 4 {
		y := task(t, s, k).Y
		changed := 0
		for i := range y {
			if y[i] != prev[i] {
				changed++
			}
			if y[i] < 0 || y[i] >= 10 {
				t.Fatalf("task %d: label %d out of range", k, y[i])
			}
		}
		within(t, "changed fraction", float64(changed)/21000, want, tol)
		prev = y
	}
}

func TestRandomLabelRedrawsExactCount(t *testing.T) {
	for _, relabel := range []float64{0, 0.3, 1} {
		s := newTestStream(t, Config{Samples: 1001, Relabel: relabel, Seed: 3}).(*randomLabelStream)
		before := slices.Clone(s.labels)
		chosen := slices.Clone(s.relabel(0))
		if want := int(math.Round(relabel * 1001)); len(chosen) != want {
			t.Errorf("relabel %v: %d labels re-drawn, want %d", relabel, len(chosen), want)
		}
		picked := make([]bool, 1001)
		for _, i := range chosen {
			if picked[i] {
				t.Fatalf("relabel %v: index %d chosen twice", relabel, i)
			}
			picked[i] = true
		}
		for i := range before {
			if !picked[i] && s.labels[i] != before[i] {
				t.Errorf("relabel %v: label %d changed but was not chosen", relabel, i)
			}
		}
	}
}

func TestRandomLabelFullRelabelIsUniform(t *testing.T) {
	s := newTestStream(t, Config{Kind: "random-label", Samples: 21000, Relabel: 1, Seed: 11})
	truth := s.(*randomLabelStream).subset.labels
	for _, k := range []int{0, 5} {
		y := task(t, s, k).Y
		var counts [10]int
		agree := 0
		for i, l := range y {
			counts[l]++
			if l == truth[i] {
				agree++
			}
		}
		for c, n := range counts {
			within(t, "class fraction of "+string(rune('0'+c)), float64(n)/21000, 0.1, fiveSigma(0.1, 21000))
		}
		within(t, "agreement with true labels", float64(agree)/21000, 0.1, fiveSigma(0.1, 21000))
	}
}

func TestRandomLabelZeroKeepsTrueLabels(t *testing.T) {
	s := newTestStream(t, Config{Samples: 5000, Relabel: 0, Seed: 1})
	truth := s.(*randomLabelStream).subset.labels
	for k := range 3 {
		if y := task(t, s, k).Y; !slices.Equal(y, truth) {
			t.Fatalf("task %d: labels differ from the true labels", k)
		}
	}
}

func TestRandomLabelTaskOrderIndependent(t *testing.T) {
	cfg := Config{Samples: 3000, Relabel: 0.5, Seed: 5}
	inOrder := newTestStream(t, cfg)
	var want [][]int32
	for k := range 5 {
		want = append(want, task(t, inOrder, k).Y)
	}
	if slices.Equal(want[3], want[4]) {
		t.Fatal("consecutive tasks have identical labels")
	}
	shuffled := newTestStream(t, cfg)
	for _, k := range []int{3, 1, 4, 4, 0, 2, 3} {
		if got := task(t, shuffled, k).Y; !slices.Equal(got, want[k]) {
			t.Errorf("task %d asked out of order: labels differ", k)
		}
	}
	other := newTestStream(t, Config{Samples: 3000, Relabel: 0.5, Seed: 6})
	if slices.Equal(task(t, other, 0).Y, want[0]) {
		t.Error("seeds 5 and 6 gave the same task-0 labels")
	}
}

func TestPermutedTasks(t *testing.T) {
	s := newTestStream(t, Config{Kind: "permuted", Samples: 2000, Seed: 9})
	ps := s.(*permutedStream)
	base := ps.subset
	var perms [][]int
	for _, k := range []int{2, 0, 1} {
		tk := task(t, s, k)
		perm := ps.permutation(k)
		sorted := slices.Sorted(slices.Values(perm))
		for i, v := range sorted {
			if v != i {
				t.Fatalf("task %d: not a permutation of 0..%d", k, base.d-1)
			}
		}
		for i := range base.n {
			src, dst := base.x[i*base.d:(i+1)*base.d], tk.X[i*base.d:(i+1)*base.d]
			for j, p := range perm {
				if dst[j] != src[p] {
					t.Fatalf("task %d, sample %d: pixel %d is not input pixel %d", k, i, j, p)
				}
			}
		}
		if !slices.Equal(tk.Y, base.labels) {
			t.Fatalf("task %d: labels are not the true labels", k)
		}
		if again := task(t, s, k); !slices.Equal(again.X, tk.X) {
			t.Fatalf("task %d: X differs on a second call", k)
		}
		perms = append(perms, perm)
	}
	if slices.Equal(perms[0], perms[1]) || slices.Equal(perms[1], perms[2]) || slices.Equal(perms[0], perms[2]) {
		t.Error("two tasks share a permutation")
	}
	if identity := slices.Sorted(slices.Values(perms[0])); slices.Equal(perms[0], identity) {
		t.Error("task permutation is the identity")
	}
}
