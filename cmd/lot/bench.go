package main

import (
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"slices"
	"strconv"
	"strings"

	"github.com/spf13/cobra"

	"github.com/lot-toolkit/lot/bench"
)

func benchCommand() *cobra.Command {
	var (
		asJSON      bool
		quick       bool
		threads     int
		reps        int
		hidden      []int
		activation  string
		data        string
		workerSteps int
		sparseRun   string
		sparseTask  int
	)
	cmd := &cobra.Command{
		Use:   "bench",
		Short: "Time the training step against its matrix products' floor, the curvature and noise products, diagnostics and two jobs; report medians",
		Long: `Times, on a batch of 256 and the net --hidden/--activation give (784-256-10 ReLU
by default): the training step and the floor of its matrix products, the
gradient, Hessian-vector products (whole net and per layer), the gradient
noise, the step under --reg wasserstein; then, unless --quick, short real
runs with diagnostics off, light and full (paper defaults, log interval 40)
and two worker processes against one (lot reproduce --jobs 2's scaling).
The machine should be otherwise idle: other work shows up as noise.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if threads < 1 || reps < 1 {
				return fmt.Errorf("--threads and --reps must be at least 1")
			}
			cfg := bench.Config{Hidden: hidden, Activation: activation, Threads: threads, Reps: reps, Quick: quick, Data: data}
			if workerSteps > 0 {
				return bench.Throughput(cfg, workerSteps)
			}
			if sparseRun != "" {
				r, err := bench.Sparse(sparseRun, sparseTask, threads, reps)
				if err != nil {
					return err
				}
				if asJSON {
					return json.NewEncoder(os.Stdout).Encode(r)
				}
				fmt.Printf("%s (%s)\n  dead units per hidden layer %.2f\n  grad_ms dense %.3f, sparse %.3f (%.2f×), bit-identical %v\n",
					r.Checkpoint, r.Kernel, r.DeadShare, r.DenseGradMS, r.SparseGradMS, r.Speedup, r.BitIdentical)
				return nil
			}
			exe, err := os.Executable()
			if err == nil {
				cfg.Worker = func(steps int) *exec.Cmd {
					h := make([]string, len(hidden))
					for i, w := range hidden {
						h[i] = strconv.Itoa(w)
					}
					args := []string{"bench", "--worker-steps", strconv.Itoa(steps), "--threads", strconv.Itoa(threads), "--activation", activation}
					if len(h) > 0 {
						args = append(args, "--hidden", strings.Join(h, ","))
					}
					return exec.Command(exe, args...)
				}
			}
			r, err := bench.Run(cfg)
			if err != nil {
				return err
			}
			if asJSON {
				return json.NewEncoder(os.Stdout).Encode(r)
			}
			fmt.Printf("blas %s (%s), %d thread(s), net %d-%v-10 %s, median of %d\n", r.Backend, r.Kernel, r.Threads, bench.Standard.Input, r.Hidden, r.Activation, r.Reps)
			fmt.Printf("  train_step_ms       %.3f\n  gemm_floor_ms       %.3f (step %.2f× floor)\n  grad_ms             %.3f\n  hvp_ms              %.3f\n",
				r.TrainStepMS, r.GemmFloorMS, r.StepOverFloor, r.GradMS, r.HVPMS)
			names := make([]string, 0, len(r.HVPBlockMS))
			for k := range r.HVPBlockMS {
				names = append(names, k)
			}
			slices.Sort(names)
			for _, k := range names {
				fmt.Printf("    block %-8s  %.3f\n", k, r.HVPBlockMS[k])
			}
			fmt.Printf("  noise_ms            %.3f\n  wasserstein_step_ms %.3f\n", r.NoiseMS, r.WassersteinStepMS)
			if r.DiagFullOverhead != nil {
				fmt.Printf("  diag_full_overhead  %+.1f%%\n  diag_light_overhead %+.1f%%\n", 100**r.DiagFullOverhead, 100**r.DiagLightOverhead)
			}
			if r.Jobs2Speedup != nil {
				fmt.Printf("  jobs2_speedup       %.2f×\n", *r.Jobs2Speedup)
			}
			fmt.Printf("  train_steps_per_sec %.0f (sustained, with batch gathering)\n", r.TrainStepsPerSec)
			return nil
		},
	}
	cmd.Flags().BoolVar(&asJSON, "json", false, "print one JSON object")
	cmd.Flags().BoolVar(&quick, "quick", false, "skip the slow parts: the short runs behind diag_*_overhead and jobs2_speedup")
	cmd.Flags().IntVar(&threads, "threads", 1, "BLAS threads")
	cmd.Flags().IntVar(&reps, "reps", 300, "timed repetitions")
	cmd.Flags().IntSliceVar(&hidden, "hidden", nil, "hidden widths, comma-separated (default 256)")
	cmd.Flags().StringVar(&activation, "activation", "relu", "hidden activation: relu, crelu, leaky_relu:<slope>, linear")
	cmd.Flags().StringVar(&data, "data", "", "MNIST directory for the short runs (default: GoMNIST's copy)")
	cmd.Flags().IntVar(&workerSteps, "worker-steps", 0, "run as one worker of the two-process measurement: this many steps, no output")
	_ = cmd.Flags().MarkHidden("worker-steps")
	cmd.Flags().StringVar(&sparseRun, "sparse-run", "", "instead: time the gradient with and without --sparse-grad on this run's end-of-task checkpoint (a run kept with --keep-checkpoints) and the next task's batches")
	cmd.Flags().IntVar(&sparseTask, "sparse-task", 0, "with --sparse-run: the task (0-based) whose checkpoint to load")
	return cmd
}
