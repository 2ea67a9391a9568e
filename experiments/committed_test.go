package experiments

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/lot-toolkit/lot/rundir"
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

// TestCommittedRunsReproduceTheirFirstTask: today's lot, given a committed
// run's own config, trains its first task to the committed bits (task 1 of
// a run does not depend on how many tasks follow). A change of rounding
// anywhere on these paths (Adam, the penalties, the diagnostics that steer
// the controller, the baselines' hooks) fails here until the committed
// results are made again. One run per path, each a quick task of 800
// updates.
func TestCommittedRunsReproduceTheirFirstTask(t *testing.T) {
	if testing.Short() {
		t.Skip("trains five quick tasks")
	}
	for _, run := range []string{
		"reproduce-quick/runs/fig5-l2-scheduled-s0",          // the controller on α̃*, full diagnostics
		"reproduce-quick/runs/fig5-wasserstein-vanilla-s0",   // the Wasserstein penalty
		"reproduce-quick/runs/fig5-crelu-reset-optimizer-s0", // CReLU, light diagnostics
		"reproduce-baselines-quick/runs/baselines-permuted-cbp-s0",
		"reproduce-baselines-quick/runs/baselines-permuted-spectral-s0",
	} {
		t.Run(filepath.Base(run), func(t *testing.T) {
			committed := filepath.Join("..", "results", run)
			cfg, err := train.ReadConfigOf(committed)
			if err != nil {
				t.Fatal(err)
			}
			cfg.Tasks = 1
			out := t.TempDir()
			if _, err := train.Run(context.Background(), cfg, train.Options{Out: out}); err != nil {
				t.Fatal(err)
			}
			want, got := firstTaskRow(t, committed), firstTaskRow(t, out)
			for _, k := range []string{"task", "online_acc", "final_acc", "final_loss", "rho_hat", "steps"} {
				if !bytes.Equal(want[k], got[k]) {
					t.Errorf("%s: %s %s, committed %s", run, k, got[k], want[k])
				}
			}
		})
	}
}

// firstTaskRow is the first line of the run's tasks.jsonl, each field's
// JSON text as written (so equal text is equal bits).
func firstTaskRow(t *testing.T, dir string) map[string]json.RawMessage {
	t.Helper()
	f, err := os.Open(rundir.Tasks(dir))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	if !sc.Scan() {
		t.Fatalf("%s: empty", rundir.Tasks(dir))
	}
	row := map[string]json.RawMessage{}
	if err := json.Unmarshal(sc.Bytes(), &row); err != nil {
		t.Fatalf("%s: %v", rundir.Tasks(dir), err)
	}
	return row
}

// TestCommittedFig5ReportsAreTheirRuns: every committed report's Fig. 5
// section has the numbers and verdicts that today's lot draws from the
// runs committed beside it, so that remaking runs without redrawing their
// report (as happened to the quick authors' report on 2026-12-01) fails
// here. Its tables and verdict lines are compared; Fig. 5 reads only each
// run's tasks.jsonl, which is committed.
func TestCommittedFig5ReportsAreTheirRuns(t *testing.T) {
	for _, c := range []struct {
		report string
		su     Setup
	}{
		{"../results/reproduce-quick/report.md", Setup{Scale: "quick", Seeds: 1, Protocol: "paper"}},
		{"../results/reproduce-quick-3seeds/report-fig5.md", Setup{Scale: "quick", Seeds: 3, Protocol: "paper"}},
		{"../results/reproduce-paper/report-fig5.md", Setup{Scale: "paper", Seeds: 1, Protocol: "paper"}},
		{"../results/reproduce-authors-quick/authors-report.md", Setup{Scale: "quick", Seeds: 1, Protocol: "authors"}},
		{"../results/reproduce-authors-quick/authors-report-fig5.md", Setup{Scale: "quick", Seeds: 1, Protocol: "authors"}},
		{"../results/reproduce-authors-paper/authors-report-fig5.md", Setup{Scale: "paper", Seeds: 1, Protocol: "authors"}},
		{"../results/reproduce-authors-paper/authors-report.md", Setup{Scale: "paper", Seeds: 1, Protocol: "authors"}},
	} {
		committed, err := os.ReadFile(c.report)
		if err != nil {
			t.Fatal(err)
		}
		// The runs of both protocols, as the report's directory holds them:
		// the other protocol's enter the side-by-side table when present.
		dir := t.TempDir()
		other := c.su
		other.Protocol = map[string]string{"paper": "authors", "authors": "paper"}[c.su.Protocol]
		for _, r := range append(fig5Runs(c.su), fig5Runs(other)...) {
			src := filepath.Join(filepath.Dir(c.report), "runs", r.Name)
			for _, f := range []string{rundir.Tasks(src), filepath.Join(src, rundir.SummaryFile)} {
				b, err := os.ReadFile(f)
				if os.IsNotExist(err) && r.Config.Protocol != c.su.Protocol {
					continue
				} else if err != nil {
					t.Fatal(err)
				}
				dst := filepath.Join(dir, "runs", r.Name)
				if err := os.MkdirAll(dst, 0o755); err != nil {
					t.Fatal(err)
				}
				if err := os.WriteFile(filepath.Join(dst, filepath.Base(f)), b, 0o644); err != nil {
					t.Fatal(err)
				}
			}
		}
		drawn, err := fig5Report(dir, c.su, fig5Runs(c.su))
		if err != nil {
			t.Fatalf("%s: %v", c.report, err)
		}
		want, got := numbers(fig5Section(string(committed))), numbers(drawn)
		if len(want) == 0 {
			t.Errorf("%s: no Fig. 5 table found", c.report)
		}
		if strings.Join(got, "\n") != strings.Join(want, "\n") {
			t.Errorf("%s: its Fig. 5 numbers are not what its runs give today; redraw it.\ncommitted:\n%s\ntoday:\n%s",
				c.report, strings.Join(want, "\n"), strings.Join(got, "\n"))
		}
	}
}

// fig5Section is a report's Fig. 5 section, up to the next figure's.
func fig5Section(report string) string {
	_, s, _ := strings.Cut(report, "## fig5\n")
	s, _, _ = strings.Cut(s, "\n## ")
	return s
}

// numbers are a report's table rows and verdict lines.
func numbers(section string) []string {
	var out []string
	for _, l := range strings.Split(section, "\n") {
		if strings.HasPrefix(l, "| ") || strings.HasPrefix(l, "- ") {
			out = append(out, l)
		}
	}
	return out
}
