package train

import (
	"encoding/json"
	"math"
	"path/filepath"
	"slices"
	"testing"

	"github.com/lot-toolkit/lot/rundir"
)

// TestAuthorsProtocolFillsWhatTheUserLeft checks the authors' protocol
// against the reference notes' list, setting by setting: each Fig. 5
// setting gets its own learning rate and its controller its own s, every
// shared point is set, and whatever the user gave wins.
func TestAuthorsProtocolFillsWhatTheUserLeft(t *testing.T) {
	resolve := func(kv ...string) Config {
		t.Helper()
		settings := []Setting{{Key: "protocol", Value: "authors"}}
		for i := 0; i < len(kv); i += 2 {
			settings = append(settings, Setting{Key: kv[i], Value: kv[i+1]})
		}
		c, err := Resolve("", settings)
		if err != nil {
			t.Fatal(err)
		}
		return c
	}
	for _, tc := range []struct {
		name     string
		kv       []string
		lr       float64
		reg      string
		codeS    string
		strength float64
	}{
		{"crelu", []string{"activation", "crelu"}, 1e-2, "none", "var", 1e-3},
		{"l2", []string{"reg", "l2"}, 1e-3, "l2", "lambda", 1e-3},
		{"wasserstein", []string{"reg", "wasserstein"}, 1e-3, "wasserstein", "sq-mean-code", 1e-3},
	} {
		c := resolve(tc.kv...)
		if c.LR != tc.lr || c.Reg != tc.reg || c.RegStrength != tc.strength || c.Diagnostics.CodeS != tc.codeS {
			t.Errorf("%s: lr %v reg %s λ %v s %s, want %v %s %v %s", tc.name, c.LR, c.Reg, c.RegStrength, c.Diagnostics.CodeS, tc.lr, tc.reg, tc.strength, tc.codeS)
		}
		// The points every setting shares (reference notes, "The authors protocol").
		d, s := c.Diagnostics, c.Schedule
		if c.Samples != -1 || c.Normalize != "full-train" || !slices.Equal(c.Hidden, []int{256, 256}) || c.Init != "kaiming-uniform" ||
			c.AdamBetas != "authors-ramp" || c.Tasks != 40 || c.Epochs != 250 || c.Batch != 256 || c.LogEvery != 40 ||
			c.LogPhase != "start" || !c.SkipLoggedUpdate || c.Relabel != 1 {
			t.Errorf("%s: data, model or loop not the authors': %+v", tc.name, c)
		}
		if d.Solver != "power-batch" || d.PowerIters != 101 || d.PowerTol != 0 || d.SharpStart != "cold" || d.SharpNorm != "global" ||
			d.VolStat != "code" || d.Window != 30 || d.Threshold != "code" || d.CodeC != 20 {
			t.Errorf("%s: signals not the authors': %+v", tc.name, d)
		}
		if s.Alpha != "code" || s.Gamma != 0.8 || s.Cool != 0.99 || s.Warm != 1.01 || s.Floor != 0.12 ||
			s.WarmHorizon != 0.1 || s.WarmRatio != 0.3 || s.WarmCounter != "run" {
			t.Errorf("%s: controller not the authors': %+v", tc.name, s)
		}
	}
	// The user's values win, whatever the order of the settings.
	c := resolve("activation", "crelu", "lr", "0.005", "tasks", "2", "schedule.warm_counter", "task")
	if c.LR != 0.005 || c.Tasks != 2 || c.Schedule.WarmCounter != "task" || c.Epochs != 250 {
		t.Errorf("explicit values lost: lr %v tasks %d counter %s epochs %d", c.LR, c.Tasks, c.Schedule.WarmCounter, c.Epochs)
	}
	// The paper protocol is the defaults.
	p, err := Resolve("", []Setting{{Key: "protocol", Value: "paper"}})
	if err != nil || p.Hash() != Default().Hash() {
		t.Errorf("protocol paper differs from the defaults: %v", err)
	}
}

// TestSkipLoggedUpdateAndLogPhase: with log_phase start the rows fall at
// the run's 1st, K+1-th, … update, and skip_logged_update makes Adam take
// no step there: its step count at the end is the run's steps less the
// logged ones.
func TestSkipLoggedUpdateAndLogPhase(t *testing.T) {
	for _, skip := range []bool{false, true} {
		cfg := small()
		cfg.LogPhase, cfg.SkipLoggedUpdate, cfg.LogEvery = "start", skip, 4
		dir := filepath.Join(t.TempDir(), "run")
		s := mustRun(t, cfg, dir)
		rows := readRows(t, filepath.Join(dir, "metrics.jsonl"))
		for i, r := range rows {
			if got := int64(r["step"].(float64)); got != int64(i*4+1) {
				t.Fatalf("skip %v: row %d at step %d, want %d", skip, i, got, i*4+1)
			}
		}
		f, err := rundir.ReadCheckpoint(rundir.Checkpoint(dir))
		if err != nil {
			t.Fatal(err)
		}
		var pos Position
		if err := json.Unmarshal([]byte(f.Meta[rundir.MetaPosition]), &pos); err != nil {
			t.Fatal(err)
		}
		want := s.Steps
		if skip {
			want -= int64(len(rows))
		}
		for _, got := range pos.GroupSteps {
			if got != want {
				t.Errorf("skip %v: Adam counted %d steps in %d updates with %d logged, want %d", skip, got, s.Steps, len(rows), want)
			}
		}
	}
}

// TestLaterLayersReadGroupZerosDecidedRate: in the authors' loop the
// controller decides layer by layer while their signals are computed, and
// the global normaliser reads group 0's rate as it then is. So at every
// decision step each later layer's α_agg is fc1's times fc1's decision
// (0.99 cooled, 1.01 warmed, 1 held); the run must take both kinds of
// step for the test to count.
func TestLaterLayersReadGroupZerosDecidedRate(t *testing.T) {
	cfg := goldenConfig(t, []string{"protocol", "authors", "activation", "crelu", "method", "scheduled", "hidden", "40,40"})
	dir := filepath.Join(t.TempDir(), "run")
	mustRun(t, cfg, dir)
	factor := map[string]float64{"hold": 1, "cool": cfg.Schedule.Cool, "warm": cfg.Schedule.Warm}
	changed, held := 0, 0
	for _, row := range readRows(t, filepath.Join(dir, "metrics.jsonl")) {
		sched, ok := row["sched"].(map[string]any)
		if !ok {
			continue
		}
		f := factor[sched["fc1"].(string)]
		if f == 1 {
			held++
		} else {
			changed++
		}
		layers := row["diag"].(map[string]any)["layers"].(map[string]any)
		agg := func(name string) float64 { return layers[name].(map[string]any)["alpha_agg"].(float64) }
		for _, name := range []string{"fc2", "fc3"} {
			if got, want := agg(name), agg("fc1")*f; math.Abs(got-want) > 1e-12*want {
				t.Errorf("step %v: %s α_agg %v, want fc1's %v × %v", row["step"], name, got, agg("fc1"), f)
			}
		}
	}
	if changed == 0 || held == 0 {
		t.Fatalf("fc1 changed at %d and held at %d decision steps: the test needs both", changed, held)
	}
	t.Logf("fc1 changed at %d decision steps, held at %d", changed, held)
}
