package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/lot-toolkit/lot/checkpoint"
	"github.com/lot-toolkit/lot/internal/atomicfile"
	"github.com/lot-toolkit/lot/rundir"
)

// lot runs the binary and returns its exit status and stderr.
func lot(t *testing.T, args ...string) (int, string) {
	t.Helper()
	cmd := exec.Command(binary, args...)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	err := cmd.Run()
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		return ee.ExitCode(), stderr.String()
	} else if err != nil {
		t.Fatal(err)
	}
	return 0, stderr.String()
}

// errorLine is the one line of stderr that is not progress.
func errorLine(t *testing.T, stderr string) string {
	t.Helper()
	var lines []string
	for _, l := range strings.Split(strings.TrimSpace(stderr), "\n") {
		if !strings.Contains(l, "steps in all") && !strings.HasPrefix(l, "task ") {
			lines = append(lines, l)
		}
	}
	if len(lines) != 1 {
		t.Fatalf("want one error line, got:\n%s", stderr)
	}
	return lines[0]
}

// TestExistingRunIsRefusedUnlessForced: an edited config.yaml (a key this
// version does not know) is refused with what to do; --force moves the
// run aside to DIR.old-1, then DIR.old-2, and deletes nothing.
func TestExistingRunIsRefusedUnlessForced(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "run")
	args := []string{"run", "--preset", "smoke", "--tasks", "1", "--out", dir}
	if code, stderr := lot(t, args...); code != 0 {
		t.Fatalf("first run: %d %s", code, stderr)
	}
	f, _ := os.OpenFile(rundir.Config(dir), os.O_APPEND|os.O_WRONLY, 0)
	f.WriteString("extra_key: 1\n")
	f.Close()
	metrics, _ := os.ReadFile(rundir.Metrics(dir))
	code, stderr := lot(t, args...)
	line := errorLine(t, stderr)
	if code != 1 {
		t.Fatalf("exit %d, want 1: %s", code, stderr)
	}
	for _, w := range []string{"extra_key", "another version", "--resume", "--out", "--force"} {
		if !strings.Contains(line, w) {
			t.Errorf("%q does not mention %q", line, w)
		}
	}
	if now, _ := os.ReadFile(rundir.Metrics(dir)); !bytes.Equal(now, metrics) {
		t.Fatal("metrics.jsonl was overwritten")
	}
	for n := 1; n <= 2; n++ {
		if code, stderr := lot(t, append(args, "--force")...); code != 0 {
			t.Fatalf("--force: %d %s", code, stderr)
		}
		old := dir + ".old-" + string(rune('0'+n))
		if b, err := os.ReadFile(rundir.Metrics(old)); err != nil || len(b) == 0 {
			t.Fatalf("%s: %v", old, err)
		}
	}
	if cfg, _ := os.ReadFile(rundir.Config(dir + ".old-1")); !strings.Contains(string(cfg), "extra_key") {
		t.Fatal("the moved run is not the edited one")
	}
}

// TestDivergedRunExitsWithItsOwnStatus: lr 1e8 ends with one line naming
// step, task, layer and value, status 3, and a diverged summary.json.
func TestDivergedRunExitsWithItsOwnStatus(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "run")
	code, stderr := lot(t, "run", "--preset", "smoke", "--optimizer", "sgd", "--lr", "1e8", "--out", dir)
	line := errorLine(t, stderr)
	if code != exitDiverged {
		t.Fatalf("exit %d, want %d: %s", code, exitDiverged, stderr)
	}
	for _, w := range []string{"diverged", "step", "task 0", "fc2", "loss"} {
		if !strings.Contains(line, w) {
			t.Errorf("%q does not mention %q", line, w)
		}
	}
	var s struct {
		Status     string         `json:"status"`
		Divergence map[string]any `json:"divergence"`
	}
	b, _ := os.ReadFile(rundir.Summary(dir))
	if err := json.Unmarshal(b, &s); err != nil || s.Status != "diverged" || s.Divergence["layer"] != "fc2" {
		t.Fatalf("summary.json: %s (%v)", b, err)
	}
}

