package main

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/spf13/cobra"

	"github.com/lot-toolkit/lot/experiments"
	"github.com/lot-toolkit/lot/internal/keyerr"
)

func reproduceCommand() *cobra.Command {
	var (
		scale, out, protocol, only string
		seeds                      int
		status, soFar              bool
		ex                         executorFlags
	)
	cmd := &cobra.Command{
		Use:   "reproduce FIGURE...|all",
		Short: "Run a figure's experiments, draw it and report which claims hold",
		Long: fmt.Sprintf(`Runs every run a figure needs on a pool of --jobs worker processes, or as a
job array on a Slurm cluster (--executor slurm), skipping runs that finished
and resuming interrupted ones, then draws the figure and writes report.md
(for "all"; report-FIGURE.md for named figures) under --out. --status shows
where each run stands; --so-far draws the figures from the runs as far as
they have gone, to report[-FIGURE]-so-far.md, and runs nothing.
"all" is every figure of the paper; "scheduler" is lot's own experiment that
chose the controller's defaults and runs only when named.
Figures: %s.`, strings.Join(experiments.Names(), ", ")),
		Args: cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, figs []string) error {
			if out == "" {
				return errors.New("--out: a directory is required")
			}
			su := experiments.Setup{Scale: scale, Seeds: seeds, Protocol: protocol}
			if status && soFar {
				return errors.New("--so-far: not with --status (each runs nothing; choose one)")
			}
			if soFar {
				err := experiments.ReproduceSoFar(out, figs, su)
				if err == nil {
					fmt.Printf("wrote %s\n", filepath.Join(out, experiments.SoFarReportName(figs, protocol)))
				}
				return setupError(err)
			}
			if status {
				states, err := experiments.ReproduceStatus(out, figs, su)
				if err != nil {
					return setupError(err)
				}
				return experiments.WriteStates(os.Stdout, states)
			}
			abs, err := filepath.Abs(out)
			if err != nil {
				return err
			}
			// The dependent job draws the figures from the finished runs.
			exe, _ := os.Executable()
			then := append(append([]string{exe, "reproduce"}, figs...), "--scale", scale, "--seeds", fmt.Sprint(seeds),
				"--protocol", protocol, "--out", abs, "--executor", "local", "--jobs", "1")
			if only != "" {
				then = append(then, "--only", only)
			}
			executor, err := ex.build(cmd, then)
			if err != nil {
				return err
			}
			err = experiments.Reproduce(cmd.Context(), executor, out, figs, su, only,
				func(s string) { fmt.Fprintln(os.Stderr, "lot reproduce: "+s) })
			if err == nil {
				fmt.Printf("wrote %s\n", filepath.Join(out, experiments.ReportName(figs, protocol)))
			}
			if ke := setupError(err); ke != err {
				return ke
			}
			return executorError("reproduce", err)
		},
	}
	cmd.Flags().StringVar(&scale, "scale", "quick", "quick or paper (smoke: seconds, for tests)")
	cmd.Flags().StringVar(&protocol, "protocol", "paper", "paper (App. D's text) or authors (Fig. 5 as the authors' code ran it; figures 3-6, 9, 11, 12)")
	cmd.Flags().StringVar(&only, "only", "", "run only the runs whose names match this glob (e.g. 'authors-fig5-*-vanilla-*'); figures are drawn once all have finished")
	cmd.Flags().IntVar(&seeds, "seeds", 1, "seeds per setting")
	cmd.Flags().StringVar(&out, "out", "", "directory for runs, figures and the report")
	cmd.Flags().BoolVar(&soFar, "so-far", false, "draw the figures from the runs as far as they have gone (unfinished ones from the tasks they have logged, named in the report) to report[-FIGURE]-so-far.md; runs nothing")
	cmd.Flags().BoolVar(&status, "status", false, "show where each run stands (done, queued, running, failed, incomplete, not started), its tasks, its last online accuracy and its time left; runs nothing")
	ex.register(cmd.Flags())
	return cmd
}

// setupError names a fault in the setup by its flag: the setup's fields
// are named as reproduce's flags. Other errors are returned as they are.
func setupError(err error) error {
	var ke *keyerr.Error
	if errors.As(err, &ke) && ke == err {
		return fmt.Errorf("--%s: %w", ke.Key, ke.Err)
	}
	return err
}
