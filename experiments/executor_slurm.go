package experiments

import (
	"bytes"
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"maps"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/lot-toolkit/lot/rundir"
	"github.com/lot-toolkit/lot/train"
)

// SlurmOptions are what a submission asks Slurm for, passed to sbatch as
// given; empty ones are left to the cluster's defaults.
type SlurmOptions struct {
	Partition, Account string
	Time               string // time limit per run, in sbatch's forms (e.g. 4:00:00)
	Mem                string // memory per run (e.g. 4G)
	// CPUsPerTask is the CPUs of each run. 0 asks for the runs' own
	// threads; another value is refused unless it equals them, because a
	// run's threads are part of its config and so of its numbers: the CPUs
	// follow the config, never the reverse.
	CPUsPerTask int
	Throttle    int      // most runs at once (the array's %N); 0 for no limit
	Extra       []string // further sbatch options, each one option (e.g. --qos=long)
}

// Slurm submits the runs to a Slurm cluster: per submission, one sbatch
// job-array script under dir/slurm/, array task i running the i-th run as
// `lot run --out DIR --config DIR.yaml` (which resumes a started run), and,
// if Then is set, a job that depends on the array (afterok) and runs Then
// once every run has finished (the figures, a report, a summary).
//
// A run's threads are its allocated CPUs: the script asks for
// --cpus-per-task equal to the runs' threads (runs of different threads go
// to separate arrays), so a result never depends on where it ran. Each task
// is requeueable; SIGTERM (preemption, scontrol requeue, scancel) reaches
// lot run, which checkpoints and exits, and the requeued task resumes it.
// Before a time limit the task is signalled (USR1, two minutes ahead),
// checkpoints and requeues itself. So at most the work since a run's last
// checkpoint is lost. A failed task leaves NAME.failed beside its run
// directory; the other tasks go on.
type Slurm struct {
	Exe     string // the lot executable the jobs run; compute nodes must reach it
	Options SlurmOptions
	// Then is the command (argv) a dependent job runs when every run has
	// finished; none if empty or if Wait is set (the caller goes on then).
	Then []string
	// Wait polls squeue every Poll (30 s if 0) until the runs have left the
	// queue, and returns the failures.
	Wait bool
	Poll time.Duration
	// DryRun writes the scripts to DryRunOut instead of submitting them,
	// and Execute returns ErrDryRun.
	DryRun    bool
	DryRunOut io.Writer
}

// slurmDir is where a directory's submissions are kept: the scripts, what
// sbatch wrote, and the jobs file mapping array tasks to runs.
func slurmDir(dir string) string { return filepath.Join(dir, "slurm") }

// slurmJobsFile lists the submissions from a directory, one JSON line each.
func slurmJobsFile(dir string) string { return filepath.Join(slurmDir(dir), "jobs.jsonl") }

// submission is one line of the jobs file.
type submission struct {
	Job    string   `json:"job"`
	Script string   `json:"script,omitempty"`
	Runs   []string `json:"runs,omitempty"` // array index → run name
	Then   bool     `json:"then,omitempty"` // the dependent job
}

// queuedRun is where squeue shows a run: its array task and squeue's state.
type queuedRun struct{ job, state string }

// runState is the RunState of a queued run.
func (q queuedRun) runState() string {
	switch q.state {
	case "RUNNING", "COMPLETING", "CONFIGURING", "STAGE_OUT", "SIGNALING":
		return StateRunning
	}
	return StateQueued
}

// sbatchTimeMargin is how long before its time limit a task is told to
// checkpoint and requeue itself (sbatch --signal).
const sbatchTimeMargin = 120

