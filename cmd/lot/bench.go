package main

import (
	"encoding/json"
	"fmt"
	"os"

	"github.com/spf13/cobra"

	"github.com/lot-toolkit/lot/bench"
)

func benchCommand() *cobra.Command {
	var (
		asJSON  bool
		threads int
		reps    int
	)
	cmd := &cobra.Command{
		Use:   "bench",
		Short: "Time the standard step (784-256-10, batch 256, Adam) and report medians",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if threads < 1 || reps < 1 {
				return fmt.Errorf("--threads and --reps must be at least 1")
			}
			r := bench.Run(threads, reps)
			if asJSON {
				return json.NewEncoder(os.Stdout).Encode(r)
			}
			fmt.Printf("blas %s (%s), %d thread(s), median of %d\n  train_step_ms %.3f\n  grad_ms       %.3f\n  hvp_ms        %.3f\n  noise_ms      %.3f\n  train_steps_per_sec %.0f (sustained, with batch gathering)\n",
				r.Backend, r.Kernel, r.Threads, r.Reps, r.TrainStepMS, r.GradMS, r.HVPMS, r.NoiseMS, r.TrainStepsPerSec)
			return nil
		},
	}
	cmd.Flags().BoolVar(&asJSON, "json", false, "print one JSON object")
	cmd.Flags().IntVar(&threads, "threads", 1, "BLAS threads")
	cmd.Flags().IntVar(&reps, "reps", 300, "timed repetitions")
	return cmd
}
