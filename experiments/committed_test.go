package experiments

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/lot-toolkit/lot/train"
)

// TestCommittedRunsAreTheFiguresRuns: every run committed under results/
// by `lot reproduce` is, config for config, the run its figure asks for
// today, so that rerunning the command skips it rather than refusing its
// directory or training another run under its name.
func TestCommittedRunsAreTheFiguresRuns(t *testing.T) {
	for _, c := range []struct {
		dir string
		su  Setup
	}{
		{"../results/reproduce-quick", Setup{Scale: "quick", Seeds: 1, Protocol: "paper"}},
		{"../results/reproduce-quick-3seeds", Setup{Scale: "quick", Seeds: 3, Protocol: "paper"}},
		{"../results/reproduce-paper", Setup{Scale: "paper", Seeds: 1, Protocol: "paper"}},
		{"../results/reproduce-authors-quick", Setup{Scale: "quick", Seeds: 1, Protocol: "authors"}},
		{"../results/reproduce-authors-paper", Setup{Scale: "paper", Seeds: 1, Protocol: "authors"}},
		{"../results/reproduce-baselines-quick", Setup{Scale: "quick", Seeds: 3, Protocol: "paper"}},
	} {
		want := map[string]train.Config{}
		for _, n := range Names() {
			for _, r := range Figures[n].Runs(c.su) {
				want[r.Name] = r.Config
			}
		}
		entries, err := os.ReadDir(filepath.Join(c.dir, "runs"))
		if err != nil {
			t.Fatal(err)
		}
		checked := 0
		for _, e := range entries {
			cfg, ok := want[e.Name()]
			if !ok || !e.IsDir() {
				continue
			}
			got, err := train.ReadConfigOf(filepath.Join(c.dir, "runs", e.Name()))
			if err != nil {
				t.Errorf("%s: %v", e.Name(), err)
				continue
			}
			if got.Hash() != cfg.Hash() {
				t.Errorf("%s/%s: the committed config differs from the figure's", c.dir, e.Name())
			}
			checked++
		}
		if checked == 0 {
			t.Errorf("%s: no committed run checked", c.dir)
		}
		t.Logf("%s: %d runs match", c.dir, checked)
	}
}
