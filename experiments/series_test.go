package experiments

import (
	"context"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/lot-toolkit/lot/diagnostics"
)

func TestCollapse(t *testing.T) {
	for _, tc := range []struct {
		acc  []float64
		lost bool
		task int
	}{
		{[]float64{0.5, 0.6, 0.55, 0.47, 0.3}, true, 4}, // best 0.6 at task 2; 0.47 < 0.48 at task 4
		{[]float64{0.5, 0.6, 0.3, 0.59}, false, 3},      // fell, then recovered
		{[]float64{0.2, 0.3, 0.4}, false, 0},            // still rising
	} {
		lost, task := collapse(tc.acc)
		if lost != tc.lost || task != tc.task {
			t.Errorf("collapse(%v) = %v, %d; want %v, %d", tc.acc, lost, task, tc.lost, tc.task)
		}
	}
}

func TestTrend(t *testing.T) {
	for y, want := range map[[3]float64]string{{1, 5, 1.11}: "rises", {1, 0, 0.89}: "falls", {1, 9, 1.09}: "flat"} {
		if got := trend(y[:]); got != want {
			t.Errorf("trend(%v) = %s, want %s", y, got, want)
		}
	}
}

// TestTaskMeans: rows are assigned to tasks by the steps at which tasks
// ended, and non-finite values are skipped.
func TestTaskMeans(t *testing.T) {
	rd := t.TempDir()
	write := func(name, text string) {
		if err := os.WriteFile(filepath.Join(rd, name), []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	write("tasks.jsonl", `{"task":0,"online_acc":0.5,"steps":80}
{"task":1,"online_acc":0.4,"steps":160}
`)
	write("metrics.jsonl", `{"step":40,"diag":{"x":1}}
{"step":80,"diag":{"x":3}}
{"step":120,"diag":{"x":null}}
{"step":160,"diag":{"x":9}}
`)
	x, y, err := taskMeans(rd, "diag.x", nil)
	if err != nil || !slices.Equal(x, []float64{1, 2}) || !slices.Equal(y, []float64{2, 9}) {
		t.Fatalf("taskMeans: %v %v %v", x, y, err)
	}
	_, y, _ = taskMeans(rd, "diag.x", math.Sqrt)
	if y[1] != 3 {
		t.Fatalf("mapped task mean %v, want 3", y[1])
	}
}

func TestPearsonAndFit(t *testing.T) {
	if r := pearson([]float64{1, 2, 3, math.NaN()}, []float64{2, 4, 6, 1}); math.Abs(r-1) > 1e-12 {
		t.Fatalf("r = %v, want 1", r)
	}
	if _, r := fitted([]float64{1, 1, 1}, []float64{1, 2, 3}); !math.IsNaN(r) {
		t.Fatalf("a constant predictor got r = %v", r)
	}
}

func TestNamesAndReports(t *testing.T) {
	names := Names()
	if i, j := slices.Index(names, "fig2"), slices.Index(names, "fig11"); i < 0 || j < 0 || i > j {
		t.Fatalf("Names() = %v", names)
	}
	if ReportName([]string{"all"}, "paper") != "report.md" || ReportName([]string{"fig5", "fig6"}, "paper") != "report-fig5-fig6.md" ||
		ReportName([]string{"fig5"}, "authors") != "authors-report-fig5.md" {
		t.Fatal("ReportName")
	}
}

// TestSharedRunsAreIdentical: a run name used by several figures must mean
// one config, or the skip-if-done logic would reuse the wrong run.
func TestSharedRunsAreIdentical(t *testing.T) {
	for _, su := range allSetups(2) {
		scale := su.Scale + "/" + su.Protocol
		byName := map[string]string{}
		for _, n := range Names() {
			if su.Protocol == "authors" && !Figures[n].Authors {
				continue
			}
			for _, r := range Figures[n].Runs(su) {
				cfg := string(r.Config.Marshal())
				if prev, ok := byName[r.Name]; ok && prev != cfg {
					t.Errorf("%s %s: run %s has two configs", scale, n, r.Name)
				}
				byName[r.Name] = cfg
				if err := r.Config.Validate(); err != nil {
					t.Errorf("%s %s: run %s: %v", scale, n, r.Name, err)
				}
			}
		}
	}
}

// TestExecuteRefusesAnotherConfig: a run directory holding another config
// under the run's name is reported, not reused or overwritten.
func TestExecuteRefusesAnotherConfig(t *testing.T) {
	dir := t.TempDir()
	r := fig5Subset(Setup{Scale: "smoke", Seeds: 1, Protocol: "paper"}, "scheduled")[0]
	other := r.Config
	other.Schedule.Alpha = "paper"
	rd := filepath.Join(dir, "runs", r.Name)
	if err := os.MkdirAll(rd, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(rd, "config.yaml"), other.Marshal(), 0o644); err != nil {
		t.Fatal(err)
	}
	err := Execute(context.Background(), "/nonexistent/lot", dir, []Run{r}, 1, func(string) {})
	if err == nil || !strings.Contains(err.Error(), "another config") || !strings.Contains(err.Error(), rd) {
		t.Fatalf("Execute: %v", err)
	}
}

// TestRemainingCostOrder: a Wasserstein run outranks an L2 run of the same
// length, full diagnostics outrank light ones, and logged tasks are paid.
func TestRemainingCostOrder(t *testing.T) {
	dir := t.TempDir()
	base, err := Base(Setup{Scale: "smoke", Seeds: 1, Protocol: "paper"})
	if err != nil {
		t.Fatal(err)
	}
	run := func(name, reg, level string) Run {
		c := base
		c.Reg, c.Diagnostics.Level = reg, level
		return Run{Name: name, Config: c}
	}
	l2, wass, full := run("l2", "l2", "light"), run("wass", "wasserstein", "light"), run("full", "l2", "full")
	if !(remainingCost(dir, wass) > remainingCost(dir, full) && remainingCost(dir, full) > remainingCost(dir, l2)) {
		t.Errorf("costs wass %v, full %v, l2 %v: want decreasing", remainingCost(dir, wass), remainingCost(dir, full), remainingCost(dir, l2))
	}
	// The authors' controller (101 cold products per layer) outranks a warm
	// solver's full diagnostics, by about the 3.4 measured.
	cold := full
	cold.Name, cold.Config.Diagnostics.SharpStart, cold.Config.Diagnostics.PowerIters = "cold", "cold", 101
	cold.Config.Hidden, cold.Config.LogEvery = []int{256, 256}, 40
	light := cold
	light.Name, light.Config.Diagnostics.Level = "light", "light"
	if r := remainingCost(dir, cold) / remainingCost(dir, light); r < 3 || r > 3.8 {
		t.Errorf("cold 101-product solves cost %.2f times a run without diagnostics, want about 3.4", r)
	}
	batch := cold
	batch.Name, batch.Config.Diagnostics.Solver = "batch", diagnostics.SolverPowerBatch
	if r := remainingCost(dir, batch) / remainingCost(dir, light); r < 1.6 || r > 2 {
		t.Errorf("cold 101-product solves under power-batch cost %.2f times a run without diagnostics, want about 1.8", r)
	}
	before := remainingCost(dir, l2)
	if err := os.MkdirAll(filepath.Join(dir, "runs", "l2"), 0o755); err != nil {
		t.Fatal(err)
	}
	logged := strings.Repeat("{}\n", base.Tasks-1)
	if err := os.WriteFile(filepath.Join(dir, "runs", "l2", "tasks.jsonl"), []byte(logged), 0o644); err != nil {
		t.Fatal(err)
	}
	if got, want := remainingCost(dir, l2), before/float64(base.Tasks); math.Abs(got-want) > 1e-9*want {
		t.Errorf("with %d of %d tasks logged: cost %v, want %v", base.Tasks-1, base.Tasks, got, want)
	}
}

// TestRunOrder: one worker takes the interrupted L2 run near its end (one
// task left) before the fresh runs, and then the cheaper fresh run first;
// several workers keep the caller's order (longest first).
func TestRunOrder(t *testing.T) {
	dir := t.TempDir()
	base, err := Base(Setup{Scale: "smoke", Seeds: 1, Protocol: "paper"})
	if err != nil {
		t.Fatal(err)
	}
	run := func(name, reg string) Run {
		c := base
		c.Reg = reg
		return Run{Name: name, Config: c}
	}
	wass, l2, near := run("wass", "wasserstein"), run("l2", "l2"), run("near", "wasserstein")
	if err := os.MkdirAll(filepath.Join(dir, "runs", "near"), 0o755); err != nil {
		t.Fatal(err)
	}
	logged := strings.Repeat("{}\n", base.Tasks-1)
	if err := os.WriteFile(filepath.Join(dir, "runs", "near", "tasks.jsonl"), []byte(logged), 0o644); err != nil {
		t.Fatal(err)
	}
	names := func(rs []Run) (s []string) {
		for _, r := range rs {
			s = append(s, r.Name)
		}
		return s
	}
	in := []Run{wass, l2, near}
	if got, want := names(runOrder(dir, in, 1)), []string{"near", "l2", "wass"}; !slices.Equal(got, want) {
		t.Errorf("one worker: %v, want %v", got, want)
	}
	if got, want := names(runOrder(dir, in, 2)), []string{"wass", "l2", "near"}; !slices.Equal(got, want) {
		t.Errorf("two workers: %v, want %v", got, want)
	}
}

// The verdicts of Figs. 3, 4 and 6 on hand-made summaries, each on both
// sides of its test.
func TestBoundsVerdict(t *testing.T) {
	rising := []boundStats{{0.1, 0.1, 0.3}, {0.2, 0.3, 0.5}}
	if v := boundsVerdict(rising); !strings.Contains(v, "It holds") {
		t.Errorf("rising α and shares: %s", v)
	}
	// α rises but its crossings of α̃* fall: the claim needs both.
	mixed := []boundStats{{0.1, 0.5, 0.3}, {0.2, 0.3, 0.5}}
	if v := boundsVerdict(mixed); !strings.Contains(v, "does not hold") || !strings.Contains(v, "share above α̃* 0.5 → 0.3 (does not rise)") {
		t.Errorf("falling α̃* crossings: %s", v)
	}
	if v := boundsVerdict(nil); !strings.Contains(v, "cannot be tested") {
		t.Errorf("no tasks: %s", v)
	}
}

func TestRhoVerdict(t *testing.T) {
	for _, c := range []struct {
		rho, g, vol float64
		holds       bool
	}{
		{-0.9, -0.8, -0.5, true},
		{-0.79, -0.80, -0.69, false}, // α_g* as good: paper-scale CReLU
		{-0.84, -0.80, -0.69, false}, // better, but within the margin
		{0.5, 0.6, 0.7, false},       // positive: predicts nothing
		{math.NaN(), -0.5, -0.5, false},
		{-0.3, math.NaN(), math.NaN(), true},
	} {
		if v := rhoVerdict("s", c.rho, c.g, c.vol); v.holds != c.holds {
			t.Errorf("ρ̂ %v, α_g* %v, α_vol* %v: holds %v, want %v (%s)", c.rho, c.g, c.vol, v.holds, c.holds, v.text)
		}
	}
}

func TestLRShapeVerdict(t *testing.T) {
	for _, c := range []struct {
		setting string
		layers  []layerLR
		holds   bool
	}{
		{"l2", []layerLR{{"fc1", 0.02, 0.02, 0.0015, 0}, {"fc2", 0.02, 0.02, 0.005, 0}}, true},
		{"l2", []layerLR{{"fc1", 1e-3, 1.4e-3, 1.3e-3, 5}, {"fc2", 1e-3, 2.2e-3, 2.1e-3, 9}}, false},
		{"wasserstein", []layerLR{{"fc1", 0.02, 0.02, 0.002, 0}, {"fc2", 0.02, 0.02, 0.01, 3}}, false}, // warms only undid cooling
		{"wasserstein", []layerLR{{"fc1", 0.02, 0.03, 0.002, 3}, {"fc2", 0.02, 0.02, 0.01, 0}}, true},
		{"crelu", []layerLR{{"fc1", 1e-3, 1e-3, 1e-3, 0}, {"fc2", 1e-3, 5e-3, 5e-3, 40}}, true},
		{"crelu", []layerLR{{"fc1", 1e-3, 0.13, 0.13, 9}, {"fc2", 1e-3, 1.8, 1.8, 774}}, false}, // runaway
		{"crelu", nil, false},
	} {
		if v := lrShapeVerdict(c.setting, c.layers); v.holds != c.holds {
			t.Errorf("%s %v: holds %v, want %v (%s)", c.setting, c.layers, v.holds, c.holds, v.text)
		}
	}
}

func TestTally(t *testing.T) {
	held, said := tally([]settingVerdict{{true, "a: holds"}, {false, "b: does not"}, {true, "c: holds"}})
	if held != 2 || said != "a: holds; b: does not; c: holds" {
		t.Fatalf("tally = %d, %q; want 2, %q", held, said, "a: holds; b: does not; c: holds")
	}
}

// allSetups is every scale under both protocols.
func allSetups(seeds int) []Setup {
	var out []Setup
	for _, p := range []string{"paper", "authors"} {
		for _, sc := range Scales {
			out = append(out, Setup{Scale: sc, Seeds: seeds, Protocol: p})
		}
	}
	return out
}

// TestControllerVerdict: the controller test on both sides of its
// tolerance, and on a variant that did not finish (NaN).
func TestControllerVerdict(t *testing.T) {
	for _, tc := range []struct {
		last  map[string]float64
		holds bool
	}{
		{map[string]float64{"run-40": 0.33, "task-40": 0.30, "run-400": 0.37}, true},
		{map[string]float64{"run-40": 0.33, "task-40": 0.109, "run-400": 0.34}, false},
		{map[string]float64{"run-40": 0.33, "task-40": 0.33, "run-400": math.NaN()}, false},
	} {
		got := controllerVerdict(tc.last)
		if strings.Contains(got, "It holds") != tc.holds || strings.Contains(got, "does not hold") == tc.holds {
			t.Errorf("%v: %q, want holds %v", tc.last, got, tc.holds)
		}
	}
}