// sameRun compares a run with a reference bit for bit: metrics.jsonl,
// tasks.jsonl without its timing field, and the final checkpoint's tensors.
func sameRun(t *testing.T, ref, dir string) {
	t.Helper()
	a, _ := os.ReadFile(rundir.Metrics(ref))
	b, _ := os.ReadFile(rundir.Metrics(dir))
	if len(a) == 0 || !bytes.Equal(a, b) {
		t.Fatalf("%s: metrics.jsonl differs from the uninterrupted run's (%d vs %d bytes)", dir, len(b), len(a))
	}
	untimed := func(p string) []map[string]any {
		rows, err := rundir.ReadLines[map[string]any](p)
		if err != nil {
			t.Fatal(err)
		}
		for _, r := range rows {
			delete(r, "wall_seconds")
		}
		return rows
	}
	if ra, rb := untimed(rundir.Tasks(ref)), untimed(rundir.Tasks(dir)); len(ra) == 0 || !reflect.DeepEqual(ra, rb) {
		t.Fatalf("%s: tasks.jsonl differs from the uninterrupted run's", dir)
	}
	fa, err := checkpoint.Read(rundir.Checkpoint(ref))
	if err != nil {
		t.Fatal(err)
	}
	fb, err := checkpoint.Read(rundir.Checkpoint(dir))
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(fa.Tensors, fb.Tensors) {
		t.Fatalf("%s: final checkpoint's tensors differ", dir)
	}
}

// TestKilledRunsResumeBitIdentically kills `lot run` with SIGKILL 20
// times: 10 runs, each killed once at a random moment while starting and
// once while resuming, the second time inside its n-th atomic write (n
// random; the test watches for the write's temporary file), as plain random
// moments seldom land inside a write. Each is then resumed to the end and
// compared bit for bit with an uninterrupted run. The test counts the kills
// that landed inside a write: an atomic write's temporary file left behind,
// or a log cut mid-line.
func TestKilledRunsResumeBitIdentically(t *testing.T) {
	root := t.TempDir()
	// Wide enough that writing a checkpoint (3 MB) takes a while.
	flags := []string{"--preset", "smoke", "--tasks", "6", "--log-every", "1", "--hidden", "256"}
	ref := filepath.Join(root, "ref")
	start := time.Now()
	if code, stderr := lot(t, append([]string{"run", "--out", ref}, flags...)...); code != 0 {
		t.Fatalf("reference run: %d %s", code, stderr)
	}
	span := time.Since(start)
	seed := uint64(time.Now().UnixNano())
	rng := rand.New(rand.NewPCG(seed, 11))
	t.Logf("seed %d, an uninterrupted run takes %v", seed, span)
	var kills, midWrite, ended int
	for trial := range 10 {
		dir := filepath.Join(root, "run"+string(rune('a'+trial)))
		for attempt := range 2 {
			args := append([]string{"run", "--out", dir}, flags...)
			if _, err := os.Stat(rundir.Config(dir)); err == nil {
				args = []string{"run", "--resume", dir}
			}
			cmd := exec.Command(binary, args...)
			if err := cmd.Start(); err != nil {
				t.Fatal(err)
			}
			done := make(chan error, 1)
			go func() { done <- cmd.Wait() }()
			if attempt == 0 {
				time.Sleep(time.Duration(rng.Float64() * float64(span)))
			} else {
				awaitWrite(dir, 1+rng.IntN(4), done)
			}
			cmd.Process.Signal(syscall.SIGKILL)
			err := <-done
			var ee *exec.ExitError
			if !errors.As(err, &ee) || ee.Sys().(syscall.WaitStatus).Signal() != syscall.SIGKILL {
				ended++
				continue
			}
			kills++
			if tornWrite(dir) {
				midWrite++
			}
		}
		if _, err := os.Stat(rundir.Config(dir)); err != nil {
			// Killed before config.yaml existed: start it again.
			if code, stderr := lot(t, append([]string{"run", "--out", dir}, flags...)...); code != 0 {
				t.Fatalf("%s: %d %s", dir, code, stderr)
			}
		} else if code, stderr := lot(t, "run", "--resume", dir); code != 0 {
			t.Fatalf("resuming %s: %d %s", dir, code, stderr)
		}
		sameRun(t, ref, dir)
	}
	t.Logf("%d kills landed while the run was going, %d of them inside a write (an atomic write's temporary file or a log cut mid-line); %d runs had ended first",
		kills, midWrite, ended)
	if kills < 10 {
		t.Errorf("only %d of 20 kills landed while a run was going", kills)
	}
}

// awaitWrite returns once the n-th atomic write (a new temporary file) is
// seen in dir, or the process has ended.
func awaitWrite(dir string, n int, done chan error) {
	seen := map[string]bool{}
	for {
		select {
		case err := <-done:
			done <- err // for the caller
			return
		default:
		}
		entries, _ := os.ReadDir(dir)
		for _, e := range entries {
			if strings.HasPrefix(e.Name(), atomicfile.TempPrefix) && !seen[e.Name()] {
				seen[e.Name()] = true
				if len(seen) == n {
					return
				}
			}
		}
	}
}

