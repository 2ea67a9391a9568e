package experiments

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/lot-toolkit/lot/train"
)

// TestSweepPointsAndNames: every combination of the grid is a point, the
// first key outermost, named from its values as the config holds them,
// with the config train.Resolve makes of the preset, base and the point.
func TestSweepPointsAndNames(t *testing.T) {
	spec, err := ParseSweep([]byte(`
base:
  preset: smoke
  protocol: paper
  reg: l2
  diagnostics: {level: light}
grid:
  lr: [1e-4, 0.001]
  hidden: ["8,8", "16"]
  seed: [0, 1, 2]
`))
	if err != nil {
		t.Fatal(err)
	}
	runs, err := spec.Runs()
	if err != nil {
		t.Fatal(err)
	}
	if len(runs) != 12 {
		t.Fatalf("%d points, want 12", len(runs))
	}
	var i int
	for _, lr := range []string{"0.0001", "0.001"} {
		for _, hidden := range []string{"8,8", "16"} {
			for _, seed := range []string{"0", "1", "2"} {
				want, err := train.Resolve("smoke", []train.Setting{{Key: "protocol", Value: "paper"}, {Key: "reg", Value: "l2"},
					{Key: "diagnostics.level", Value: "light"}, {Key: "lr", Value: lr}, {Key: "hidden", Value: hidden}, {Key: "seed", Value: seed}})
				if err != nil {
					t.Fatal(err)
				}
				name := "lr-" + lr + "_hidden-" + strings.ReplaceAll(hidden, ",", "x") + "_seed-" + seed
				if runs[i].Name != name || runs[i].Group != name || runs[i].Config.Hash() != want.Hash() {
					t.Fatalf("point %d: %s (%s), want %s (%s)", i, runs[i].Name, runs[i].Config.Hash(), name, want.Hash())
				}
				i++
			}
		}
	}
	if runs[0].Config.Diagnostics.Level != "light" || runs[0].Config.Reg != "l2" || runs[0].Config.Tasks != 3 {
		t.Fatalf("base not applied: %+v", runs[0].Config)
	}
}

// TestSweepRefusesBadFiles: each fault is one error naming it.
func TestSweepRefusesBadFiles(t *testing.T) {
	for _, tc := range []struct{ yaml, want string }{
		{"base: {preset: smoke}\n", "grid: no keys"},
		{"grid: {seed: [0]}\nbase: {preset: smoke}\nextra: 1\n", `unknown key "extra"`},
		{"grid: {sede: [0, 1]}\n", `unknown config key "sede"`},
		{"grid: {seed: 0}\n", "seed: want a list of values"},
		{"grid: {seed: []}\n", "seed: want a list of values"},
		{"grid: {seed: [[0]]}\n", "want values, not lists"},
		{"grid: {preset: [smoke, quick]}\n", "name the preset in base"},
		{"base: {seed: 1}\ngrid: {seed: [0, 1]}\n", "seed is set in base too"},
		{"base: {preset: huge}\ngrid: {seed: [0]}\n", "unknown preset"},
		{"base: {lr: -1}\ngrid: {seed: [0]}\n", "point seed=0: lr: learning rate must be a positive"},
		{"grid: {lr: [0.01, -1]}\n", "point lr=-1: lr: learning rate must be a positive"},
		{"grid: {lr: [0.01, 1e-2]}\n", "the same run lr-0.01"},
		{"grid: [1, 2]\n", "want a map of config keys to lists"},
		{"grid: {seed: [0, 1}\n", "not a valid sweep"},
	} {
		_, err := ParseSweep([]byte(tc.yaml))
		if err == nil || !strings.Contains(err.Error(), tc.want) || strings.Contains(err.Error(), "\n") {
			t.Errorf("%q: got %v, want one line with %q", tc.yaml, err, tc.want)
		}
	}
}

// TestSweepSummary: once every point has finished, summary.csv and
// summary.md hold each point's status and its final and mean online
// accuracy as summary.json gives them; before, the sweep is pending and
// writes no summary. The fake lot writes a summary whose accuracies come
// from the point's seed.
func TestSweepSummary(t *testing.T) {
	dir := t.TempDir()
	exe := filepath.Join(dir, "fake-lot")
	script := `#!/bin/sh
out=$3
seed=$(sed -n 's/^seed: //p' "$5")
[ "$seed" = 2 ] && [ ! -e "$out.once" ] && { touch "$out.once"; exit 1; }
mkdir -p "$out"
cp "$5" "$out/config.yaml"
printf '{"status":"finished","tasks":3,"final_online_acc":0.%s25,"mean_online_acc":0.%s5}' $seed $seed > "$out/summary.json"
`
	os.WriteFile(exe, []byte(script), 0o755)
	file := filepath.Join(dir, "grid.yaml")
	os.WriteFile(file, []byte("base: {preset: smoke}\ngrid: {seed: [1, 2]}\n"), 0o644)
	out := filepath.Join(dir, "sweep")
	err := Sweep(context.Background(), Local{Exe: exe, Jobs: 1}, out, file, func(string) {})
	if err == nil || errors.Is(err, ErrSweepPending) || !strings.Contains(err.Error(), "run seed-2") {
		t.Fatalf("a failed point: got %v", err)
	}
	states, _ := SweepStatus(out)
	if len(states) != 2 || states[0].State != StateDone || states[1].State != StateFailed || states[1].Why != "exit status 1" {
		t.Fatalf("states: %+v", states)
	}
	if _, err := os.Stat(filepath.Join(out, SweepSummaryCSV)); err == nil {
		t.Fatal("summary written with a point failed")
	}
	if err := Sweep(context.Background(), Local{Exe: exe, Jobs: 1}, out, file, func(string) {}); err != nil {
		t.Fatal(err)
	}
	csv, _ := os.ReadFile(filepath.Join(out, SweepSummaryCSV))
	wantCSV := "run,seed,status,tasks,final_online_acc,mean_online_acc\nseed-1,1,finished,3,0.125,0.15\nseed-2,2,finished,3,0.225,0.25\n"
	if string(csv) != wantCSV {
		t.Fatalf("summary.csv:\n%s\nwant:\n%s", csv, wantCSV)
	}
	md, _ := os.ReadFile(filepath.Join(out, SweepSummaryMarkdown))
	if !strings.Contains(string(md), "| seed-2 | 2 | finished | 3 | 0.2250 | 0.2500 |\n") {
		t.Fatalf("summary.md:\n%s", md)
	}
	if _, err := os.Stat(filepath.Join(out, "runs", "seed-2.failed")); err == nil {
		t.Fatal("the failure mark outlived the rerun that finished the point")
	}
}
