package data

import (
	"math"
	"runtime"
	"slices"
	"strings"
	"testing"
)

func TestFullSetOptionsValidation(t *testing.T) {
	m := loadReal(t)
	for _, c := range []struct {
		cfg  Config
		want string
	}{
		{Config{Samples: -2, Relabel: 1}, "samples -2"},
		{Config{Samples: 10, Normalize: "per-pixel"}, "subset, full-train"},
	} {
		if _, err := NewStream(m, c.cfg); err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%+v: got %v, want an error containing %q", c.cfg, err, c.want)
		}
	}
	if got := Normalizations(); !slices.Equal(got, []string{"subset", "full-train"}) {
		t.Errorf("Normalizations() = %v", got)
	}
	small := &MNIST{N: 3, D: 2, Pixels: []uint8{0, 255, 0, 255, 0, 255}, Labels: []uint8{1, 2, 3}}
	s, err := NewStream(small, Config{Samples: AllSamples, Normalize: NormalizeSubset})
	if err != nil || s.Size() != 3 {
		t.Fatalf("AllSamples on 3 images: size %v, err %v; want 3 images", s, err)
	}
	if _, err := NewStream(small, Config{Samples: 3, Normalize: ""}); err != nil {
		t.Errorf("Samples = N rejected: %v", err)
	}
}

// fullTrainStats is an independent float64 reference: a plain sum over
// every pixel of the set, then the unbiased variance about that mean.
func fullTrainStats(m *MNIST) (mean, std float64) {
	var sum float64
	for _, p := range m.Pixels {
		sum += float64(p) / 255
	}
	mean = sum / float64(len(m.Pixels))
	var ss float64
	for _, p := range m.Pixels {
		d := float64(p)/255 - mean
		ss += d * d
	}
	return mean, math.Sqrt(ss / float64(len(m.Pixels)-1))
}

// TestFullTrainNormalisation: with a 2048-image subset, "full-train" reports
// the statistics of all 60,000 training images (the well-known 0.1307 and
// 0.3081 to 4 digits), normalises the subset with them, and draws the same
// images and labels as "subset" normalisation does for the seed.
func TestFullTrainNormalisation(t *testing.T) {
	m := loadReal(t)
	wantMean, wantStd := fullTrainStats(m)
	cfg := Config{Samples: 2048, Relabel: 1, Seed: 9, Normalize: NormalizeFullTrain}
	s := newTestStream(t, cfg)
	mean, std := s.(Normalised).Normalisation()
	within(t, "full-train mean", mean, wantMean, 1e-10)
	within(t, "full-train std", std, wantStd, 1e-10)
	if r := math.Round(mean*1e4) / 1e4; r != 0.1307 {
		t.Errorf("full-train mean %.6f does not round to 0.1307", mean)
	}
	if r := math.Round(std*1e4) / 1e4; r != 0.3081 {
		t.Errorf("full-train std %.6f does not round to 0.3081", std)
	}

	cfg.Normalize = NormalizeSubset
	own := newTestStream(t, cfg)
	ownMean, _ := own.(Normalised).Normalisation()
	if math.Abs(ownMean-mean) < 1e-4 {
		t.Errorf("subset mean %v equals the full set's %v: the two options are not distinguished", ownMean, mean)
	}
	sub, ownSub := s.(*randomLabelStream).subset, own.(*randomLabelStream).subset
	if !slices.Equal(sub.index, ownSub.index) {
		t.Fatal("the normalisation changed which images are drawn")
	}
	if !slices.Equal(task(t, s, 1).Y, task(t, own, 1).Y) {
		t.Fatal("the normalisation changed the labels")
	}
	x := task(t, s, 0).X
	for i, idx := range sub.index {
		for j := 0; j < m.D; j += 5 {
			want := float32((float64(m.Pixels[idx*m.D+j])/255 - wantMean) / wantStd)
			if got := x[i*m.D+j]; math.Abs(float64(got-want)) > 1e-6 {
				t.Fatalf("X[%d,%d] = %v, want %v", i, j, got, want)
			}
		}
	}
}

// TestAllSamplesCoincide: on the whole training set the subset is the full
// set, so AllSamples and 60000, with either normalisation, give the same
// bits as the digest pinned for Samples = 60000 before these options
// existed. Streams are built one at a time to bound memory.
func TestAllSamplesCoincide(t *testing.T) {
	m := loadReal(t)
	want := [2]string{"8c278bcd968b6778b36c5a5daa29f15721dcb466f574258f029c5404174695e4",
		"178127c2ede97bdb6ef32a50fced21dd998d38f23fbe0da6de53ff1ce97934c1"}
	for _, samples := range []int{AllSamples, m.N} {
		for _, norm := range []string{NormalizeSubset, NormalizeFullTrain} {
			cfg := Config{Samples: samples, Normalize: norm, Relabel: 1, Seed: 1}
			s := newTestStream(t, cfg)
			if s.Size() != m.N {
				t.Errorf("%+v: size %d, want %d", cfg, s.Size(), m.N)
			}
			for k := range 2 {
				if got := taskDigest(task(t, s, k)); got != want[k] {
					t.Errorf("%+v task %d: digest %s, want %s", cfg, k, got, want[k])
				}
			}
			s = nil
			runtime.GC()
		}
	}
}