// Execute submits every unfinished run not already in the queue, and, with
// Wait, waits for them all to leave it.
func (s Slurm) Execute(ctx context.Context, dir string, runs []Run, log func(string)) error {
	if err := s.Options.validate(); err != nil {
		return err
	}
	dir, err := filepath.Abs(dir)
	if err != nil {
		return err
	}
	left, errs := unfinished(dir, runs, log)
	if len(errs) > 0 {
		return errors.Join(errs...)
	}
	var queued map[string]queuedRun
	if !s.DryRun {
		if queued, err = slurmQueued(dir); err != nil {
			return err
		}
	}
	// Runs of each thread count go to one array each, asking as many CPUs.
	byThreads := map[int][]Run{}
	var waitFor []string
	for _, r := range left {
		if q, ok := queued[r.Name]; ok {
			log(fmt.Sprintf("queued already: %s (job %s, %s)", r.Name, q.job, strings.ToLower(q.state)))
			waitFor = append(waitFor, r.Name)
			continue
		}
		if c := s.Options.CPUsPerTask; c != 0 && c != r.Config.Threads {
			return fmt.Errorf("cpus-per-task: %d CPUs for run %s, whose config has threads %d: threads are part of a run's numbers, so its CPUs follow its config; set threads to %d in the runs' configs, or leave cpus-per-task unset", c, r.Name, r.Config.Threads, c)
		}
		byThreads[r.Config.Threads] = append(byThreads[r.Config.Threads], r)
	}
	jobs := map[string]bool{}
	submitted := 0
	for _, n := range waitFor {
		array, _, _ := strings.Cut(queued[n].job, "_")
		jobs[array] = true
	}
	for _, threads := range slices.Sorted(maps.Keys(byThreads)) {
		group := byThreads[threads]
		script := s.script(dir, group, threads)
		if s.DryRun {
			fmt.Fprintf(s.DryRunOut, "# sbatch script for %d run(s), written to %s and submitted with sbatch --parsable:\n%s\n", len(group), slurmDir(dir), script)
			continue
		}
		for _, r := range group {
			if _, err := writeRunConfig(filepath.Join(dir, "runs", r.Name), r); err != nil {
				return err
			}
		}
		path, err := writeScript(dir, script)
		if err != nil {
			return err
		}
		job, err := sbatch(ctx, path)
		if err != nil {
			return err
		}
		names := make([]string, len(group))
		for i, r := range group {
			names[i] = r.Name
			waitFor = append(waitFor, r.Name)
		}
		if err := recordSubmission(dir, submission{Job: job, Script: path, Runs: names}); err != nil {
			return err
		}
		jobs[job] = true
		submitted += len(group)
		log(fmt.Sprintf("submitted job %s: %d run(s), script %s, logs beside each run directory", job, len(group), path))
	}
	if s.DryRun {
		if len(s.Then) > 0 && !s.Wait {
			args := s.thenArgs(dir, []string{"JOB"})
			for i, a := range args {
				args[i] = shellQuote(a)
			}
			fmt.Fprintf(s.DryRunOut, "# then, depending on the array(s) (JOB): sbatch %s\n", strings.Join(args, " "))
		}
		return ErrDryRun
	}
	if len(jobs) == 0 {
		return nil
	}
	if !s.Wait {
		// Only a new submission needs a dependent job: runs queued by an
		// earlier call have theirs already.
		if len(s.Then) > 0 && submitted > 0 {
			job, err := s.submitThen(ctx, dir, slices.Sorted(maps.Keys(jobs)))
			if err != nil {
				return err
			}
			log(fmt.Sprintf("submitted job %s: runs %q once every run has finished", job, strings.Join(s.Then[1:], " ")))
		}
		return nil
	}
	return s.wait(ctx, dir, waitFor, log)
}

// wait polls squeue until none of the named runs is queued, then reports
// those that failed or left the queue unfinished.
func (s Slurm) wait(ctx context.Context, dir string, names []string, log func(string)) error {
	poll := cmp.Or(s.Poll, 30*time.Second)
	for {
		queued, err := slurmQueued(dir)
		if err != nil {
			return err
		}
		if !slices.ContainsFunc(names, func(n string) bool { _, ok := queued[n]; return ok }) {
			break
		}
		select {
		case <-ctx.Done():
			log("stopped waiting; the jobs go on (see lot's status)")
			return train.ErrInterrupted
		case <-time.After(poll):
		}
	}
	var errs []error
	for _, n := range names {
		out := filepath.Join(dir, "runs", n)
		if _, err := os.Stat(rundir.Summary(out)); err == nil {
			log("finished: " + n)
			continue
		}
		why, err := os.ReadFile(out + failedSuffix)
		if err != nil {
			why = []byte("left the queue unfinished (cancelled?)")
		}
		errs = append(errs, fmt.Errorf("run %s: failed: %s (see %s)", n, strings.TrimSpace(string(why)), rundir.RunLog(out)))
	}
	return errors.Join(errs...)
}

