package experiments

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/lot-toolkit/lot/rundir"
	"github.com/lot-toolkit/lot/train"
)

func smokeRuns(t *testing.T, n int) []Run {
	t.Helper()
	runs := fig5Runs(Setup{Scale: "smoke", Seeds: 1, Protocol: "paper"})
	return runs[:n]
}

// TestSlurmDryRunScript: a dry run prints one array script over the runs
// (index i → the i-th run), with the options passed through, CPUs equal
// to the runs' threads, requeue and the time-limit signal, and the
// dependent job; it submits and writes nothing.
func TestSlurmDryRunScript(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "out")
	runs := smokeRuns(t, 3)
	var out bytes.Buffer
	s := Slurm{Exe: "/opt/lot bin/lot", DryRun: true, DryRunOut: &out, Then: []string{"/opt/lot bin/lot", "reproduce", "fig5"},
		Options: SlurmOptions{Partition: "cpu", Account: "plast", Time: "4:00:00", Mem: "4G", Throttle: 2, Extra: []string{"--qos=long"}}}
	if err := s.Execute(context.Background(), dir, runs, func(string) {}); !errors.Is(err, ErrDryRun) {
		t.Fatalf("got %v, want ErrDryRun", err)
	}
	got := out.String()
	for _, want := range []string{
		"#SBATCH --array=0-2%2\n", "#SBATCH --cpus-per-task=1\n", "#SBATCH --partition=cpu\n", "#SBATCH --account=plast\n",
		"#SBATCH --time=4:00:00\n", "#SBATCH --mem=4G\n", "#SBATCH --qos=long\n", "#SBATCH --requeue\n", "#SBATCH --signal=B:USR1@120\n",
		"#SBATCH --output=" + filepath.Join(dir, "slurm", "%A_%a.out") + "\n",
		"lot='/opt/lot bin/lot'\n",
		"runs=(\n\t" + runs[0].Name + "\n\t" + runs[1].Name + "\n\t" + runs[2].Name + "\n)\n",
		"out=" + filepath.Join(dir, "runs") + "/${runs[$SLURM_ARRAY_TASK_ID]}\n",
		`"$lot" run --out "$out" --config "$out.yaml" &`,
		"--dependency=afterok:JOB --kill-on-invalid-dep=yes",
		`'--wrap='\''/opt/lot bin/lot'\'' reproduce fig5'`,
	} {
		if !strings.Contains(got, want) {
			t.Errorf("script lacks %q:\n%s", want, got)
		}
	}
	if _, err := os.Stat(dir); err == nil {
		t.Fatal("a dry run wrote into its directory")
	}
}

// TestSlurmRefusesBadOptions: CPUs other than the runs' threads, and
// extra options that would break the array, are refused before anything
// is submitted.
func TestSlurmRefusesBadOptions(t *testing.T) {
	runs := smokeRuns(t, 1)
	for _, tc := range []struct {
		o    SlurmOptions
		want string
	}{
		{SlurmOptions{CPUsPerTask: 4}, "cpus-per-task: 4 CPUs for run " + runs[0].Name + ", whose config has threads 1"},
		{SlurmOptions{CPUsPerTask: -1}, "cpus-per-task: must not be negative"},
		{SlurmOptions{Throttle: -2}, "throttle: must not be negative"},
		{SlurmOptions{Extra: []string{"--array=0-3"}}, "lot sets --array itself"},
		{SlurmOptions{Extra: []string{"-c"}}, "lot sets -c itself"},
		{SlurmOptions{Extra: []string{"qos=long"}}, "want one option"},
	} {
		err := Slurm{Exe: "lot", Options: tc.o, DryRun: true, DryRunOut: &bytes.Buffer{}}.Execute(context.Background(), t.TempDir(), runs, func(string) {})
		if err == nil || errors.Is(err, ErrDryRun) || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%+v: got %v, want %q", tc.o, err, tc.want)
		}
	}
}

