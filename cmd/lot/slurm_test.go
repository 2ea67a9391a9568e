package main

import (
	"bytes"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/lot-toolkit/lot/rundir"
)

// slurmUp stops the test unless a Slurm cluster answers (scripts/slurm-up
// starts one): in CI it fails, saying why, as CI must run these tests;
// elsewhere it skips.
func slurmUp(t *testing.T) {
	t.Helper()
	out, err := exec.Command("sinfo", "--noheader", "--format=%t").CombinedOutput()
	state := strings.TrimSpace(string(out))
	if err == nil && (strings.Contains(state, "idle") || strings.Contains(state, "mix") || strings.Contains(state, "alloc")) {
		return
	}
	msg := "no Slurm cluster accepts jobs here (sinfo: " + strings.TrimSpace(state)
	if err != nil {
		msg += ", " + err.Error()
	}
	msg += "); scripts/slurm-up starts one"
	if os.Getenv("CI") != "" {
		t.Fatal(msg)
	}
	t.Skip(msg)
}

// sameResults compares the runs under two directories' runs/ bit for bit,
// timing fields aside: config.yaml, metrics.jsonl, tasks.jsonl, the final
// checkpoint's tensors (sameRun) and summary.json.
func sameResults(t *testing.T, ref, dir string) {
	t.Helper()
	runs, _ := filepath.Glob(filepath.Join(ref, "runs", "*", rundir.SummaryFile))
	if len(runs) == 0 {
		t.Fatalf("%s: no finished runs", ref)
	}
	for _, s := range runs {
		name := filepath.Base(filepath.Dir(s))
		a, b := filepath.Join(ref, "runs", name), filepath.Join(dir, "runs", name)
		sameRun(t, a, b)
		for _, f := range []string{rundir.ConfigFile, rundir.SummaryFile} {
			ca, _ := os.ReadFile(filepath.Join(a, f))
			cb, _ := os.ReadFile(filepath.Join(b, f))
			if f == rundir.SummaryFile {
				ca, cb = untimedJSON(t, ca), untimedJSON(t, cb)
			}
			if len(ca) == 0 || !bytes.Equal(ca, cb) {
				t.Fatalf("%s: %s differs from %s's:\n%s\n%s", b, f, a, cb, ca)
			}
		}
	}
}

// untimedJSON is a summary.json without its timing fields.
func untimedJSON(t *testing.T, b []byte) []byte {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal(b, &m); err != nil {
		t.Fatalf("%v: %s", err, b)
	}
	for _, k := range []string{"wall_seconds", "train_seconds", "train_steps_per_sec"} {
		delete(m, k)
	}
	out, _ := json.Marshal(m)
	return out
}

func sameFile(t *testing.T, a, b string) {
	t.Helper()
	ca, err := os.ReadFile(a)
	if err != nil {
		t.Fatal(err)
	}
	if cb, err := os.ReadFile(b); err != nil || !bytes.Equal(ca, cb) {
		t.Fatalf("%s differs from %s (%v)", b, a, err)
	}
}

