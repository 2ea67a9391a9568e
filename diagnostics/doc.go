// Package diagnostics owns the trainability signals of the paper (§4–5,
// App. B–C) and the single-cause metrics it argues against (Fig. 1),
// measured on a live training step:
//
//   - the effective step α, global and per layer, in the paper's variant
//     (mean over parameters of η/((1−β1^t)(√v̂+ε))) and the public code's
//     (per weight tensor, η/((1−β1^t)(√(mean v/(1−β2^t))+ε)), biases excluded);
//   - the exact per-sample gradient noise σ², and α_g* = B‖ĝ‖²/σ² (σ² below
//     its float32 rounding floor is clamped to 0 and flagged noise_clamped,
//     α_g* then +Inf, null in JSON);
//   - sharpness λ (top Hessian eigenvalue of each layer's diagonal block and
//     of the whole network, warm-started power iteration), the normalised
//     sharpness λ̄ = α_agg·λ, and its volatility over a window;
//   - α_vol* = 1/(κ·Vol), the combined α̃* = B‖ĝ‖²/(σ² + β‖ĝ‖²·Vol), the
//     public code's α_crit = B‖ĝ‖²/(σ² + c‖ĝ‖²·s), and the exceedance α > α̃*;
//   - Hessian rank by the empirical-Fisher 99% rule, unit-sign entropy, dead
//     units, effective rank of each hidden representation, weight and
//     gradient norms and their ratio. A failed eigendecomposition leaves
//     the rank null and says so in the row's errors, never rank 0.
//
// Definitions follow the project's reference notes; the paper's equations
// are the defaults and the public code's variants are named options (among
// them the authors' global sharpness normaliser and cold-started solves,
// variants.go). Every signal is per parameter group, for any number of
// hidden layers.
package diagnostics
