package experiments

import (
	"fmt"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/lot-toolkit/lot/plotting"
	"github.com/lot-toolkit/lot/rundir"
)

// TestEMAIsTheAuthorsSmoothing: e₁ = a₁, e_t = 0.9·e_{t−1} + 0.1·a_t,
// against a hand computation.
func TestEMAIsTheAuthorsSmoothing(t *testing.T) {
	got := ema([]float64{1, 0, 0, 0.5})
	want := []float64{1, 0.9, 0.81, 0.81*0.9 + 0.05}
	for i := range want {
		if math.Abs(got[i]-want[i]) > 1e-15 {
			t.Fatalf("ema: %v, want %v", got, want)
		}
	}
}

// TestFig5Verdicts: the direction needs scheduled above both others in
// every setting, and a level counts when the last task's EMA is within
// ±0.1 of the paper's; unstated levels are not counted.
func TestFig5Verdicts(t *testing.T) {
	flat := func(v float64) *plotting.Line {
		return &plotting.Line{X: []float64{1, 2}, Ys: [][]float64{{v, v}}}
	}
	o := &fig5Outcome{raw: map[string]*plotting.Line{}, smth: map[string]*plotting.Line{}}
	vals := map[string]float64{
		"crelu/vanilla": 0.1, "crelu/reset": 0.15, "crelu/scheduled": 0.45, // all three within 0.1
		"l2/vanilla": 0.3, "l2/reset": 0.2, "l2/scheduled": 0.61, // vanilla 0.3 misses 0.1; scheduled 0.61 misses 0.5 by 0.11
		"wasserstein/vanilla": 0.7, "wasserstein/reset": 0.1, "wasserstein/scheduled": 0.6, // scheduled below vanilla
	}
	for g, v := range vals {
		o.raw[g], o.smth[g] = flat(v), flat(v)
	}
	if holds, _ := o.direction(); holds {
		t.Error("direction holds with Wasserstein scheduled below vanilla")
	}
	met, stated, misses := o.levels()
	if met != 4 || stated != 6 || len(misses) != 2 {
		t.Errorf("levels: %d of %d (%v), want 4 of 6", met, stated, misses)
	}
	o.raw["wasserstein/scheduled"] = flat(0.8)
	if holds, _ := o.direction(); !holds {
		t.Error("direction fails with scheduled best everywhere")
	}
}

// TestFig5ReportSetsProtocolsSideBySide: with both protocols' Fig. 5 runs
// in one directory, the report tabulates each setting's last task under
// both, raw and smoothed, headed by each protocol's own length; with one
// protocol's runs missing, it leaves the table out.
func TestFig5ReportSetsProtocolsSideBySide(t *testing.T) {
	dir := t.TempDir()
	authors := Setup{Scale: "smoke", Seeds: 1, Protocol: "authors"}
	paper := Setup{Scale: "smoke", Seeds: 1, Protocol: "paper"}
	// Each run's online accuracy is a₁ = 0.5 then its own value v, so the
	// EMA's last entry is 0.9·0.5 + 0.1·v.
	value := map[string]float64{}
	for i, r := range append(fig5Runs(authors), fig5Runs(paper)...) {
		v := 0.1 + 0.01*float64(i)
		value[r.Name] = v
		rd := filepath.Join(dir, "runs", r.Name)
		if err := os.MkdirAll(rd, 0o755); err != nil {
			t.Fatal(err)
		}
		rows := fmt.Sprintf("{\"task\":0,\"online_acc\":0.5,\"steps\":10}\n{\"task\":1,\"online_acc\":%g,\"steps\":20}\n", v)
		if err := os.WriteFile(rundir.Tasks(rd), []byte(rows), 0o644); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(rd, rundir.SummaryFile), []byte("{}"), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	report, err := fig5Report(dir, authors, fig5Runs(authors))
	if err != nil {
		t.Fatal(err)
	}
	a, p := fig5Runs(authors)[0].Config, fig5Runs(paper)[0].Config
	header := fmt.Sprintf("| setting | method | authors protocol (%d tasks × %d epochs) | paper protocol (%d tasks × %d epochs) | paper |", a.Tasks, a.Epochs, p.Tasks, p.Epochs)
	if !strings.Contains(report, header) {
		t.Errorf("no side-by-side header %q in:\n%s", header, report)
	}
	for _, r := range fig5Runs(authors) {
		group := strings.SplitN(r.Group, "/", 2)
		var other Run
		for _, q := range fig5Runs(paper) {
			if q.Group == r.Group {
				other = q
			}
		}
		va, vp := value[r.Name], value[other.Name]
		row := fmt.Sprintf("| %s | %s | %.3f / %.3f | %.3f / %.3f |", group[0], group[1], va, 0.45+0.1*va, vp, 0.45+0.1*vp)
		if !strings.Contains(report, row) {
			t.Errorf("no row %q", row)
		}
	}
	for _, m := range fig5Methods {
		name := "authors-fig5-" + m.name + "-protocols"
		if !strings.Contains(report, "("+name+".png)") {
			t.Errorf("the report does not show %s.png", name)
		}
		for _, ext := range []string{".png", ".svg"} {
			if _, err := os.Stat(filepath.Join(dir, name+ext)); err != nil {
				t.Error(err)
			}
		}
		svg, _ := os.ReadFile(filepath.Join(dir, name+".svg"))
		for _, want := range []string{"the paper&#39;s text", "the authors&#39; code", "reset (optimiser)", "reset (model)"} {
			if !strings.Contains(string(svg), want) {
				t.Errorf("%s.svg lacks %q", name, want)
			}
		}
	}
	if err := os.Remove(filepath.Join(dir, "runs", fig5Runs(paper)[0].Name, rundir.SummaryFile)); err != nil {
		t.Fatal(err)
	}
	if report, err = fig5Report(dir, authors, fig5Runs(authors)); err != nil || strings.Contains(report, "Both protocols") {
		t.Errorf("with a paper-protocol run unfinished: err %v, side-by-side table present: %v", err, strings.Contains(report, "Both protocols"))
	}
}
