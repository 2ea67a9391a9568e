package train

import "github.com/lot-toolkit/lot/data"

// Protocols are the experiments a run can follow: "paper", the paper's
// text (App. D; lot's defaults), and "authors", Fig. 5 as the authors'
// public code ran it (../shared/docs/reference-notes.md, "The `authors`
// protocol"). A protocol fills the keys the user did not set; each of its
// values is an ordinary knob, recorded in config.yaml.
var Protocols = []string{"paper", "authors"}

// authorsSetting returns the authors' protocol's value of every key it
// sets, for the run's activation and regulariser (each Fig. 5 setting has
// its own learning rate and its controller its own s).
func authorsSetting(c *Config) map[string]string {
	lr, s := "0.001", "lambda" // L2 (the authors' ss10)
	switch {
	case c.Activation == "crelu":
		lr, s = "0.01", "var" // svar10
	case c.Reg == "wasserstein":
		s = "sq-mean-code" // sqm10, as their final code computes it
	}
	return map[string]string{
		// Data: all of MNIST, normalised by the full training set.
		"samples": "all", "normalize": data.NormalizeFullTrain, "stream": "random-label", "relabel": "1",
		"tasks": "40", "epochs": "250", "batch": "256",
		// Model and optimiser.
		"hidden": "256,256", "init": "kaiming-uniform", "optimizer": "adam", "adam_betas": "authors-ramp",
		"lr": lr, "reg_strength": "0.001",
		// Their logging: every 40 updates from the first, each losing its update.
		"log_every": "40", "log_phase": "start", "skip_logged_update": "true",
		// The controller's signals: 100 cold power iterations (101 products),
		// each layer's run in the batch's reduced space, fc1's output
		// Hessian through the rows' logit Jacobians (the same iterates from
		// the same start, rounded differently, at a quarter to a half of the
		// cost), λ̄ normalised globally, the code's single-step volatility
		// and α_crit.
		"diagnostics.solver": "power-batch", "diagnostics.power_iters": "101", "diagnostics.power_tol": "0",
		"diagnostics.sharpness_start": "cold", "diagnostics.sharpness_norm": "global",
		"diagnostics.vol_stat": "code", "diagnostics.window": "30",
		"diagnostics.threshold": "code", "diagnostics.code_c": "20", "diagnostics.code_s": s,
		"diagnostics.alpha": "code",
		// Alg. 1 as their last committed version runs it.
		"schedule.alpha": "code", "schedule.gamma": "0.8", "schedule.cool": "0.99", "schedule.warm": "1.01",
		"schedule.floor": "0.12", "schedule.warm_horizon": "0.1", "schedule.warm_ratio": "0.3",
		"schedule.warm_counter": "run",
	}
}