// TestSlurmReproduceMatchesLocal: `lot reproduce fig5 --scale smoke
// --executor slurm` submits one job array and a dependent job that draws
// the figures once every run finished; runs, report and figures equal the
// local executor's, bit for bit apart from timings. A second call finds
// every run done and submits nothing.
func TestSlurmReproduceMatchesLocal(t *testing.T) {
	slurmUp(t)
	root := t.TempDir()
	local, cluster := filepath.Join(root, "local"), filepath.Join(root, "slurm")
	if b, err := exec.Command(binary, "reproduce", "fig5", "--scale", "smoke", "--out", local).CombinedOutput(); err != nil {
		t.Fatalf("local: %v\n%s", err, b)
	}
	b, err := exec.Command(binary, "reproduce", "fig5", "--scale", "smoke", "--executor", "slurm", "--out", cluster).CombinedOutput()
	if err != nil || strings.Count(string(b), "submitted job") != 2 || !strings.Contains(string(b), "once every run has finished") {
		t.Fatalf("slurm: %v\n%s", err, b)
	}
	// Called again while its jobs are queued, it submits nothing more.
	b, err = exec.Command(binary, "reproduce", "fig5", "--scale", "smoke", "--executor", "slurm", "--out", cluster).CombinedOutput()
	if err != nil || strings.Count(string(b), "queued already")+strings.Count(string(b), "done already") != 9 || strings.Contains(string(b), "submitted") {
		t.Fatalf("a second call while queued should submit nothing: %v\n%s", err, b)
	}
	report := filepath.Join(cluster, "report-fig5.md")
	waitFor(t, 150*time.Second, func() bool { _, err := os.Stat(report); return err == nil }, func() string {
		s, _ := exec.Command(binary, "reproduce", "fig5", "--scale", "smoke", "--status", "--out", cluster).CombinedOutput()
		then, _ := filepath.Glob(filepath.Join(cluster, "slurm", "then-*.out"))
		var tb []byte
		if len(then) > 0 {
			tb, _ = os.ReadFile(then[0])
		}
		return string(s) + string(tb)
	})
	sameResults(t, local, cluster)
	for _, f := range []string{"report-fig5.md", "fig5-l2.svg", "fig5-crelu.png", "fig5-wasserstein.svg"} {
		sameFile(t, filepath.Join(local, f), filepath.Join(cluster, f))
	}
	status, err := exec.Command(binary, "reproduce", "fig5", "--scale", "smoke", "--status", "--out", cluster).CombinedOutput()
	if err != nil || !strings.Contains(string(status), "9 runs: 9 done") {
		t.Fatalf("status: %v\n%s", err, status)
	}
	b, err = exec.Command(binary, "reproduce", "fig5", "--scale", "smoke", "--executor", "slurm", "--out", cluster).CombinedOutput()
	if err != nil || strings.Count(string(b), "done already") != 9 || strings.Contains(string(b), "submitted") {
		t.Fatalf("second call should submit nothing: %v\n%s", err, b)
	}
}

// waitFor polls done until it holds, failing with what state says after
// limit.
func waitFor(t *testing.T, limit time.Duration, done func() bool, state func() string) {
	t.Helper()
	for start := time.Now(); !done(); time.Sleep(200 * time.Millisecond) {
		if time.Since(start) > limit {
			t.Fatalf("not done after %v:\n%s", limit, state())
		}
	}
}

