package main

import (
	"errors"
	"fmt"
	"os"
	"strconv"
	"strings"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/lot-toolkit/lot/progress"
	"github.com/lot-toolkit/lot/rundir"
	"github.com/lot-toolkit/lot/train"
)

func runCommand() *cobra.Command {
	cfg := train.Default()
	var (
		preset, configPath, resume, out, hidden string
		keep, force                             bool
	)
	cmd := &cobra.Command{
		Use:   "run",
		Short: "Train on a continual-learning task stream",
		Long: `Train an MLP on a stream of tasks and write config.yaml, metrics.jsonl,
tasks.jsonl, summary.json and checkpoint.safetensors under --out.

Values are resolved in this order, later ones winning: the defaults, --preset,
--config FILE, then the flags given on the command line.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			opts := train.Options{Out: out, Reporter: progress.New(os.Stderr), KeepCheckpoints: keep}
			if resume != "" {
				var other string
				cmd.Flags().Visit(func(f *pflag.Flag) {
					if f.Name != "resume" && f.Name != "keep-checkpoints" && f.Name != "cpuprofile" {
						other = f.Name
					}
				})
				if other != "" {
					return fmt.Errorf("--resume takes no --%s: the run's own config.yaml decides everything", other)
				}
				opts.Out = resume
				return finish(resume)(train.Resume(cmd.Context(), resume, opts))
			}
			resolved := train.Default()
			if preset != "" {
				apply, ok := train.Presets[preset]
				if !ok {
					return fmt.Errorf("--preset: unknown preset %q (want one of: %s)", preset, strings.Join(train.PresetNames(), ", "))
				}
				apply(&resolved)
			}
			if configPath != "" {
				var err error
				if resolved, err = train.LoadConfig(configPath, resolved); err != nil {
					return err
				}
			}
			// Flags given explicitly win over the preset and the file.
			var err error
			cmd.Flags().Visit(func(f *pflag.Flag) {
				if err != nil {
					return
				}
				err = setField(&resolved, &cfg, f.Name, hidden)
			})
			if err != nil {
				return err
			}
			// The controller needs the sharpness: scheduled runs measure
			// full diagnostics unless told otherwise (which Validate refuses).
			if resolved.Method == "scheduled" && !cmd.Flags().Changed("diagnostics") {
				resolved.Diagnostics.Level = "full"
			}
			if out == "" {
				return errors.New("--out: a run directory is required")
			}
			if force {
				if moved, err := rundir.MoveAside(out); err != nil {
					return fmt.Errorf("--force: %v", err)
				} else if moved != "" {
					fmt.Fprintf(os.Stderr, "lot: moved the run in %s aside to %s\n", out, moved)
				}
			}
			return finish(out)(train.Run(cmd.Context(), resolved, opts))
		},
	}
	f := cmd.Flags()
	f.StringVar(&preset, "preset", "", "start from a named setting: paper or quick")
	f.StringVar(&configPath, "config", "", "read settings from a YAML file (as written to DIR/config.yaml)")
	f.StringVar(&resume, "resume", "", "continue the run in this directory from its last checkpoint")
	f.StringVar(&out, "out", "", "run directory for all outputs")
	f.BoolVar(&force, "force", false, "if --out holds a run, move it aside to DIR.old-N (nothing is deleted) and start afresh")
	f.BoolVar(&keep, "keep-checkpoints", false, "also keep a checkpoint of every task under DIR/checkpoints/")
	f.StringVar(&cfg.Data, "data", "", "directory with MNIST's IDX files (default: the GoMNIST module's copy)")
	f.StringVar(&cfg.Stream, "stream", cfg.Stream, "task stream: random-label or permuted")
	f.IntVar(&cfg.Samples, "samples", cfg.Samples, "training images subsampled once per seed")
	f.Float64Var(&cfg.Relabel, "relabel", cfg.Relabel, "fraction of labels re-drawn at each task start (random-label)")
	f.IntVar(&cfg.Tasks, "tasks", cfg.Tasks, "number of tasks")
	f.IntVar(&cfg.Epochs, "epochs", cfg.Epochs, "epochs per task")
	f.IntVar(&cfg.Batch, "batch", cfg.Batch, "minibatch size")
	f.StringVar(&hidden, "hidden", "256", "hidden widths, comma-separated (256,256 for two layers)")
	f.StringVar(&cfg.Activation, "activation", cfg.Activation, "relu, crelu, leaky_relu:<slope> or linear")
	f.BoolVar(&cfg.BatchNorm, "batchnorm", false, "BatchNorm1d after each hidden linear layer")
	f.StringVar(&cfg.Init, "init", cfg.Init, "weight initialisation: torch (nn.Linear default) or kaiming-normal")
	f.StringVar(&cfg.Optimizer, "optimizer", cfg.Optimizer, "adam or sgd")
	f.Float64Var(&cfg.LR, "lr", cfg.LR, "learning rate")
	f.Float64Var(&cfg.Momentum, "momentum", cfg.Momentum, "SGD momentum")
	f.StringVar(&cfg.Reg, "reg", cfg.Reg, "regulariser: none, l2 (coupled weight decay), wasserstein or l2init")
	f.Float64Var(&cfg.RegStrength, "reg-strength", cfg.RegStrength, "regulariser strength λ")
	f.StringVar(&cfg.Method, "method", cfg.Method, "vanilla, reset-optimizer, reset-model or scheduled (the per-layer controller, Alg. 1)")
	f.Uint64Var(&cfg.Seed, "seed", cfg.Seed, "random seed")
	f.IntVar(&cfg.Threads, "threads", cfg.Threads, "BLAS threads (results are reproducible for a fixed count)")
	f.IntVar(&cfg.LogEvery, "log-every", cfg.LogEvery, "updates between metrics.jsonl rows")
	d := &cfg.Diagnostics
	f.StringVar(&d.Level, "diagnostics", d.Level, "signals logged with metrics.jsonl: off, light (cheap; the default) or full (adds curvature)")
	f.IntVar(&d.Window, "window", d.Window, "W: logged steps in the sharpness-volatility window")
	f.StringVar(&d.VolStat, "vol-stat", d.VolStat, "volatility statistic: window (paper), ema, or code (public code's single-step deviation)")
	f.Float64Var(&d.Beta, "beta", d.Beta, "β in σ̃² = σ² + β‖g‖²·Vol, in [0,1]")
	f.Float64Var(&d.Kappa, "kappa", d.Kappa, "κ in α_vol* = 1/(κ·Vol)")
	f.Float64Var(&d.CodeC, "code-c", d.CodeC, "c in the public code's α_crit = B·G/(σ² + c·G·s)")
	f.StringVar(&d.CodeS, "code-s", d.CodeS, "s in α_crit: sq-mean, lambda, cv or var")
	f.StringVar(&d.Alpha, "alpha-variant", d.Alpha, "effective step compared with the bounds: paper or code")
	f.StringVar(&d.Threshold, "threshold", d.Threshold, "bound of the exceedance indicator and ρ̂: tilde (α̃*) or code (α_crit)")
	f.StringVar(&d.Solver, "sharpness-solver", d.Solver, "top-eigenvalue solver: lanczos (warm-started) or power (the paper's power iteration)")
	f.BoolVar(&d.GlobalSharp, "global-sharpness", d.GlobalSharp, "also measure the whole network's sharpness (about doubles full diagnostics' cost)")
	f.Float64Var(&d.PowerTol, "power-tol", d.PowerTol, "sharpness solver's relative-residual stopping rule")
	f.IntVar(&d.PowerIters, "power-iters", d.PowerIters, "Hessian products per layer per log interval, at most")
	f.IntVar(&d.FisherSamples, "fisher-samples", d.FisherSamples, "samples of the empirical-Fisher rank and the effective rank")
	sc := &cfg.Schedule
	f.Float64Var(&sc.Gamma, "gamma", sc.Gamma, "scheduled: safety factor γ, cool when α > γ·α̃*")
	f.Float64Var(&sc.Cool, "cool", sc.Cool, "scheduled: cooling factor of a layer's learning rate")
	f.Float64Var(&sc.Warm, "warm", sc.Warm, "scheduled: warming factor of a layer's learning rate")
	f.Float64Var(&sc.Floor, "floor", sc.Floor, "scheduled: cool only while α exceeds this floor (0: none)")
	f.Float64Var(&sc.WarmHorizon, "warm-horizon", sc.WarmHorizon, "scheduled: fraction of each task's steps during which warming is allowed")
	f.Float64Var(&sc.WarmRatio, "warm-ratio", sc.WarmRatio, "scheduled: warm when α < ratio·γ·α̃*")
	f.StringVar(&sc.Alpha, "sched-alpha", sc.Alpha, "scheduled: effective step compared with the bound, code or paper (see README)")
	f.Float64Var(&sc.MaxLR, "max-lr", sc.MaxLR, "scheduled: never warm a layer's learning rate above this (0: no ceiling, as Alg. 1)")
	return cmd
}

// setField copies one explicitly given flag from the flag-bound config into
// the resolved one.
func setField(dst, src *train.Config, name, hidden string) error {
	switch name {
	case "data":
		dst.Data = src.Data
	case "stream":
		dst.Stream = src.Stream
	case "samples":
		dst.Samples = src.Samples
	case "relabel":
		dst.Relabel = src.Relabel
	case "tasks":
		dst.Tasks = src.Tasks
	case "epochs":
		dst.Epochs = src.Epochs
	case "batch":
		dst.Batch = src.Batch
	case "hidden":
		widths, err := parseWidths(hidden)
		if err != nil {
			return err
		}
		dst.Hidden = widths
	case "activation":
		dst.Activation = src.Activation
	case "batchnorm":
		dst.BatchNorm = src.BatchNorm
	case "init":
		dst.Init = src.Init
	case "optimizer":
		dst.Optimizer = src.Optimizer
	case "lr":
		dst.LR = src.LR
	case "momentum":
		dst.Momentum = src.Momentum
	case "reg":
		dst.Reg = src.Reg
	case "reg-strength":
		dst.RegStrength = src.RegStrength
	case "method":
		dst.Method = src.Method
	case "seed":
		dst.Seed = src.Seed
	case "threads":
		dst.Threads = src.Threads
	case "log-every":
		dst.LogEvery = src.LogEvery
	case "diagnostics":
		dst.Diagnostics.Level = src.Diagnostics.Level
	case "window":
		dst.Diagnostics.Window = src.Diagnostics.Window
	case "vol-stat":
		dst.Diagnostics.VolStat = src.Diagnostics.VolStat
	case "beta":
		dst.Diagnostics.Beta = src.Diagnostics.Beta
	case "kappa":
		dst.Diagnostics.Kappa = src.Diagnostics.Kappa
	case "code-c":
		dst.Diagnostics.CodeC = src.Diagnostics.CodeC
	case "code-s":
		dst.Diagnostics.CodeS = src.Diagnostics.CodeS
	case "alpha-variant":
		dst.Diagnostics.Alpha = src.Diagnostics.Alpha
	case "threshold":
		dst.Diagnostics.Threshold = src.Diagnostics.Threshold
	case "sharpness-solver":
		dst.Diagnostics.Solver = src.Diagnostics.Solver
	case "global-sharpness":
		dst.Diagnostics.GlobalSharp = src.Diagnostics.GlobalSharp
	case "power-tol":
		dst.Diagnostics.PowerTol = src.Diagnostics.PowerTol
	case "power-iters":
		dst.Diagnostics.PowerIters = src.Diagnostics.PowerIters
	case "fisher-samples":
		dst.Diagnostics.FisherSamples = src.Diagnostics.FisherSamples
	case "gamma":
		dst.Schedule.Gamma = src.Schedule.Gamma
	case "cool":
		dst.Schedule.Cool = src.Schedule.Cool
	case "warm":
		dst.Schedule.Warm = src.Schedule.Warm
	case "floor":
		dst.Schedule.Floor = src.Schedule.Floor
	case "warm-horizon":
		dst.Schedule.WarmHorizon = src.Schedule.WarmHorizon
	case "warm-ratio":
		dst.Schedule.WarmRatio = src.Schedule.WarmRatio
	case "sched-alpha":
		dst.Schedule.Alpha = src.Schedule.Alpha
	case "max-lr":
		dst.Schedule.MaxLR = src.Schedule.MaxLR
	}
	return nil
}

func parseWidths(s string) ([]int, error) {
	var out []int
	for _, part := range strings.Split(s, ",") {
		n, err := strconv.Atoi(strings.TrimSpace(part))
		if err != nil || n < 1 {
			return nil, fmt.Errorf("--hidden: %q is not a positive width (want e.g. 256 or 256,256)", part)
		}
		out = append(out, n)
	}
	return out, nil
}

// finish reports a run's outcome; dir is its run directory.
func finish(dir string) func(*train.Summary, error) error {
	return func(s *train.Summary, err error) error {
		if errors.Is(err, train.ErrInterrupted) {
			return interrupted{dir}
		}
		if err != nil {
			return err
		}
		fmt.Printf("done: %d tasks, %d steps, final_acc %.4f, mean online_acc %.4f, %.1f steps/s, %.1fs\n",
			s.Tasks, s.Steps, s.FinalAcc, s.MeanOnlineAcc, s.TrainStepsPerSec, s.WallSeconds)
		return nil
	}
}