// scriptFor writes the array script of runs for a fake lot and returns
// its path.
func scriptFor(t *testing.T, dir, fakeLot string, runs []Run) string {
	t.Helper()
	path := filepath.Join(dir, "job.sh")
	if err := os.WriteFile(path, []byte(Slurm{Exe: fakeLot}.script(dir, runs, 1)), 0o755); err != nil {
		t.Fatal(err)
	}
	os.MkdirAll(filepath.Join(dir, "runs"), 0o755)
	return path
}

// runTask runs an array task of the script as Slurm would, returning its
// exit status.
func runTask(t *testing.T, script string, index string, signal func(*os.Process)) int {
	t.Helper()
	cmd := exec.Command("bash", script)
	cmd.Env = append(os.Environ(), "SLURM_ARRAY_JOB_ID=7", "SLURM_ARRAY_TASK_ID="+index, "SLURM_JOB_ID=8")
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	if signal != nil {
		signal(cmd.Process)
	}
	err := cmd.Wait()
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		return ee.ExitCode()
	}
	if err != nil {
		t.Fatal(err)
	}
	return 0
}

// TestSlurmScriptOutcomes runs the array script under bash with a fake
// lot: task i runs the i-th run, its output goes to that run's log; a
// failure leaves NAME.failed with the exit status, a divergence (exit 3)
// is a success, and a later successful start clears the mark.
func TestSlurmScriptOutcomes(t *testing.T) {
	dir := t.TempDir()
	fake := filepath.Join(dir, "fake-lot")
	os.WriteFile(fake, []byte("#!/bin/sh\necho \"fake lot $*\"\nexit $(cat \"$5.code\")\n"), 0o755)
	runs := smokeRuns(t, 3)
	script := scriptFor(t, dir, fake, runs)
	for i, code := range []string{"0", "3", "1"} {
		os.WriteFile(filepath.Join(dir, "runs", runs[i].Name+".yaml.code"), []byte(code), 0o644)
	}
	for i, want := range []int{0, 0, 1} {
		if got := runTask(t, script, string(rune('0'+i)), nil); got != want {
			t.Errorf("task %d exited %d, want %d", i, got, want)
		}
		out := filepath.Join(dir, "runs", runs[i].Name)
		log, _ := os.ReadFile(rundir.RunLog(out))
		if !strings.Contains(string(log), "slurm job 7_"+string(rune('0'+i))) || !strings.Contains(string(log), "fake lot run --out "+out+" --config "+out+".yaml") {
			t.Errorf("task %d's log:\n%s", i, log)
		}
		mark, err := os.ReadFile(out + failedSuffix)
		if (want != 0) != (err == nil) || (want != 0 && string(mark) != "exit status 1\n") {
			t.Errorf("task %d: failure mark %q (%v)", i, mark, err)
		}
	}
	states, err := RunStates(dir, runs)
	if err != nil || states[2].State != StateFailed || states[2].Why != "exit status 1" || states[2].Log != rundir.RunLog(filepath.Join(dir, "runs", runs[2].Name)) {
		t.Fatalf("states: %+v %v", states, err)
	}
	os.WriteFile(filepath.Join(dir, "runs", runs[2].Name+".yaml.code"), []byte("0"), 0o644)
	if got := runTask(t, script, "2", nil); got != 0 {
		t.Fatalf("rerun exited %d", got)
	}
	if _, err := os.Stat(filepath.Join(dir, "runs", runs[2].Name+failedSuffix)); err == nil {
		t.Fatal("the failure mark outlived a successful start")
	}
}