func (o SlurmOptions) validate() error {
	if o.CPUsPerTask < 0 {
		return fmt.Errorf("cpus-per-task: must not be negative, got %d", o.CPUsPerTask)
	}
	if o.Throttle < 0 {
		return fmt.Errorf("throttle: must not be negative, got %d", o.Throttle)
	}
	for _, e := range o.Extra {
		name, _, _ := strings.Cut(e, "=")
		switch {
		case !strings.HasPrefix(e, "-") || strings.ContainsAny(e, "\n"):
			return fmt.Errorf("extra sbatch option %q: want one option as sbatch spells it, such as -q long", e)
		case slices.Contains([]string{"-a", "--array", "-c", "--cpus-per-task", "-o", "--output", "-e", "--error", "--open-mode", "--signal", "--no-requeue"}, name):
			return fmt.Errorf("extra sbatch option %q: lot sets %s itself", e, name)
		}
	}
	return nil
}

// script is the sbatch job-array script of runs, each with threads BLAS
// threads and as many CPUs.
func (s Slurm) script(dir string, runs []Run, threads int) string {
	o := s.Options
	var b strings.Builder
	b.WriteString("#!/bin/bash\n")
	opt := func(format string, a ...any) { fmt.Fprintf(&b, "#SBATCH "+format+"\n", a...) }
	opt("--job-name=lot-%s", filepath.Base(dir))
	array := fmt.Sprintf("0-%d", len(runs)-1)
	if o.Throttle > 0 {
		array += fmt.Sprintf("%%%d", o.Throttle)
	}
	opt("--array=%s", array)
	opt("--cpus-per-task=%d", threads)
	opt("--output=%s", filepath.Join(slurmDir(dir), "%A_%a.out"))
	opt("--open-mode=append")
	opt("--requeue")
	opt("--signal=B:USR1@%d", sbatchTimeMargin)
	for _, kv := range [][2]string{{"partition", o.Partition}, {"account", o.Account}, {"time", o.Time}, {"mem", o.Mem}} {
		if kv[1] != "" {
			opt("--%s=%s", kv[0], kv[1])
		}
	}
	for _, e := range o.Extra {
		opt("%s", e)
	}
	fmt.Fprintf(&b, `# Written by lot: array task i runs the i-th run below with lot run, which
# starts it from NAME.yaml or resumes it from its checkpoint. Its log is
# NAME.log beside the run directory; a failure leaves NAME.failed there.
set -u
lot=%s
runs=(
`, shellQuote(s.Exe))
	for _, r := range runs {
		fmt.Fprintf(&b, "\t%s\n", shellQuote(r.Name))
	}
	fmt.Fprintf(&b, `)
out=%s/${runs[$SLURM_ARRAY_TASK_ID]}
mkdir -p "$out"
exec >>"$out/`+rundir.LogFile+`" 2>&1
echo "lot: slurm job ${SLURM_ARRAY_JOB_ID}_${SLURM_ARRAY_TASK_ID} (restart ${SLURM_RESTART_COUNT:-0}) on $(hostname) at $(date -u +%%FT%%TZ)"
rm -f "$out.failed"
# Slurm sends SIGTERM to every process of the job (preemption, scancel,
# scontrol requeue): lot run checkpoints and exits 130 while this shell
# waits for it. USR1 comes %d s before the time limit: the run is told to
# checkpoint, and the task requeues itself.
"$lot" run --out "$out" --config "$out.yaml" &
pid=$!
signalled=0 requeue=0
trap 'signalled=1; kill -TERM $pid 2>/dev/null' TERM
trap 'signalled=1; requeue=1; kill -TERM $pid 2>/dev/null' USR1
wait $pid
rc=$?
while [ $signalled = 1 ]; do
	signalled=0
	wait $pid
	r=$?
	[ $r = 127 ] || rc=$r
done
case $rc in
0) echo "lot: finished" ;;
3) echo "lot: diverged, a result (see summary.json)"; rc=0 ;;
130)
	echo "lot: interrupted, checkpointed"
	if [ $requeue = 1 ]; then
		echo "lot: time limit near; requeueing"
		scontrol requeue "$SLURM_JOB_ID"
	fi ;;
*)
	echo "exit status $rc" >"$out.failed"
	echo "lot: failed with exit status $rc" ;;
esac
exit $rc
`, shellQuote(filepath.Join(dir, "runs")), sbatchTimeMargin)
	return b.String()
}

