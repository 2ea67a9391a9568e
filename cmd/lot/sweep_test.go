package main

import (
	"github.com/lot-toolkit/lot/rundir"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// TestSweepLocal: `lot sweep` runs each point once, writes the summaries,
// and a second call skips every point; `lot sweep status` counts them.
func TestSweepLocal(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, "grid.yaml")
	os.WriteFile(file, []byte("base: {preset: smoke}\ngrid: {seed: [0, 1]}\n"), 0o644)
	out := filepath.Join(dir, "sweep")
	if b, err := exec.Command(binary, "sweep", file, "--out", out).CombinedOutput(); err != nil || strings.Count(string(b), "starting") != 2 {
		t.Fatalf("%v\n%s", err, b)
	}
	md, err := os.ReadFile(filepath.Join(out, "summary.md"))
	if err != nil || !strings.Contains(string(md), "| seed-1 | 1 | finished | 3 | ") {
		t.Fatalf("summary.md: %v\n%s", err, md)
	}
	b, err := exec.Command(binary, "sweep", file, "--out", out).CombinedOutput()
	if err != nil || strings.Count(string(b), "done already") != 2 || strings.Contains(string(b), "starting") {
		t.Fatalf("second call: %v\n%s", err, b)
	}
	b, err = exec.Command(binary, "sweep", "status", out).CombinedOutput()
	if err != nil || !strings.Contains(string(b), "2 runs: 2 done\n") || !strings.Contains(string(b), rundir.RunLog(filepath.Join(out, "runs", "seed-0"))) {
		t.Fatalf("status: %v\n%s", err, b)
	}
}

// TestExecutorBadInput: bad sweep files and executor flags give one line
// naming the flag or the file, and submit nothing (no Slurm needed).
func TestExecutorBadInput(t *testing.T) {
	dir := t.TempDir()
	good := filepath.Join(dir, "grid.yaml")
	os.WriteFile(good, []byte("base: {preset: smoke}\ngrid: {seed: [0, 1]}\n"), 0o644)
	bad := filepath.Join(dir, "bad.yaml")
	os.WriteFile(bad, []byte("grid: {sede: [0, 1]}\n"), 0o644)
	out := filepath.Join(dir, "out")
	for _, tc := range []struct {
		args []string
		want []string
	}{
		{[]string{"sweep", good}, []string{"--out"}},
		{[]string{"sweep", filepath.Join(dir, "absent.yaml"), "--out", out}, []string{"absent.yaml", "no such file"}},
		{[]string{"sweep", bad, "--out", out}, []string{"bad.yaml", "sede"}},
		{[]string{"sweep", "status", filepath.Join(dir, "nowhere")}, []string{"nowhere", "no sweep here"}},
		{[]string{"sweep", good, "--out", out, "--executor", "pbs"}, []string{"--executor", "pbs"}},
		{[]string{"sweep", good, "--out", out, "--partition", "cpu"}, []string{"--partition", "--executor slurm"}},
		{[]string{"sweep", good, "--out", out, "--executor", "slurm", "--jobs", "3"}, []string{"--jobs", "--throttle"}},
		{[]string{"sweep", good, "--out", out, "--executor", "slurm", "--dry-run", "--cpus-per-task", "4"}, []string{"cpus-per-task", "threads 1"}},
		{[]string{"sweep", good, "--out", out, "--executor", "slurm", "--dry-run", "--sbatch", "--array=1-3"}, []string{"--array"}},
		{[]string{"reproduce", "fig5", "--scale", "smoke", "--out", out, "--jobs", "0"}, []string{"--jobs", "at least 1"}},
		{[]string{"reproduce", "fig5", "--scale", "smoke", "--out", out, "--wait"}, []string{"--wait", "--executor slurm"}},
	} {
		cmd := exec.Command(binary, tc.args...)
		var stderr strings.Builder
		cmd.Stderr = &stderr
		err := cmd.Run()
		msg := strings.TrimSpace(stderr.String())
		if err == nil || strings.Count(msg, "\n") != 0 || !strings.HasPrefix(msg, "lot: ") {
			t.Errorf("%v: want one line starting with 'lot: ' and an exit status, got %v:\n%s", tc.args, err, msg)
			continue
		}
		for _, w := range tc.want {
			if !strings.Contains(msg, w) {
				t.Errorf("%v: message %q does not mention %q", tc.args, msg, w)
			}
		}
	}
}

// TestDryRunPrintsScripts: --dry-run prints the array script and the
// dependent job, and submits nothing.
func TestDryRunPrintsScripts(t *testing.T) {
	out := filepath.Join(t.TempDir(), "out")
	b, err := exec.Command(binary, "reproduce", "fig5", "--scale", "smoke", "--out", out, "--executor", "slurm", "--dry-run", "--throttle", "3").CombinedOutput()
	if err != nil || !strings.Contains(string(b), "#SBATCH --array=0-8%3\n") || !strings.Contains(string(b), "--dependency=afterok:JOB") {
		t.Fatalf("%v\n%s", err, b)
	}
	if _, err := os.Stat(filepath.Join(out, "slurm")); err == nil {
		t.Fatal("a dry run wrote submissions")
	}
}