// TestSlurmScriptForwardsSignals: on SIGTERM (Slurm's requeue, preemption
// or cancel) the script waits for lot to checkpoint and exits with its
// status, 130, marking nothing failed; on USR1 (the time limit near) it
// also asks lot to stop and then requeues the task with scontrol.
func TestSlurmScriptForwardsSignals(t *testing.T) {
	dir := t.TempDir()
	bin := filepath.Join(dir, "bin")
	os.MkdirAll(bin, 0o755)
	// The fake lot says it is ready, waits for TERM, "checkpoints" for a
	// while, and exits 130, as lot run does.
	fake := filepath.Join(bin, "fake-lot")
	os.WriteFile(fake, []byte("#!/bin/bash\ntrap 'sleep 0.3; echo checkpointed; exit 130' TERM\necho ready\nwhile :; do sleep 0.05; done\n"), 0o755)
	// scontrol records its arguments.
	os.WriteFile(filepath.Join(bin, "scontrol"), []byte("#!/bin/sh\necho \"$*\" >"+filepath.Join(dir, "scontrol.args")+"\n"), 0o755)
	t.Setenv("PATH", bin+":"+os.Getenv("PATH"))
	runs := smokeRuns(t, 1)
	script := scriptFor(t, dir, fake, runs)
	log := rundir.RunLog(filepath.Join(dir, "runs", runs[0].Name))
	for _, sig := range []syscall.Signal{syscall.SIGTERM, syscall.SIGUSR1} {
		os.Remove(log)
		code := runTask(t, script, "0", func(p *os.Process) {
			for start := time.Now(); ; time.Sleep(20 * time.Millisecond) {
				if b, _ := os.ReadFile(log); bytes.Contains(b, []byte("ready")) {
					break
				}
				if time.Since(start) > 10*time.Second {
					t.Fatal("the fake lot never started")
				}
			}
			p.Signal(sig)
		})
		b, _ := os.ReadFile(log)
		if code != 130 || !strings.Contains(string(b), "checkpointed") || !strings.Contains(string(b), "lot: interrupted, checkpointed") {
			t.Fatalf("%v: exit %d, log:\n%s", sig, code, b)
		}
		args, _ := os.ReadFile(filepath.Join(dir, "scontrol.args"))
		if requeued := string(args) == "requeue 8\n"; requeued != (sig == syscall.SIGUSR1) {
			t.Fatalf("%v: scontrol called with %q", sig, args)
		}
		if _, err := os.Stat(filepath.Join(dir, "runs", runs[0].Name+failedSuffix)); err == nil {
			t.Fatalf("%v: an interrupted run was marked failed", sig)
		}
	}
}

// TestLocalMarksFailures: a run that fails under the local executor is
// marked failed, with its exit status, for RunStates; the other states
// come from the run directories, and a run whose lock a process holds
// is running.
func TestLocalMarksFailures(t *testing.T) {
	dir := t.TempDir()
	runs := smokeRuns(t, 6)
	err := Local{Exe: "/bin/false", Jobs: 1}.Execute(context.Background(), dir, runs[:1], func(string) {})
	if err == nil {
		t.Fatal("a failing run is no error")
	}
	rd := func(i int) string { return filepath.Join(dir, "runs", runs[i].Name) }
	os.MkdirAll(rd(1), 0o755)
	os.WriteFile(filepath.Join(rd(1), "summary.json"), []byte(`{"status":"finished"}`), 0o644)
	os.WriteFile(filepath.Join(rd(1), "tasks.jsonl"), []byte("{}\n{}\n{}\n"), 0o644)
	os.MkdirAll(rd(2), 0o755)
	os.WriteFile(filepath.Join(rd(2), "summary.json"), []byte(`{"status":"diverged"}`), 0o644)
	os.MkdirAll(rd(3), 0o755)
	os.WriteFile(filepath.Join(rd(3), "config.yaml"), runs[3].Config.Marshal(), 0o644)
	os.WriteFile(filepath.Join(rd(3), "tasks.jsonl"), []byte("{}\n"), 0o644)
	os.MkdirAll(rd(4), 0o755)
	os.WriteFile(filepath.Join(rd(4), "config.yaml"), runs[4].Config.Marshal(), 0o644)
	unlock, err := rundir.Lock(rd(4)) // as its `lot run` process would
	if err != nil {
		t.Fatal(err)
	}
	defer unlock()
	states, err := RunStates(dir, runs)
	if err != nil {
		t.Fatal(err)
	}
	want := []struct {
		state string
		tasks int
	}{{StateFailed, 0}, {StateDone, 3}, {StateDiverged, 0}, {StateIncomplete, 1}, {StateRunning, 0}, {StateNotStarted, 0}}
	for i, w := range want {
		if s := states[i]; s.State != w.state || s.Tasks != w.tasks || s.Of != runs[i].Config.Tasks {
			t.Errorf("run %d: %+v, want %s with %d tasks", i, s, w.state, w.tasks)
		}
	}
	if states[0].Why != "exit status 1" {
		t.Errorf("failure: %q", states[0].Why)
	}
	var b bytes.Buffer
	WriteStates(&b, states)
	if !strings.Contains(b.String(), "6 runs: 1 failed, 1 done, 1 diverged, 1 incomplete, 1 running, 1 not started\n") ||
		!strings.Contains(b.String(), "failed (exit status 1)") {
		t.Fatalf("table:\n%s", b.String())
	}
}

