package train

import (
	"encoding/json"
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/lot-toolkit/lot/rundir"
)

func TestReadSeriesAndSeedGroups(t *testing.T) {
	dir := t.TempDir()
	cfg := small()
	a, b, c := filepath.Join(dir, "a"), filepath.Join(dir, "b"), filepath.Join(dir, "c")
	mustRun(t, cfg, a)
	cfg.Seed = 7
	mustRun(t, cfg, b)
	cfg.LR = 3e-3
	mustRun(t, cfg, c)

	s, err := ReadSeries(a, "final_acc")
	if err != nil || !s.PerTask || len(s.Y) != cfg.Tasks || s.X[0] != 1 {
		t.Fatalf("final_acc: %+v, %v", s, err)
	}
	steps := int64(cfg.Epochs * ((cfg.Samples + cfg.Batch - 1) / cfg.Batch))
	if len(s.TaskEnds) != cfg.Tasks || s.TaskEnds[0] != float64(steps) {
		t.Fatalf("task ends %v, want multiples of %d", s.TaskEnds, steps)
	}
	lr, err := ReadSeries(a, "diag.layers.fc1.alpha")
	if err != nil || lr.PerTask || len(lr.Y) == 0 || lr.X[0] != float64(cfg.LogEvery) {
		t.Fatalf("diag.layers.fc1.alpha: %+v, %v", lr, err)
	}
	if _, err := ReadSeries(a, "diag.nothing"); err == nil {
		t.Fatal("an unknown metric gave no error")
	}
	groups, err := SeedGroups([]string{a, c, b})
	if err != nil || len(groups) != 2 || len(groups[0]) != 2 || groups[0][1] != b || groups[1][0] != c {
		t.Fatalf("groups %v, %v", groups, err)
	}
}

// TestReadSeriesMatchesEncodingJSON: a real run's per-layer metric, read
// through the index, equals encoding/json's reading of every line; a
// malformed line is an error naming its file and line, and once the log is
// cut back (as a resume does) the cached index reads it again.
func TestReadSeriesMatchesEncodingJSON(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "run")
	cfg := small()
	cfg.Diagnostics.Level = "full" // α̃*: null until the volatility has a history
	mustRun(t, cfg, dir)
	const metric = "diag.layers.fc2.alpha_tilde"
	s, err := ReadSeries(dir, metric)
	if err != nil {
		t.Fatal(err)
	}
	raw, err := os.ReadFile(rundir.Metrics(dir))
	if err != nil {
		t.Fatal(err)
	}
	var x, y []float64
	for _, line := range strings.Split(strings.TrimSpace(string(raw)), "\n") {
		var row struct {
			Step float64
			Diag struct {
				Layers map[string]map[string]any
			}
		}
		if err := json.Unmarshal([]byte(line), &row); err != nil {
			t.Fatal(err)
		}
		if v, ok := row.Diag.Layers["fc2"]["alpha_tilde"].(float64); ok {
			x, y = append(x, row.Step), append(y, v)
		}
	}
	if len(y) == 0 || !slices.Equal(s.X, x) || !slices.Equal(s.Y, y) {
		t.Fatalf("read %d values, encoding/json %d, or they differ", len(s.Y), len(y))
	}

	lines := strings.Count(string(raw), "\n")
	f, err := os.OpenFile(rundir.Metrics(dir), os.O_APPEND|os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	f.WriteString(`{"step":` + "\n" + `{"step":99999,"acc":0.5`) // torn, then being written
	f.Close()
	_, err = ReadSeries(dir, metric)
	if want := fmt.Sprintf("metrics.jsonl:%d:", lines+1); err == nil || !strings.Contains(err.Error(), want) {
		t.Fatalf("a torn line: %v, want an error naming %s", err, want)
	}
	if err := os.WriteFile(rundir.Metrics(dir), raw, 0o644); err != nil {
		t.Fatal(err)
	}
	if again, err := ReadSeries(dir, metric); err != nil || !slices.Equal(again.Y, y) {
		t.Fatalf("after the cut: %v", err)
	}
}

// TestCountValues counts a layer's decisions line by line, leaves out a
// last line still being written, and names the line of a malformed one.
func TestCountValues(t *testing.T) {
	dir := t.TempDir()
	log := `{"step":1,"sched":{"fc1":"warm","fc2":"hold"}}
{"step":2,"sched":{"fc1":"cool"}}
{"step":3,"sched":{"fc1":"warm","fc2":"cool"}}
{"step":4}
{"step":5,"sched":{"fc1":"cool"`
	if err := os.WriteFile(rundir.Metrics(dir), []byte(log), 0o644); err != nil {
		t.Fatal(err)
	}
	got, err := CountValues(dir, "sched.fc1", "sched.fc2")
	if err != nil || len(got) != 2 {
		t.Fatalf("counts %v, %v", got, err)
	}
	for i, want := range []map[string]int{{"warm": 2, "cool": 1}, {"hold": 1, "cool": 1}} {
		if !maps.Equal(got[i], want) {
			t.Errorf("path %d: counts %v, want %v", i, got[i], want)
		}
	}
	if err := os.WriteFile(rundir.Metrics(dir), []byte(strings.Replace(log, `{"step":2,`, `{"step":2`, 1)), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := CountValues(dir, "sched.fc1"); err == nil || !strings.Contains(err.Error(), "metrics.jsonl:2:") {
		t.Fatalf("a malformed line 2: %v", err)
	}
}
