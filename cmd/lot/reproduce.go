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
	"github.com/lot-toolkit/lot/train"
)

func reproduceCommand() *cobra.Command {
	var (
		scale, out, protocol, only string
		seeds, jobs                int
	)
	cmd := &cobra.Command{
		Use:   "reproduce FIGURE...|all",
		Short: "Run a figure's experiments, draw it and report which claims hold",
		Long: fmt.Sprintf(`Runs every run a figure needs on a pool of --jobs worker processes, skipping
runs that finished and resuming interrupted ones, then draws the figure and
writes report.md (for "all"; report-FIGURE.md for named figures) under --out.
"all" is every figure of the paper; "scheduler" is lot's own experiment that
chose the controller's defaults and runs only when named.
Figures: %s.`, strings.Join(experiments.Names(), ", ")),
		Args: cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, figs []string) error {
			if out == "" {
				return errors.New("--out: a directory is required")
			}
			exe, err := os.Executable()
			if err != nil {
				return err
			}
			su := experiments.Setup{Scale: scale, Seeds: seeds, Protocol: protocol}
			err = experiments.Reproduce(cmd.Context(), exe, out, figs, su, jobs, only,
				func(s string) { fmt.Fprintln(os.Stderr, "lot reproduce: "+s) })
			if errors.Is(err, experiments.ErrPending) {
				fmt.Fprintf(os.Stderr, "lot reproduce: %v\n", err)
				return nil // --only ran its share; the figures wait for the rest
			}
			if errors.Is(err, train.ErrInterrupted) {
				return fmt.Errorf("interrupted; run the same command again to continue")
			}
			var ke *keyerr.Error
			if errors.As(err, &ke) && ke == err { // the setup's fields are named as these flags
				return fmt.Errorf("--%s: %w", ke.Key, ke.Err)
			}
			if err == nil {
				fmt.Printf("wrote %s\n", filepath.Join(out, experiments.ReportName(figs, protocol)))
			}
			return err
		},
	}
	cmd.Flags().StringVar(&scale, "scale", "quick", "quick or paper (smoke: seconds, for tests)")
	cmd.Flags().StringVar(&protocol, "protocol", "paper", "paper (App. D's text) or authors (Fig. 5 as the authors' code ran it; figures 3-6, 9, 11, 12)")
	cmd.Flags().StringVar(&only, "only", "", "run only the runs whose names match this glob (e.g. 'authors-fig5-*-vanilla-*'); figures are drawn once all have finished")
	cmd.Flags().IntVar(&seeds, "seeds", 1, "seeds per setting")
	cmd.Flags().IntVar(&jobs, "jobs", 2, "runs at once (each uses one BLAS thread)")
	cmd.Flags().StringVar(&out, "out", "", "directory for runs, figures and the report")
	return cmd
}
