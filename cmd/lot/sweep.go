package main

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/lot-toolkit/lot/experiments"
	"github.com/lot-toolkit/lot/train"
)

// executorFlags are the flags that choose where `lot sweep` and
// `lot reproduce` run their runs: here, or on a Slurm cluster.
type executorFlags struct {
	executor     string
	jobs         int
	slurm        experiments.SlurmOptions
	dryRun, wait bool
	poll         time.Duration
}

func (e *executorFlags) register(f *pflag.FlagSet) {
	f.StringVar(&e.executor, "executor", "local", "local (worker processes here) or slurm (a job array on a Slurm cluster)")
	f.IntVar(&e.jobs, "jobs", 2, "local: runs at once (each uses its config's threads, 1 by default)")
	f.StringVar(&e.slurm.Partition, "partition", "", "slurm: sbatch --partition")
	f.StringVar(&e.slurm.Account, "account", "", "slurm: sbatch --account")
	f.StringVar(&e.slurm.Time, "time", "", "slurm: sbatch --time, per run (e.g. 4:00:00); a run near it checkpoints and requeues itself")
	f.StringVar(&e.slurm.Mem, "mem", "", "slurm: sbatch --mem, per run (e.g. 4G)")
	f.IntVar(&e.slurm.CPUsPerTask, "cpus-per-task", 0, "slurm: CPUs per run; must equal the runs' threads (their default), which decide their numbers")
	f.IntVar(&e.slurm.Throttle, "throttle", 0, "slurm: most runs at once (the array's %N); 0 for no limit")
	f.StringArrayVar(&e.slurm.Extra, "sbatch", nil, "slurm: a further sbatch option, e.g. --sbatch=--qos=long (repeatable)")
	f.BoolVar(&e.dryRun, "dry-run", false, "slurm: print the sbatch scripts, submit nothing")
	f.BoolVar(&e.wait, "wait", false, "slurm: wait for the jobs, then report failures and draw the results here (no dependent job)")
	f.DurationVar(&e.poll, "poll", 30*time.Second, "slurm: with --wait, how often to ask squeue")
}

// build makes the executor; then is the command a dependent job runs once
// every run has finished (Slurm without --wait).
func (e *executorFlags) build(cmd *cobra.Command, then []string) (experiments.Executor, error) {
	exe, err := os.Executable()
	if err != nil {
		return nil, err
	}
	slurmOnly := []string{"partition", "account", "time", "mem", "cpus-per-task", "throttle", "sbatch", "dry-run", "wait", "poll"}
	switch e.executor {
	case "local":
		for _, name := range slurmOnly {
			if cmd.Flags().Changed(name) {
				return nil, fmt.Errorf("--%s: only with --executor slurm", name)
			}
		}
		if e.jobs < 1 {
			return nil, fmt.Errorf("--jobs: must be at least 1, got %d", e.jobs)
		}
		return experiments.Local{Exe: exe, Jobs: e.jobs}, nil
	case "slurm":
		if cmd.Flags().Changed("jobs") {
			return nil, errors.New("--jobs: only with --executor local (use --throttle on Slurm)")
		}
		if e.poll <= 0 {
			return nil, fmt.Errorf("--poll: must be positive, got %v", e.poll)
		}
		return experiments.Slurm{Exe: exe, Options: e.slurm, Then: then, Wait: e.wait, Poll: e.poll,
			DryRun: e.dryRun, DryRunOut: os.Stdout}, nil
	}
	return nil, fmt.Errorf("--executor: unknown executor %q (want local or slurm)", e.executor)
}

// executorError maps an executor's outcome to the command's: a dry run
// and runs still pending (submitted, or --only ran its share) are not
// failures.
func executorError(cmdName string, err error) error {
	switch {
	case errors.Is(err, experiments.ErrDryRun):
		return nil
	case errors.Is(err, experiments.ErrPending), errors.Is(err, experiments.ErrSweepPending):
		fmt.Fprintf(os.Stderr, "lot %s: %v\n", cmdName, err)
		return nil
	case errors.Is(err, train.ErrInterrupted):
		return fmt.Errorf("interrupted; run the same command again to continue")
	}
	return err
}

func sweepCommand() *cobra.Command {
	var (
		out string
		ex  executorFlags
	)
	cmd := &cobra.Command{
		Use:   "sweep FILE.yaml --out DIR",
		Short: "Run a grid of settings and tabulate each point's accuracy",
		Long: `Runs every point of a grid of config keys, from a YAML file such as

  base: {preset: quick, reg: l2}
  grid: {lr: [1e-4, 1e-3], seed: [0, 1, 2]}

one run directory per point under DIR/runs, named from its values
(lr-0.0001_seed-0). Finished points are skipped and interrupted ones resumed.
Once every point has finished, DIR/summary.csv and DIR/summary.md give each
point's final and mean online accuracy. "lot sweep status DIR" shows where
each point stands.`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if out == "" {
				return errors.New("--out: a directory is required")
			}
			abs, err := filepath.Abs(out)
			if err != nil {
				return err
			}
			exe, _ := os.Executable()
			then := []string{exe, "sweep", experiments.SweepFile(abs), "--out", abs, "--executor", "local", "--jobs", "1"}
			executor, err := ex.build(cmd, then)
			if err != nil {
				return err
			}
			err = experiments.Sweep(cmd.Context(), executor, out, args[0],
				func(s string) { fmt.Fprintln(os.Stderr, "lot sweep: "+s) })
			if err == nil {
				fmt.Printf("wrote %s and %s\n", filepath.Join(out, experiments.SweepSummaryCSV), filepath.Join(out, experiments.SweepSummaryMarkdown))
			}
			return executorError("sweep", err)
		},
	}
	cmd.Flags().StringVar(&out, "out", "", "directory for the runs and the summary")
	ex.register(cmd.Flags())
	cmd.AddCommand(&cobra.Command{
		Use:   "status DIR",
		Short: "Show each point of a sweep: done, queued, running, failed, incomplete or not started, its tasks, last online accuracy and time left",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			states, err := experiments.SweepStatus(args[0])
			if err != nil {
				return err
			}
			return experiments.WriteStates(os.Stdout, states)
		},
	})
	return cmd
}
