package main

import (
	"bytes"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"github.com/lot-toolkit/lot/rundir"
)

// parkRuns runs scripts/park_runs with args and returns its output.
func parkRuns(t *testing.T, args ...string) string {
	t.Helper()
	out, err := exec.Command("../../scripts/park_runs", args...).CombinedOutput()
	if err != nil {
		t.Fatalf("park_runs %v: %v\n%s", args, err, out)
	}
	return string(out)
}

// killAfterCheckpoint starts lot with args and kills it (SIGKILL) once it
// has a checkpoint and has begun another atomic write; it reports whether
// the kill landed.
func killAfterCheckpoint(t *testing.T, dir string, args ...string) bool {
	t.Helper()
	cmd := exec.Command(binary, args...)
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	for {
		if _, err := os.Stat(rundir.Checkpoint(dir)); err == nil {
			break
		}
		select {
		case err := <-done:
			t.Fatalf("lot %v ended before its first checkpoint: %v", args, err)
		default:
		}
	}
	awaitWrite(dir, 1, done)
	cmd.Process.Signal(syscall.SIGKILL)
	var ee *exec.ExitError
	return errors.As(<-done, &ee) && ee.Sys().(syscall.WaitStatus).Signal() == syscall.SIGKILL
}

// TestParkedRunsResumeOnAFreshMachine: a run killed twice, parked after
// each kill with scripts/park_runs and restored each time into an empty
// directory (as on a machine that kept nothing but the commits), finishes
// bit-identically to an uninterrupted run. The second save adds a metrics
// segment, or writes them anew where the resume cut the log; once the run
// is done its checkpoint leaves the parked copy, and a restore never
// overwrites a run that is there.
func TestParkedRunsResumeOnAFreshMachine(t *testing.T) {
	if _, err := exec.LookPath("xz"); err != nil {
		t.Fatal("xz is needed (scripts/test-setup installs it)")
	}
	root := t.TempDir()
	flags := []string{"--preset", "smoke", "--tasks", "8", "--log-every", "1", "--hidden", "256"}
	ref := filepath.Join(root, "ref")
	if code, stderr := lot(t, append([]string{"run", "--out", ref}, flags...)...); code != 0 {
		t.Fatalf("reference run: %d %s", code, stderr)
	}
	parked := filepath.Join(root, "parked")
	machine := func(i int) (out, run string) {
		out = filepath.Join(root, "machine"+string(rune('a'+i)))
		return out, filepath.Join(out, "runs", "r")
	}
	segments := func() []string {
		s, _ := filepath.Glob(filepath.Join(parked, "runs", "r", "metrics.jsonl.*.xz"))
		return s
	}

	out, run := machine(0)
	if !killAfterCheckpoint(t, run, append([]string{"run", "--out", run}, flags...)...) {
		t.Fatal("the first run ended before it was killed")
	}
	parkRuns(t, out, parked)
	if _, err := os.Stat(filepath.Join(parked, "runs", "r", rundir.CheckpointFile)); err != nil {
		t.Fatalf("an unfinished run was parked without its checkpoint: %v", err)
	}
	if len(segments()) != 1 {
		t.Fatalf("first save: segments %v, want one", segments())
	}

	out, run = machine(1)
	parkRuns(t, "--restore", parked, out)
	if !killAfterCheckpoint(t, run, "run", "--resume", run) {
		t.Fatal("the resumed run ended before it was killed")
	}
	// Saved as if it were live: its log grows while it is parked (lines a
	// resume cuts, as it cuts what a run logged after its checkpoint).
	stop, grown := make(chan struct{}), make(chan int)
	go func() {
		f, err := os.OpenFile(rundir.Metrics(run), os.O_APPEND|os.O_WRONLY, 0)
		if err != nil {
			t.Error(err)
		}
		n := 0
		for ; ; n++ {
			select {
			case <-stop:
				f.Close()
				grown <- n
				return
			default:
				f.WriteString(`{"written":"after the checkpoint"}` + "\n")
			}
		}
	}()
	msg := parkRuns(t, out, parked)
	close(stop)
	t.Logf("the log grew by %d lines while it was parked", <-grown)
	if n := len(segments()); n != 2 && !strings.Contains(msg, "saving it anew") {
		t.Fatalf("second save: %d segments and no rewrite:\n%s", n, msg)
	}

	saved := run
	out, run = machine(2)
	parkRuns(t, "--restore", parked, out)
	for _, f := range []string{rundir.ConfigFile, rundir.TasksFile, rundir.MetricsFile, rundir.CheckpointFile} {
		a, errA := os.ReadFile(filepath.Join(saved, f))
		b, errB := os.ReadFile(filepath.Join(run, f))
		if f == rundir.MetricsFile && len(b) < len(a) {
			a = a[:len(b)] // what the log had when it was parked
		}
		if errA != nil || errB != nil || len(b) == 0 || !bytes.Equal(a, b) {
			t.Fatalf("%s: the restored copy differs from the parked run's (%v, %v)", f, errA, errB)
		}
	}
	if code, stderr := lot(t, "run", "--resume", run); code != 0 {
		t.Fatalf("resuming the restored run: %d %s", code, stderr)
	}
	sameRun(t, ref, run)

	parkRuns(t, out, parked)
	if _, err := os.Stat(filepath.Join(parked, "runs", "r", rundir.CheckpointFile)); !os.IsNotExist(err) {
		t.Fatalf("a finished run's parked checkpoint is still there: %v", err)
	}
	fresh, freshRun := machine(3)
	parkRuns(t, "--restore", parked, fresh)
	want, _ := os.ReadFile(rundir.Metrics(ref))
	if got, _ := os.ReadFile(rundir.Metrics(freshRun)); !bytes.Equal(got, want) {
		t.Fatalf("restored metrics.jsonl: %d bytes, want the run's %d", len(got), len(want))
	}

	os.WriteFile(rundir.Tasks(freshRun), []byte("newer\n"), 0o644)
	if msg := parkRuns(t, "--restore", parked, fresh); !strings.Contains(msg, "already holds a run") {
		t.Fatalf("restoring over a run said:\n%s", msg)
	}
	if b, _ := os.ReadFile(rundir.Tasks(freshRun)); string(b) != "newer\n" {
		t.Fatal("a restore overwrote the run that was there")
	}
}