// thenArgs are sbatch's arguments for the dependent job after jobs.
func (s Slurm) thenArgs(dir string, jobs []string) []string {
	args := []string{"--parsable", "--job-name=lot-" + filepath.Base(dir) + "-then",
		"--dependency=afterok:" + strings.Join(jobs, ":"), "--kill-on-invalid-dep=yes",
		"--output=" + filepath.Join(slurmDir(dir), "then-%j.out")}
	o := s.Options
	for _, kv := range [][2]string{{"partition", o.Partition}, {"account", o.Account}, {"time", o.Time}, {"mem", o.Mem}} {
		if kv[1] != "" {
			args = append(args, "--"+kv[0]+"="+kv[1])
		}
	}
	quoted := make([]string, len(s.Then))
	for i, a := range s.Then {
		quoted[i] = shellQuote(a)
	}
	return append(args, "--wrap="+strings.Join(quoted, " "))
}

func (s Slurm) submitThen(ctx context.Context, dir string, jobs []string) (string, error) {
	job, err := runSbatch(ctx, s.thenArgs(dir, jobs)...)
	if err != nil {
		return "", err
	}
	return job, recordSubmission(dir, submission{Job: job, Then: true})
}

// writeScript writes a submission's script as dir/slurm/submit-N.sh, N one
// past the last.
func writeScript(dir, script string) (string, error) {
	if err := os.MkdirAll(slurmDir(dir), 0o755); err != nil {
		return "", err
	}
	for n := 1; ; n++ {
		path := filepath.Join(slurmDir(dir), fmt.Sprintf("submit-%d.sh", n))
		f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o755)
		if errors.Is(err, os.ErrExist) {
			continue
		}
		if err != nil {
			return "", err
		}
		_, err = f.WriteString(script)
		return path, errors.Join(err, f.Close())
	}
}

func sbatch(ctx context.Context, script string) (string, error) {
	return runSbatch(ctx, "--parsable", script)
}

// runSbatch runs sbatch --parsable and returns the job ID it prints.
func runSbatch(ctx context.Context, args ...string) (string, error) {
	var stderr bytes.Buffer
	cmd := exec.CommandContext(ctx, "sbatch", args...)
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		return "", fmt.Errorf("sbatch: %v: %s", err, strings.TrimSpace(stderr.String()))
	}
	job, _, _ := strings.Cut(strings.TrimSpace(string(out)), ";") // JOB;CLUSTER on federations
	if job == "" {
		return "", fmt.Errorf("sbatch printed no job ID")
	}
	return job, nil
}

func recordSubmission(dir string, sub submission) error {
	line, err := json.Marshal(sub)
	if err != nil {
		return err
	}
	f, err := os.OpenFile(slurmJobsFile(dir), os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0o644)
	if err != nil {
		return err
	}
	_, err = f.Write(append(line, '\n'))
	return errors.Join(err, f.Sync(), f.Close())
}

// slurmQueued maps each run submitted from dir that squeue still shows
// (pending, running, requeued) to its array task and state. The latest
// submission of a run wins. Without submissions it asks squeue nothing;
// without squeue (the directory moved off the cluster) nothing is queued.
func slurmQueued(dir string) (map[string]queuedRun, error) {
	if _, err := os.Stat(slurmJobsFile(dir)); errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	subs, err := rundir.ReadLines[submission](slurmJobsFile(dir))
	if err != nil {
		return nil, err
	}
	cmd := exec.Command("squeue", "--me", "--array", "--noheader", "--format=%i|%T")
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if errors.Is(err, exec.ErrNotFound) {
		return nil, nil // no Slurm here: the submissions were made elsewhere
	}
	if err != nil {
		return nil, fmt.Errorf("squeue: %v: %s", err, strings.TrimSpace(stderr.String()))
	}
	state := map[string]string{}
	for _, line := range strings.Split(strings.TrimSpace(string(out)), "\n") {
		if id, st, ok := strings.Cut(line, "|"); ok {
			state[id] = st
		}
	}
	queued := map[string]queuedRun{}
	for _, sub := range subs {
		for i, name := range sub.Runs {
			job := fmt.Sprintf("%s_%d", sub.Job, i)
			if st, ok := state[job]; ok {
				queued[name] = queuedRun{job: job, state: st}
			} else {
				delete(queued, name) // a later submission's task is done
			}
		}
	}
	return queued, nil
}

// shellQuote quotes s for bash.
func shellQuote(s string) string {
	if s != "" && strings.Trim(s, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_-+=./,:@%") == "" {
		return s
	}
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}
