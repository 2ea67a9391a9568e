package main

import (
	"fmt"
	"path/filepath"

	"github.com/spf13/cobra"

	"github.com/lot-toolkit/lot/plotting"
	"github.com/lot-toolkit/lot/train"
)

func plotCommand() *cobra.Command {
	var (
		metric, out string
		logY        bool
	)
	cmd := &cobra.Command{
		Use:   "plot RUN_DIR...",
		Short: "Plot a logged metric of one or more runs (PNG and SVG)",
		Long: `Plot any metric that runs logged: a tasks.jsonl field (online_acc, final_acc,
final_loss, rho_hat) against the task, or a metrics.jsonl field by its dotted
path (acc, loss, lr.fc1, diag.alpha, diag.layers.fc1.alpha_tilde, ...) against
the update step, with task boundaries. Runs whose configs differ only in the
seed are drawn as one line, their mean with a min–max band.`,
		Args: cobra.MinimumNArgs(1),
		RunE: func(_ *cobra.Command, dirs []string) error {
			groups, err := train.SeedGroups(dirs)
			if err != nil {
				return err
			}
			fig := plotting.Figure{Title: metric, YLabel: metric, LogY: logY}
			for _, g := range groups {
				line := plotting.Line{Label: filepath.Base(filepath.Clean(g[0]))}
				if len(g) > 1 {
					line.Label += fmt.Sprintf(" (%d seeds)", len(g))
				}
				for _, d := range g {
					s, err := train.ReadSeries(d, metric)
					if err != nil {
						return err
					}
					if line.X == nil {
						line.X = s.X
						fig.XLabel = "update step"
						if s.PerTask {
							fig.XLabel = "task"
						} else if len(groups) == 1 {
							fig.Boundaries = s.TaskEnds
						}
					}
					if len(s.Y) != len(line.X) {
						return fmt.Errorf("%s: %d values of %s, %s has %d: seeds of one config must have run as long", d, len(s.Y), metric, g[0], len(line.X))
					}
					line.Ys = append(line.Ys, s.Y)
				}
				fig.Lines = append(fig.Lines, line)
			}
			if err := fig.Save(out); err != nil {
				return err
			}
			fmt.Printf("wrote %s.png and %s.svg\n", out, out)
			return nil
		},
	}
	cmd.Flags().StringVar(&metric, "metric", "online_acc", "metric to plot")
	cmd.Flags().StringVar(&out, "out", "plot", "output path without extension")
	cmd.Flags().BoolVar(&logY, "log-y", false, "logarithmic y axis")
	return cmd
}
