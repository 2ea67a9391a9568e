package diagnostics

import (
	"errors"
	"fmt"
	"math"
	"strings"

	"github.com/lot-toolkit/lot/curvature"
	"github.com/lot-toolkit/lot/model"
)

// Report is a one-off diagnosis of a model on one batch (`lot diagnose`).
// It marshals to exactly
//
//	{"loss", "grad_norm_sq", "grad_noise", "sharpness", "fisher_rank",
//	 "layers": [{"name", "grad_norm_sq", "grad_noise", "sharpness", "use",
//	             "weight_norm"}, ...]}
//
// with NaN and ±Inf written as null.
type Report struct {
	Loss       Num           `json:"loss"`         // mean cross-entropy
	GradNormSq Num           `json:"grad_norm_sq"` // ‖ḡ‖², ḡ the gradient of the mean loss
	GradNoise  Num           `json:"grad_noise"`   // σ² = (1/B)Σ_i‖g_i − ḡ‖², summed over layers (each clamped at 0, see Notes)
	Sharpness  Num           `json:"sharpness"`    // top eigenvalue of the whole Hessian
	FisherRank Num           `json:"fisher_rank"`  // empirical-Fisher 99% rank / n; null if its eigensolve failed
	Layers     []ReportLayer `json:"layers"`

	// Notes are caveats for a person reading the table (an eigenvalue
	// whose power iteration did not reach its tolerance, say); they are not
	// part of the JSON object.
	Notes []string `json:"-"`
}

// ReportLayer is one parameter group's (module's) part of a Report.
type ReportLayer struct {
	Name       string `json:"name"`         // fc1, bn1, fc2, ...
	GradNormSq Num    `json:"grad_norm_sq"` // over the module's weight and bias
	GradNoise  Num    `json:"grad_noise"`   // σ² restricted to the module
	Sharpness  Num    `json:"sharpness"`    // top eigenvalue of its diagonal Hessian block
	Use        Num    `json:"use"`          // unit-sign entropy (bits) of its output
	WeightNorm Num    `json:"weight_norm"`  // ‖(weight, bias)‖
}

// Power-iteration settings for Analyze. The run stops once the relative
// residual r = ‖Hv − θv‖/|θ| ≤ analyzeTol. For a symmetric H that bounds
// the eigenvalue error twice over: some eigenvalue lies within r·|θ| of θ
// (Weinstein), so the error is at most 1e-4 relative whatever the spectrum;
// and with δ the gap from θ to the rest of the spectrum, the error is at
// most r²·|θ|/δ (Kato–Temple), i.e. 1e-8·|θ|/δ — far below 1e-4 unless the
// top two eigenvalues agree to about 1e-4 relative, when it no longer
// matters which of them is reported. Hessian-vector products are computed
// in float32, whose rounding (about 1e-6 relative here) sits well under
// the tolerance, so the runs do converge. Power iteration finds the
// eigenvalue of largest magnitude; see topEigenvalue for a dominant
// negative one.
const (
	analyzeTol     = 1e-4
	analyzeMaxIter = 3000
)