// TestParkRunsNamesAMissingRunsDirectory: a directory that holds no runs/
// is refused in one line that names it, before anything is written.
func TestParkRunsNamesAMissingRunsDirectory(t *testing.T) {
	root := t.TempDir()
	for _, args := range [][]string{{root, filepath.Join(root, "dst")}, {"--restore", root, filepath.Join(root, "dst")}} {
		out, err := exec.Command("../../scripts/park_runs", args...).CombinedOutput()
		var ee *exec.ExitError
		if !errors.As(err, &ee) || ee.ExitCode() != 2 || strings.Count(string(out), "\n") != 1 || !strings.Contains(string(out), filepath.Join(root, "runs")+": no such directory") {
			t.Errorf("park_runs %v: %v\n%s", args, err, out)
		}
		if _, err := os.Stat(filepath.Join(root, "dst")); !os.IsNotExist(err) {
			t.Errorf("park_runs %v wrote %s", args, filepath.Join(root, "dst"))
		}
	}
}

// TestParkRunsLeavesAFinishedRunAlone: a run parked finished is not
// overwritten by an unfinished run of the same name (a rerun still going):
// its log, summary and lack of a checkpoint stay, and the script says so.
func TestParkRunsLeavesAFinishedRunAlone(t *testing.T) {
	root := t.TempDir()
	src, dst := filepath.Join(root, "src"), filepath.Join(root, "dst")
	rerun, parked := filepath.Join(src, "runs", "r"), filepath.Join(dst, "runs", "r")
	for dir, files := range map[string]map[string]string{
		rerun:  {"config.yaml": "c\n", "tasks.jsonl": "task 1 of the rerun\n", "metrics.jsonl": "step 1\n", "checkpoint.safetensors": "ckpt"},
		parked: {"config.yaml": "c\n", "tasks.jsonl": "40 tasks\n", "summary.json": "{}\n"},
	} {
		os.MkdirAll(dir, 0o755)
		for name, text := range files {
			os.WriteFile(filepath.Join(dir, name), []byte(text), 0o644)
		}
	}
	if msg := parkRuns(t, src, dst); !strings.Contains(msg, parked+" holds a finished run") {
		t.Errorf("park_runs said:\n%s", msg)
	}
	if b, _ := os.ReadFile(filepath.Join(parked, "tasks.jsonl")); string(b) != "40 tasks\n" {
		t.Errorf("the finished run's tasks.jsonl became %q", b)
	}
	left, _ := filepath.Glob(filepath.Join(parked, "*"))
	if len(left) != 3 {
		t.Errorf("the finished run's directory holds %v, want its three files", left)
	}
}