// TestSlurmSweepRequeueAndFailure: a 2×3 sweep run locally and through
// Slurm gives the same runs and summaries, although one of its array tasks
// is requeued mid-run (scontrol requeue): that run checkpoints on Slurm's
// SIGTERM and resumes where it stopped. Then a sweep with a failing point:
// it is reported failed with its log's path, and the others finish.
func TestSlurmSweepRequeueAndFailure(t *testing.T) {
	slurmUp(t)
	root := t.TempDir()
	grid := filepath.Join(root, "grid.yaml")
	os.WriteFile(grid, []byte("base: {preset: smoke, tasks: 30, hidden: 128, samples: 1000}\ngrid: {lr: [0.01, 0.02], seed: [0, 1, 2]}\n"), 0o644)
	local, cluster := filepath.Join(root, "local"), filepath.Join(root, "slurm")
	if b, err := exec.Command(binary, "sweep", grid, "--out", local).CombinedOutput(); err != nil {
		t.Fatalf("local: %v\n%s", err, b)
	}
	var out bytes.Buffer
	sweep := exec.Command(binary, "sweep", grid, "--out", cluster, "--executor", "slurm", "--wait", "--poll", "1s")
	sweep.Stdout, sweep.Stderr = &out, &out
	if err := sweep.Start(); err != nil {
		t.Fatal(err)
	}
	// Requeue the first point's task once it has logged a few tasks; its
	// array task is what `lot sweep status` shows.
	const victim = "lr-0.01_seed-0"
	tasks := filepath.Join(cluster, "runs", victim, rundir.TasksFile)
	waitFor(t, 90*time.Second, func() bool { b, _ := os.ReadFile(tasks); return bytes.Count(b, []byte("\n")) >= 2 }, out.String)
	status, err := exec.Command(binary, "sweep", "status", cluster).CombinedOutput()
	var job string
	rows := strings.Split(string(status), "\n")
	col := slices.Index(strings.Fields(rows[0]), "job") // the column under its header
	for _, line := range rows[1:] {
		if f := strings.Fields(line); col > 0 && len(f) > col && f[0] == victim && f[1] == "running" {
			job = f[col]
		}
	}
	if err != nil || job == "" {
		t.Fatalf("status shows %s not running: %v\n%s", victim, err, status)
	}
	if b, err := exec.Command("scontrol", "requeue", job).CombinedOutput(); err != nil {
		t.Fatalf("scontrol requeue %s: %v %s", job, err, b)
	}
	if err := sweep.Wait(); err != nil {
		t.Fatalf("slurm sweep: %v\n%s", err, out.String())
	}
	// Its log: the first start, interrupted with a checkpoint, then the
	// requeued start resuming from a later step than 0.
	log, _ := os.ReadFile(rundir.RunLog(filepath.Join(cluster, "runs", victim)))
	_, after, requeued := strings.Cut(string(log), "(restart 1)")
	resumed := regexp.MustCompile(`960 steps in all, ([0-9]+) done`).FindStringSubmatch(after)
	if !requeued || !strings.Contains(string(log), "checkpoint saved") || resumed == nil || resumed[1] == "0" {
		t.Fatalf("%s was not requeued mid-run and resumed:\n%s", victim, log)
	}
	sameResults(t, local, cluster)
	for _, f := range []string{"summary.csv", "summary.md"} {
		sameFile(t, filepath.Join(local, f), filepath.Join(cluster, f))
	}
	csv, _ := os.ReadFile(filepath.Join(local, "summary.csv"))
	if got := strings.Count(string(csv), "\n"); got != 7 || !strings.HasPrefix(string(csv), "run,lr,seed,status,tasks,final_online_acc,mean_online_acc\n") {
		t.Fatalf("summary.csv:\n%s", csv)
	}

	// A point whose run directory is blocked by a file fails; the others run.
	failing := filepath.Join(root, "failing.yaml")
	os.WriteFile(failing, []byte("base: {preset: smoke}\ngrid: {seed: [0, 1, 2]}\n"), 0o644)
	dir := filepath.Join(root, "failing")
	os.MkdirAll(filepath.Join(dir, "runs"), 0o755)
	os.WriteFile(filepath.Join(dir, "runs", "seed-1"), []byte("not a run\n"), 0o644)
	b, err := exec.Command(binary, "sweep", failing, "--out", dir, "--executor", "slurm", "--wait", "--poll", "1s").CombinedOutput()
	logPath := rundir.RunLog(filepath.Join(dir, "runs", "seed-1"))
	if err == nil || !strings.Contains(string(b), "run seed-1: failed: exit status 1 (see "+logPath+")") {
		t.Fatalf("a failed task should fail the sweep, naming its log: %v\n%s", err, b)
	}
	status, err = exec.Command(binary, "sweep", "status", dir).CombinedOutput()
	want := [][]string{{"seed-0", "done", "3/3"}, {"seed-1", "failed", "(exit", "status", "1)", "0/3", "-", "-", "-", logPath}, {"seed-2", "done", "3/3"}}
	lines := strings.Split(string(status), "\n")
	if err != nil || len(lines) < 4 {
		t.Fatalf("status: %v\n%s", err, status)
	}
	for i, w := range want {
		if f := strings.Fields(lines[i+1]); !reflect.DeepEqual(f[:len(w)], w) {
			t.Fatalf("status line %d: got %q, want %q\n%s", i+1, f, w, status)
		}
	}
	if _, err := os.Stat(filepath.Join(dir, "summary.csv")); err == nil {
		t.Fatal("a sweep with a failed point wrote its summary")
	}
}
