package experiments

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"path/filepath"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/lot-toolkit/lot/rundir"
	"github.com/lot-toolkit/lot/train"
)

// An Executor runs a reproduction's or a sweep's runs, each a `lot run` on
// its directory dir/runs/NAME (log: NAME.log beside it, config: NAME.yaml),
// skipping finished runs and resuming interrupted ones. It returns nil once
// every run has finished or been handed on (a batch system's executor that
// does not wait): the caller then finds the runs still pending.
type Executor interface {
	Execute(ctx context.Context, dir string, runs []Run, log func(string)) error
}

// ErrDryRun is returned by an executor that only showed what it would do.
var ErrDryRun = errors.New("dry run: nothing submitted")

// Local runs on this machine, Jobs runs at once, each a process of the lot
// executable Exe.
type Local struct {
	Exe  string
	Jobs int
}

// Execute runs every unfinished run (see Execute). It refuses runs that
// Slurm holds, submitted from dir before, as two processes must never
// write one run directory.
func (l Local) Execute(ctx context.Context, dir string, runs []Run, log func(string)) error {
	if l.Jobs < 1 {
		return fmt.Errorf("jobs: must be at least 1, got %d", l.Jobs)
	}
	queued, err := slurmQueued(dir)
	if err != nil {
		return err
	}
	for _, r := range runs {
		if q, ok := queued[r.Name]; ok {
			return fmt.Errorf("run %s: Slurm holds it (job %s, %s); wait for it, or scancel it, before running it here", r.Name, q.job, strings.ToLower(q.state))
		}
	}
	return Execute(ctx, l.Exe, dir, runs, l.Jobs, log)
}

// failedSuffix names the mark a failed run leaves beside its directory
// (NAME.failed, holding why), so that its failure outlives the process, or
// the batch job, that saw it. Starting the run again removes it.
const failedSuffix = ".failed"

func markFailed(out, why string) {
	os.WriteFile(out+failedSuffix, []byte(why+"\n"), 0o644) // best effort: the log says it too
}

// Run states, as RunStates reports them.
const (
	StateDone       = "done"
	StateDiverged   = "diverged"
	StateQueued     = "queued"  // in the batch system's queue, not started (or requeued)
	StateRunning    = "running" // running in the batch system, or a process here holds its lock
	StateFailed     = "failed"
	StateIncomplete = "incomplete" // started, not finished, and no process is training it
	StateNotStarted = "not started"
)

// RunState is where one run stands.
type RunState struct {
	Name  string
	State string
	Tasks int    // tasks logged
	Of    int    // tasks of its config
	Job   string // the batch job (JOB_INDEX) that holds it, if queued or running
	Log   string // its log, NAME.log beside its directory
	Why   string // for a failed run, what its mark says (an exit status)

	Online float64       // the last logged task's online accuracy; NaN before the first
	Left   time.Duration // an unfinished run's tasks still to train at the pace of its last paceTasks; 0 if unknown
}

// paceTasks is how many of the last logged tasks set an unfinished run's
// pace: a few, so that the estimate follows a change of load on the
// machine without jumping with one task.
const paceTasks = 3

// progress fills s.Online and s.Left from the run's per-task log.
func (s *RunState) progress(rd string) {
	s.Online = math.NaN()
	acc, err := train.ReadSeries(rd, "online_acc")
	if err != nil {
		return
	}
	s.Online = acc.Y[len(acc.Y)-1]
	wall, err := train.ReadSeries(rd, "wall_seconds")
	if err != nil || s.State == StateDone || s.State == StateDiverged {
		return
	}
	last := wall.Y[max(0, len(wall.Y)-paceTasks):]
	var sum float64
	for _, w := range last {
		sum += w
	}
	s.Left = time.Duration(float64(max(0, s.Of-len(wall.Y))) * sum / float64(len(last)) * float64(time.Second))
}

// RunStates reads where each run stands from its directory under dir/runs
// and, if runs were submitted to Slurm from dir, from squeue.
func RunStates(dir string, runs []Run) ([]RunState, error) {
	queued, err := slurmQueued(dir)
	if err != nil {
		return nil, err
	}
	states := make([]RunState, len(runs))
	for i, r := range runs {
		rd := filepath.Join(dir, "runs", r.Name)
		s := RunState{Name: r.Name, Of: r.Config.Tasks, Log: rundir.RunLog(rd), State: StateNotStarted}
		if b, err := os.ReadFile(rundir.Tasks(rd)); err == nil {
			s.Tasks = bytes.Count(b, []byte("\n"))
		}
		q, inQueue := queued[r.Name]
		sum, sumErr := train.ReadSummary(rd)
		_, cfgErr := os.Stat(rundir.Config(rd))
		why, failErr := os.ReadFile(rd + failedSuffix)
		live, err := rundir.InUse(rd)
		if err != nil {
			return nil, err
		}
		switch {
		case sumErr == nil && sum.Status == train.StatusDiverged:
			s.State = StateDiverged
		case sumErr == nil:
			s.State = StateDone
		case inQueue:
			s.State, s.Job = q.runState(), q.job
		case live:
			s.State = StateRunning
		case failErr == nil:
			s.State, s.Why = StateFailed, strings.TrimSpace(string(why))
		case cfgErr == nil:
			s.State = StateIncomplete
		}
		s.progress(rd)
		states[i] = s
	}
	return states, nil
}

// WriteStates writes states as a table, and a count of each state.
func WriteStates(w io.Writer, states []RunState) error {
	tw := tabwriter.NewWriter(w, 0, 8, 2, ' ', 0)
	fmt.Fprintln(tw, "run\tstate\ttasks\tonline\tleft\tjob\tlog")
	count := map[string]int{}
	var order []string
	for _, s := range states {
		state := s.State
		if s.Why != "" {
			state += " (" + s.Why + ")"
		}
		job := s.Job
		if job == "" {
			job = "-"
		}
		online, left := "-", "-"
		if !math.IsNaN(s.Online) {
			online = fmt.Sprintf("%.3f", s.Online)
		}
		switch {
		case s.Left >= time.Hour:
			left = fmt.Sprintf("%.1fh", s.Left.Hours())
		case s.Left > 0:
			left = fmt.Sprintf("%.0fm", math.Ceil(s.Left.Minutes()))
		}
		fmt.Fprintf(tw, "%s\t%s\t%d/%d\t%s\t%s\t%s\t%s\n", s.Name, state, s.Tasks, s.Of, online, left, job, s.Log)
		if count[s.State] == 0 {
			order = append(order, s.State)
		}
		count[s.State]++
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	var parts []string
	for _, st := range order {
		parts = append(parts, fmt.Sprintf("%d %s", count[st], st))
	}
	_, err := fmt.Fprintf(w, "%d runs: %s\n", len(states), strings.Join(parts, ", "))
	return err
}