// TestQueuedRuns: with a fake squeue, runs submitted from a directory are
// queued or running by their array task, the latest submission of a run
// winning; the local executor refuses a run Slurm holds.
func TestQueuedRuns(t *testing.T) {
	dir := t.TempDir()
	bin := filepath.Join(dir, "bin")
	os.MkdirAll(bin, 0o755)
	os.WriteFile(filepath.Join(bin, "squeue"), []byte("#!/bin/sh\nprintf '5_0|PENDING\\n5_1|RUNNING\\n6_0|COMPLETING\\n99_0|RUNNING\\n'\n"), 0o755)
	t.Setenv("PATH", bin+":"+os.Getenv("PATH"))
	runs := smokeRuns(t, 4)
	os.MkdirAll(slurmDir(dir), 0o755)
	// Run 2 was submitted as 5_2 (gone from the queue), then again as 6_0.
	recordSubmission(dir, submission{Job: "5", Runs: []string{runs[0].Name, runs[1].Name, runs[2].Name}})
	recordSubmission(dir, submission{Job: "6", Runs: []string{runs[2].Name}})
	recordSubmission(dir, submission{Job: "7", Then: true})
	states, err := RunStates(dir, runs)
	if err != nil {
		t.Fatal(err)
	}
	want := [][2]string{{StateQueued, "5_0"}, {StateRunning, "5_1"}, {StateRunning, "6_0"}, {StateNotStarted, ""}}
	for i, w := range want {
		if states[i].State != w[0] || states[i].Job != w[1] {
			t.Errorf("run %d: %s %q, want %s %q", i, states[i].State, states[i].Job, w[0], w[1])
		}
	}
	err = Local{Exe: "/bin/true", Jobs: 1}.Execute(context.Background(), dir, runs[1:2], func(string) {})
	if err == nil || !strings.Contains(err.Error(), "Slurm holds it (job 5_1, running)") {
		t.Fatalf("local run of a queued run: %v", err)
	}
	// Without squeue (the directory moved off the cluster) nothing is queued.
	t.Setenv("PATH", t.TempDir())
	if states, err = RunStates(dir, runs); err != nil || states[1].State != StateNotStarted {
		t.Fatalf("without squeue: %+v %v", states, err)
	}
}