// tornWrite reports whether a killed run left a write half done.
func tornWrite(dir string) bool {
	for _, d := range []string{dir, filepath.Join(dir, rundir.CheckpointsDir)} {
		entries, _ := os.ReadDir(d)
		for _, e := range entries {
			if strings.HasPrefix(e.Name(), atomicfile.TempPrefix) {
				return true
			}
		}
	}
	for _, p := range []string{rundir.Metrics(dir), rundir.Tasks(dir)} {
		if b, err := os.ReadFile(p); err == nil && len(b) > 0 && b[len(b)-1] != '\n' {
			return true
		}
	}
	return false
}

// TestFullDiskLeavesAResumableRun fills a small tmpfs so that a checkpoint
// cannot be written: the run stops with one error line, and once space is
// freed --resume finishes it bit-identically to an uninterrupted run.
func TestFullDiskLeavesAResumableRun(t *testing.T) {
	root := t.TempDir()
	mnt := filepath.Join(root, "small")
	os.MkdirAll(mnt, 0o755)
	if out, err := exec.Command("mount", "-t", "tmpfs", "-o", "size=2m", "tmpfs", mnt).CombinedOutput(); err != nil {
		t.Skipf("cannot mount a tmpfs here (needs root or CAP_SYS_ADMIN): %v: %s", err, out)
	}
	t.Cleanup(func() { exec.Command("umount", mnt).Run() })
	flags := []string{"--preset", "smoke", "--tasks", "4"}
	ref := filepath.Join(root, "ref")
	if code, stderr := lot(t, append([]string{"run", "--out", ref}, flags...)...); code != 0 {
		t.Fatalf("reference run: %d %s", code, stderr)
	}
	ckpt, _ := os.Stat(rundir.Checkpoint(ref))
	// Room for the logs and one checkpoint, not for a second one written
	// beside it before the rename.
	filler := filepath.Join(mnt, "filler")
	if err := os.WriteFile(filler, make([]byte, 2<<20-ckpt.Size()*3/2-64<<10), 0o644); err != nil {
		t.Fatal(err)
	}
	dir := filepath.Join(mnt, "run")
	code, stderr := lot(t, append([]string{"run", "--out", dir}, flags...)...)
	line := errorLine(t, stderr)
	if code != 1 || !strings.Contains(line, "no space left on device") || !strings.HasPrefix(line, "lot: ") {
		t.Fatalf("exit %d, want 1 and one line about the full disk: %s", code, stderr)
	}
	if err := os.Remove(filler); err != nil {
		t.Fatal(err)
	}
	if code, stderr := lot(t, "run", "--resume", dir); code != 0 {
		t.Fatalf("resume after freeing space: %d %s", code, stderr)
	}
	sameRun(t, ref, dir)
}

// TestReproduceReportsADivergedRun: a run whose summary.json says it
// diverged (its logs cut short, as a diverged run's are) is named in the
// report, and the reproduction still draws and writes it.
func TestReproduceReportsADivergedRun(t *testing.T) {
	out := filepath.Join(t.TempDir(), "repro")
	args := []string{"reproduce", "fig5", "--scale", "smoke", "--jobs", "2", "--out", out}
	if b, err := exec.Command(binary, args...).CombinedOutput(); err != nil {
		t.Fatalf("%v\n%s", err, b)
	}
	rd := filepath.Join(out, "runs", "fig5-l2-scheduled-s0")
	tasks, _ := os.ReadFile(rundir.Tasks(rd))
	os.WriteFile(rundir.Tasks(rd), tasks[:bytes.IndexByte(tasks, '\n')+1], 0o644)
	os.WriteFile(rundir.Summary(rd), []byte(`{"status":"diverged","steps":12,"divergence":{"step":13,"task":1,"layer":"fc2","what":"gradient"}}`), 0o644)
	if b, err := exec.Command(binary, args...).CombinedOutput(); err != nil {
		t.Fatalf("%v\n%s", err, b)
	}
	report, _ := os.ReadFile(filepath.Join(out, "report-fig5.md"))
	if !strings.Contains(string(report), "Diverged: fig5-l2-scheduled-s0 (non-finite gradient in fc2 at step 13, task 2)") {
		t.Fatalf("report does not name the diverged run:\n%s", report)
	}
	if _, err := os.Stat(filepath.Join(out, "fig5-crelu.png")); err != nil {
		t.Fatal(err)
	}
}