// Analyze diagnoses m on the whole batch (x: rows×Input row-major, y the
// labels): loss, gradient norm, per-sample gradient noise, sharpness
// (top Hessian eigenvalue of the mean loss, whole network and per module),
// unit-sign entropy of every module's output, weight norms and the
// empirical-Fisher rank of the first min(B, 100) samples.
//
// train selects BatchNorm's batch statistics (the training loss) rather
// than its running statistics. Eval mode is refused for a model with
// BatchNorm: model.HVP differentiates BatchNorm through its batch
// statistics only, so its Hessian would be a different function's. Without
// BatchNorm both modes are the same function.
//
// Neither the parameters nor BatchNorm's running statistics are changed.
func Analyze(m *model.MLP, x []float32, y []int32, train bool) (Report, error) {
	var rep Report
	B := len(y)
	switch {
	case B == 0:
		return rep, errors.New("diagnostics: no samples")
	case len(x) != B*m.Spec.Input:
		return rep, fmt.Errorf("diagnostics: %d input values for %d samples of %d features", len(x), B, m.Spec.Input)
	case !train && m.Spec.BatchNorm:
		return rep, errors.New("diagnostics: eval-mode BatchNorm (running statistics) is not supported: lot's Hessian-vector products differentiate BatchNorm through its batch statistics only, so the sharpness would be wrong; use train mode")
	case m.Spec.BatchNorm && B < 2:
		return rep, errors.New("diagnostics: BatchNorm in training mode needs at least 2 samples")
	}
	for i, l := range y {
		if l < 0 || int(l) >= m.Spec.Classes {
			return rep, fmt.Errorf("diagnostics: label %d at index %d is outside 0..%d", l, i, m.Spec.Classes-1)
		}
	}

	// One forward and backward pass of the whole batch, kept for every
	// measurement below. Prepare runs BatchNorm with batch statistics and
	// restores the running statistics it updates; without BatchNorm,
	// training and evaluation mode are the same computation.
	h := m.NewHVP(B)
	loss := h.Prepare(x, y)
	ws, grad := h.Workspace(), h.Grad
	rep.Loss = Num(loss)

	sumSq := make([]float64, len(m.Groups))
	m.SampleGradSqNorms(ws, sumSq)
	rep.Layers = make([]ReportLayer, len(m.Groups))
	var gAll, nAll float64
	fc, bn := 0, 0 // index of the next linear and BatchNorm module
	for g, grp := range m.Groups {
		L := &rep.Layers[g]
		L.Name = grp.Name
		g2 := sqNorm64(grad[grp.Offset : grp.Offset+grp.Len])
		noise, clamped := gradNoise(sumSq[g], float64(B), g2) // (1/B)Σ‖g_i‖² − ‖ḡ‖² = (1/B)Σ‖g_i − ḡ‖²
		L.GradNormSq, L.GradNoise = Num(g2), Num(noise)
		if clamped {
			rep.Notes = append(rep.Notes, fmt.Sprintf("the gradient noise of %s is below its float32 rounding floor (%g of the mean per-sample squared norm) or not a number: the per-sample gradients agree to float32 precision; it is reported as %v", grp.Name, noiseFloor, noise))
		}
		L.WeightNorm = Num(math.Sqrt(sqNorm64(m.Params[grp.Offset : grp.Offset+grp.Len])))
		gAll, nAll = gAll+g2, nAll+noise

		// The module's output: fc_i's linear output (the logits for the
		// last), or bn_i's normalised and scaled output.
		var out []float32
		var units int
		if strings.HasPrefix(grp.Name, "bn") {
			out, units = ws.BatchNormOutput(bn), m.Spec.Hidden[bn]
			bn++
		} else {
			out = ws.LinearOutput(fc)
			_, _, _, units = m.Linear(fc)
			fc++
		}
		L.Use, _ = unitSignStats(out, units)
	}
	rep.GradNormSq, rep.GradNoise = Num(gAll), Num(nAll)

	n := min(B, 100)
	gram, scratch := make([]float64, n*n), make([]float64, 2*n*n)
	m.SampleGradGram(ws, n, gram, scratch)
	rank, err := fisherRank(gram, n)
	rep.FisherRank = Num(rank)
	if err != nil {
		rep.Notes = append(rep.Notes, "fisher_rank is null: "+err.Error())
	}

	for g := -1; g < len(m.Groups); g++ {
		op := curvature.NewHessian(h, m, g, 0)
		lambda, ok := topEigenvalue(op, uint64(g+2))
		name := "the whole network"
		if g < 0 {
			rep.Sharpness = Num(lambda)
		} else {
			rep.Layers[g].Sharpness = Num(lambda)
			name = m.Groups[g].Name
		}
		if !ok {
			rep.Notes = append(rep.Notes, fmt.Sprintf("the sharpness of %s did not converge to relative residual %g in %d power iterations (near-tied top eigenvalues); it is the last Rayleigh quotient", name, analyzeTol, analyzeMaxIter))
		}
	}
	return rep, nil
}

// topEigenvalue returns the algebraically largest eigenvalue of the
// symmetric op and whether power iteration converged. Power iteration finds
// the eigenvalue of largest magnitude; when that is negative (|λ_min| >
// λ_max, possible away from a minimum) it runs again on op − θI with θ that
// eigenvalue, whose spectrum λ − θ is nonnegative with largest element
// λ_max − θ, and shifts back. The shifted run's tolerance is relative to
// λ_max − θ ≤ 2|θ|.
func topEigenvalue(op curvature.Operator, seed uint64) (float64, bool) {
	opts := curvature.PowerOptions{MaxIter: analyzeMaxIter, Tol: analyzeTol, Seed: seed}
	res := curvature.PowerIteration(op, opts)
	if !(res.Value < 0) {
		return res.Value, res.Converged
	}
	theta := res.Value
	shifted := curvature.PowerIteration(shiftedOp{op, theta}, opts)
	return shifted.Value + theta, shifted.Converged
}

// shiftedOp is op − θI.
type shiftedOp struct {
	op    curvature.Operator
	theta float64
}

func (s shiftedOp) Dim() int { return s.op.Dim() }

func (s shiftedOp) Apply(dst, v []float64) {
	s.op.Apply(dst, v)
	for i := range dst {
		dst[i] -= s.theta * v[i]
	}
}

// sqNorm64 is Σv² accumulated in float64 (exact enough for a report).
func sqNorm64(v []float32) float64 {
	var s float64
	for _, x := range v {
		s += float64(x) * float64(x)
	}
	return s
}