// TestLocalInterruptedIsNotFailed: a run whose process exits with lot's
// interrupted status, or any status once the reproduction itself is
// interrupted, is left incomplete for the next reproduction to resume,
// not marked failed; a plain failure still is.
func TestLocalInterruptedIsNotFailed(t *testing.T) {
	dir := t.TempDir()
	runs := smokeRuns(t, 1)
	mark := filepath.Join(dir, "runs", runs[0].Name+failedSuffix)
	script := func(body string) string {
		p := filepath.Join(t.TempDir(), "fake-lot")
		os.WriteFile(p, []byte("#!/bin/sh\n"+body+"\n"), 0o755)
		return p
	}
	err := Local{Exe: script("exit 130"), Jobs: 1}.Execute(context.Background(), dir, runs, func(string) {})
	if !errors.Is(err, train.ErrInterrupted) {
		t.Errorf("exit 130: %v, want interrupted", err)
	}
	if _, err := os.Stat(mark); err == nil {
		t.Error("exit 130: the run was marked failed")
	}
	// Stopped with the reproduction, the process exits 3 here: still no failure.
	ready := filepath.Join(dir, "ready")
	ctx, cancel := context.WithCancel(context.Background())
	go func() {
		for start := time.Now(); time.Since(start) < 10*time.Second; time.Sleep(20 * time.Millisecond) {
			if _, err := os.Stat(ready); err == nil {
				break
			}
		}
		cancel()
	}()
	err = Local{Exe: script("trap 'exit 3' INT; touch " + ready + "; while :; do sleep 0.05; done"), Jobs: 1}.Execute(ctx, dir, runs, func(string) {})
	if !errors.Is(err, train.ErrInterrupted) {
		t.Errorf("reproduction interrupted: %v", err)
	}
	if _, err := os.Stat(mark); err == nil {
		t.Error("reproduction interrupted: the run was marked failed")
	}
	if err = (Local{Exe: script("exit 2"), Jobs: 1}).Execute(context.Background(), dir, runs, func(string) {}); err == nil {
		t.Fatal("exit 2 is no error")
	}
	if _, err := os.Stat(mark); err != nil {
		t.Error("exit 2: the run was not marked failed")
	}
}

// TestRunStatesProgress: the status shows the last task's online accuracy
// and, for an unfinished run, its tasks left at the mean pace of its last
// three; a finished run has nothing left, and one with no task logged
// shows neither.
func TestRunStatesProgress(t *testing.T) {
	dir := t.TempDir()
	runs := smokeRuns(t, 3)
	const of = 10
	for i := range runs {
		runs[i].Config.Tasks = of
	}
	rd := func(i int) string { return filepath.Join(dir, "runs", runs[i].Name) }
	var rows strings.Builder
	walls := []float64{9000, 600, 1200, 1800} // the first task's slow start falls out of the pace
	for i, w := range walls {
		fmt.Fprintf(&rows, "{\"task\":%d,\"online_acc\":%g,\"wall_seconds\":%g,\"steps\":%d}\n", i, 0.5+0.1*float64(i), w, 10*(i+1))
	}
	for i := range 2 {
		os.MkdirAll(rd(i), 0o755)
		os.WriteFile(filepath.Join(rd(i), "config.yaml"), runs[i].Config.Marshal(), 0o644)
		os.WriteFile(rundir.Tasks(rd(i)), []byte(rows.String()), 0o644)
	}
	os.WriteFile(rundir.Summary(rd(1)), []byte(`{"status":"finished"}`), 0o644)
	states, err := RunStates(dir, runs)
	if err != nil {
		t.Fatal(err)
	}
	wantLeft := 2 * time.Hour // 6 tasks at 1,200 s
	if s := states[0]; math.Abs(s.Online-0.8) > 1e-12 || s.Left != wantLeft {
		t.Errorf("unfinished: online %v left %v, want 0.8 and %v", s.Online, s.Left, wantLeft)
	}
	if s := states[1]; math.Abs(s.Online-0.8) > 1e-12 || s.Left != 0 {
		t.Errorf("finished: online %v left %v, want 0.8 and 0", s.Online, s.Left)
	}
	if s := states[2]; !math.IsNaN(s.Online) || s.Left != 0 {
		t.Errorf("not started: online %v left %v", s.Online, s.Left)
	}
	var b bytes.Buffer
	WriteStates(&b, states)
	row := strings.Fields(strings.Split(b.String(), "\n")[1])
	if len(row) < 5 || row[3] != "0.800" || row[4] != "2.0h" {
		t.Errorf("the unfinished run's row: %q, want online 0.800 and 2.0h left", row)
	}
	states[0].Left = 90 * time.Second
	b.Reset()
	WriteStates(&b, states)
	if row := strings.Fields(strings.Split(b.String(), "\n")[1]); len(row) < 5 || row[4] != "2m" {
		t.Errorf("90 s left: %q, want 2m", row)
	}
}
