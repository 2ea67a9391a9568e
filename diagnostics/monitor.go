package diagnostics

import (
	"fmt"
	"math"
	"slices"

	"gonum.org/v1/gonum/mat"

	"github.com/lot-toolkit/lot/curvature"
	"github.com/lot-toolkit/lot/linalg"
	"github.com/lot-toolkit/lot/model"
	"github.com/lot-toolkit/lot/optim"
)

// topSolver finds a top eigenpair, warm-starting from the last one.
type topSolver interface {
	Run(curvature.Operator) curvature.PowerResult
	Warm() []float64
	SetWarm([]float64)
}

// Layer is one parameter group's signals at a logged step. Fields that the
// level does not measure are omitted.
type Layer struct {
	Alpha      Num `json:"alpha"`      // effective step, paper variant
	AlphaCode  Num `json:"alpha_code"` // effective step, public code variant
	AlphaAgg   Num `json:"alpha_agg"`  // η/(RMS(√v̂)+ε), the sharpness normaliser
	GradNormSq Num `json:"grad_norm_sq"`
	GradNoise  Num `json:"grad_noise"` // σ² = (1/B)Σ‖g_i − ḡ‖²
	// NoiseClamped says σ² came out below its rounding floor (the
	// per-sample gradients agree to float32 precision) and GradNoise is 0,
	// or not a number; AlphaG is then +Inf or NaN (null) and never negative.
	NoiseClamped   bool `json:"noise_clamped,omitempty"`
	AlphaG         Num  `json:"alpha_g"` // B‖ĝ‖²/σ²
	WeightNorm     Num  `json:"weight_norm"`
	GradParamRatio Num  `json:"grad_param_ratio"` // ‖ĝ‖/‖θ‖
	USE            *Num `json:"use,omitempty"`    // unit-sign entropy (bits), hidden layers
	DeadUnits      *Num `json:"dead_units,omitempty"`
	EffectiveRank  *Num `json:"effective_rank,omitempty"`

	Sharpness  *Num  `json:"sharpness,omitempty"` // top eigenvalue of the layer's Hessian block
	PowerIters int   `json:"power_iters,omitempty"`
	NormSharp  *Num  `json:"norm_sharpness,omitempty"` // λ̄ = α_agg·λ
	VolMu      *Num  `json:"vol_mu,omitempty"`
	VolSigma2  *Num  `json:"vol_sigma2,omitempty"`
	Vol        *Num  `json:"vol,omitempty"`
	AlphaVol   *Num  `json:"alpha_vol,omitempty"`   // 1/(κ·Vol)
	AlphaTilde *Num  `json:"alpha_tilde,omitempty"` // B‖ĝ‖²/(σ² + β‖ĝ‖²Vol)
	AlphaCrit  *Num  `json:"alpha_crit,omitempty"`  // B‖ĝ‖²/(σ² + c‖ĝ‖²s), public code
	Exceed     *bool `json:"exceed,omitempty"`      // α > the chosen bound
}

// Row is the diagnostics of one logged step.
type Row struct {
	Alpha      Num               `json:"alpha"`
	AlphaCode  Num               `json:"alpha_code"`
	GradNormSq Num               `json:"grad_norm_sq"`
	GradNoise  Num               `json:"grad_noise"`
	WeightNorm Num               `json:"weight_norm"`
	Sharpness  *Num              `json:"sharpness,omitempty"`
	PowerIters int               `json:"power_iters,omitempty"`
	FisherRank *Num              `json:"fisher_rank,omitempty"` // null when its eigensolve failed (see Errors)
	Exceed     *bool             `json:"exceed,omitempty"`      // some layer exceeds its bound
	Layers     map[string]*Layer `json:"layers"`
	// Errors names the measurements that failed at this step (an
	// eigendecomposition on non-finite values, say); their fields are null.
	Errors []string `json:"errors,omitempty"`
}

// Monitor measures the signals of a training run. Call Before after the
// step's gradient and before the optimiser's update (the batch's forward
// and backward pass must still be in the workspace), then After once the
// update is applied.
type Monitor struct {
	opts Options
	m    *model.MLP
	opt  optim.Optimizer
	ws   *model.Workspace
	term curvature.Term // a penalty's Hessian that is not c·I; nil for none

	hvp     *model.HVP
	ops     []*curvature.Hessian // per group, then (GlobalSharpness) the whole network
	power   []topSolver
	windows []*window

	sumSq        []float64
	gram, gramSc []float64
	start        []float64 // a cold start, as long as the largest operator
	row          Row
	layers       []Layer
	lambda       []float64 // this step's sharpness per group, then global

	taskLogged, taskExceeded int
}

// New makes a monitor for a model trained with opt, whose training pass
// lives in ws. term is the Hessian of an in-loss penalty that is not c·I
// (nil for none), which every sharpness includes; it rules out the
// first layer's reduced-space solvers, which assume c·I. An in-loss
// regulariser's c·I is set with SetRegScale. opts are used as given:
// start from DefaultOptions.
func New(m *model.MLP, opt optim.Optimizer, ws *model.Workspace, term curvature.Term, opts Options) *Monitor {
	mon := &Monitor{opts: opts, m: m, opt: opt, ws: ws, term: term,
		sumSq: make([]float64, len(m.Groups)), layers: make([]Layer, len(m.Groups))}
	if opts.Level >= Full {
		mon.hvp = m.NewHVPOn(ws)
		last := len(m.Groups) - 1
		if opts.GlobalSharpness {
			last = len(m.Groups) // index len(Groups) is the whole network
		}
		for k := 0; k <= last; k++ {
			g := k
			if k == len(m.Groups) {
				g = -1
			}
			op := curvature.NewHessian(mon.hvp, m, g, 0)
			op.Term = term
			var it topSolver
			tol := solverTol(opts)
			reduces := k == 0 && term == nil && firstLayerReduces(m, ws.MaxBatch)
			layer := linearLayer(m, k)
			reducedPower := reduces && opts.Solver == SolverPowerReduced ||
				term == nil && opts.Solver == SolverPowerBatch && layer >= 0 && layerReduces(m, layer, ws.MaxBatch)
			switch {
			case reduces && opts.Solver == "lanczos":
				it = newFirstLayerSolver(m, mon.hvp, ws, opts.PowerMaxIter, tol, uint64(k+1))
			case reducedPower:
				it = newReducedPowerSolver(m, mon.hvp, ws, layer, opts.PowerMaxIter, tol, uint64(k+1), opts.Solver == SolverPowerBatch)
			case opts.Solver == "lanczos":
				it = curvature.NewTopEigenSolver(op.Dim(), opts.PowerMaxIter, tol, uint64(k+1))
			default: // a power solver's block or whole-network products
				it = curvature.NewPowerIterator(op.Dim(), curvature.PowerOptions{MaxIter: opts.PowerMaxIter, Tol: tol, Seed: uint64(k + 1)})
			}
			if opts.SharpnessStart == StartCold && op.Dim() > len(mon.start) {
				mon.start = make([]float64, op.Dim())
			}
			mon.ops = append(mon.ops, op)
			mon.power = append(mon.power, it)
		}
		for range len(m.Groups) + 1 {
			mon.windows = append(mon.windows, newWindow(opts.Window))
		}
		n := opts.FisherSamples
		mon.gram, mon.gramSc = make([]float64, n*n), make([]float64, 2*n*n)
		mon.lambda = make([]float64, len(m.Groups)+1)
	}
	return mon
}

// SetRegScale updates the regulariser's Hessian scale (after a model reset
// re-anchors the regulariser, say).
func (mon *Monitor) SetRegScale(c float64) {
	for _, op := range mon.ops {
		op.RegScale = c
	}
	for _, it := range mon.power {
		switch f := it.(type) {
		case *firstLayerSolver:
			f.regScale = c
		case *reducedPowerSolver:
			f.regScale = c
		}
	}
}

// Before is BeforeAt for warm-started solvers, whose runs do not depend on
// the step, without an in-loss penalty.
func (mon *Monitor) Before(grad []float32) { mon.BeforeAt(0, grad, nil) }

// BeforeAt measures what depends on the batch: gradient noise, norms,
// activation statistics and, at Full, sharpness and the Fisher rank. grad is
// the step's full gradient, which G is the norm of; dataGrad is the data
// loss's alone where an in-loss penalty added its own to grad (nil: grad is
// the data loss's). The per-sample gradients are the data loss's, so σ²
// centres them on dataGrad: a penalty, the same for every sample, adds no
// variance. step is the run's 0-based update index of the batch, which
// names the cold starts' random stream (SharpnessStart cold).
func (mon *Monitor) BeforeAt(step int64, grad, dataGrad []float32) {
	m, ws := mon.m, mon.ws
	rows := ws.Rows()
	B := float64(rows)
	m.SampleGradSqNorms(ws, mon.sumSq)
	var gAll, nAll, wAll float64
	for g, grp := range m.Groups {
		L := &mon.layers[g]
		*L = Layer{}
		g2 := linalg.SumSquares(grad[grp.Offset : grp.Offset+grp.Len])
		w2 := linalg.SumSquares(m.Params[grp.Offset : grp.Offset+grp.Len])
		d2 := g2
		if dataGrad != nil {
			d2 = linalg.SumSquares(dataGrad[grp.Offset : grp.Offset+grp.Len])
		}
		noise, clamped := gradNoise(mon.sumSq[g], B, d2)
		L.GradNormSq, L.GradNoise, L.WeightNorm = Num(g2), Num(noise), Num(math.Sqrt(w2))
		L.NoiseClamped = clamped
		L.AlphaG = Num(B * g2 / noise)
		L.GradParamRatio = Num(math.Sqrt(g2 / w2))
		gAll, nAll, wAll = gAll+g2, nAll+noise, wAll+w2
	}
	mon.row = Row{GradNormSq: Num(gAll), GradNoise: Num(nAll), WeightNorm: Num(math.Sqrt(wAll))}
	for i := range m.Spec.Hidden {
		g := m.HiddenGroup(i)
		use, dead := unitSignStats(ws.PreActivation(i), m.Spec.Hidden[i])
		mon.layers[g].USE, mon.layers[g].DeadUnits = ptr(use), ptr(dead)
	}
	if mon.opts.Level < Full {
		return
	}
	n := min(mon.opts.FisherSamples, rows)
	m.SampleGradGram(ws, n, mon.gram, mon.gramSc)
	rank, err := fisherRank(mon.gram[:n*n], n)
	mon.row.FisherRank = ptr(Num(rank))
	if err != nil {
		mon.row.Errors = append(mon.row.Errors, "fisher_rank: "+err.Error())
	}
	for i := range m.Spec.Hidden {
		h := ws.Hidden(i)
		width := len(h) / rows
		g := m.HiddenGroup(i)
		er, err := effectiveRank(h, width, n, mon.gramSc[:n*n])
		mon.layers[g].EffectiveRank = ptr(Num(er))
		if err != nil {
			mon.row.Errors = append(mon.row.Errors, m.Groups[g].Name+" effective_rank: "+err.Error())
		}
	}
	if mon.term != nil {
		if err := mon.term.Prepare(m.Params); err != nil {
			mon.row.Errors = append(mon.row.Errors, "sharpness: "+err.Error())
			nan := ptr(Num(math.NaN()))
			for k := range mon.power {
				mon.lambda[k] = math.NaN()
				if k < len(m.Groups) {
					mon.layers[k].Sharpness = nan
				} else {
					mon.row.Sharpness = nan
				}
			}
			return
		}
	}
	for k, it := range mon.power {
		if mon.opts.SharpnessStart == StartCold {
			v := mon.start[:mon.ops[k].Dim()]
			coldStart(v, mon.opts.Seed, step, k)
			it.SetWarm(v)
		}
		res := it.Run(mon.ops[k])
		roundWarm(res.Vector)
		mon.lambda[k] = res.Value
		if k < len(m.Groups) {
			mon.layers[k].Sharpness, mon.layers[k].PowerIters = ptr(Num(res.Value)), res.Iterations
		} else {
			mon.row.Sharpness, mon.row.PowerIters = ptr(Num(res.Value)), res.Iterations
		}
	}
}

// After completes the row from the optimiser's state after the update and
// returns it. The row's storage is reused by the next call.
func (mon *Monitor) After() *Row { return mon.AfterEach(nil) }

// AfterEach is After that hands each layer's completed signals to each
// (when not nil), in layer order, before it computes the next layer's. A
// controller deciding there changes a rate before the later layers are
// normalised: under NormGlobal they then read group 0's new rate, as the
// authors' loop does (it normalises, decides and moves on, layer by
// layer). The effective steps are all read before any decision, as theirs.
func (mon *Monitor) AfterEach(each func(g int, L *Layer)) *Row {
	m := mon.m
	rows := float64(mon.ws.Rows())
	steps := effectiveSteps(mon.opt, m)
	mon.row.Layers = make(map[string]*Layer, len(m.Groups))
	var anyExceed bool
	global := mon.opts.SharpnessNorm == NormGlobal
	for g, grp := range m.Groups {
		L := &mon.layers[g]
		agg := steps.agg[g]
		if global {
			agg = steps.codeAgg(mon.opt.Groups()[0].LR)
		}
		L.Alpha, L.AlphaCode, L.AlphaAgg = Num(steps.alpha[g]), Num(steps.alphaCode[g]), Num(agg)
		if mon.opts.Level >= Full {
			anyExceed = mon.thresholds(L, g, float64(L.GradNormSq), float64(L.GradNoise), rows, agg) || anyExceed
		}
		mon.row.Layers[grp.Name] = L
		if each != nil {
			each(g, L)
		}
	}
	mon.row.Alpha, mon.row.AlphaCode = Num(steps.globalAlpha), Num(steps.globalCode)
	if mon.opts.Level >= Full {
		if g := len(m.Groups); mon.opts.GlobalSharpness {
			agg := steps.globalAgg
			if global {
				agg = steps.codeAgg(mon.opt.Groups()[0].LR)
			}
			mon.windows[g].push(agg * mon.lambda[g])
		}
		mon.row.Exceed = &anyExceed
		mon.taskLogged++
		if anyExceed {
			mon.taskExceeded++
		}
	}
	return &mon.row
}

// thresholds fills the curvature-based signals of group g and reports
// whether its effective step exceeds the chosen bound.
func (mon *Monitor) thresholds(L *Layer, g int, g2, noise, B, agg float64) bool {
	o := mon.opts
	nb := agg * mon.lambda[g]
	w := mon.windows[g]
	w.push(nb)
	mu, s2 := w.stats(o.VolStat, nb)
	vol := s2 / (mu + o.Eps)
	var s float64
	switch o.CodeS {
	case "sq-mean":
		s = nb * nb / mu
	case "lambda":
		s = nb
	case "cv":
		s = math.Sqrt(s2) / mu
	case "var":
		s = s2
	case "sq-mean-code": // the public code's final sq_mean, squared once more
		if mu > 0 {
			s = math.Pow(nb*nb/(mu+1e-12), 2)
		}
	case "cv-code": // the public code's lam_cv: σ²/μ, not σ/μ
		s = s2 / (mu + 1e-12)
	}
	L.NormSharp, L.VolMu, L.VolSigma2, L.Vol = ptr(Num(nb)), ptr(Num(mu)), ptr(Num(s2)), ptr(Num(vol))
	L.AlphaVol = ptr(Num(1 / (o.Kappa * vol)))
	tilde := B * g2 / (noise + o.Beta*g2*vol)
	// The authors clamp α_crit's denominator at 1e-12, so a layer with no
	// gradient and no noise gets 0 (which their controller holds), not NaN.
	crit := B * g2 / math.Max(noise+o.CodeC*g2*s, 1e-12)
	L.AlphaTilde, L.AlphaCrit = ptr(Num(tilde)), ptr(Num(crit))
	alpha, bound, _ := o.Compared(L)
	exceed := alpha > bound
	L.Exceed = &exceed
	return exceed
}

// Compared returns the effective step and the bound that the options
// compare (Alpha: paper or code; Threshold: α̃* or α_crit), and false when
// the layer has no bound yet (before any volatility).
func (o Options) Compared(L *Layer) (alpha, bound float64, ok bool) {
	alpha = float64(L.Alpha)
	if o.Alpha == "code" {
		alpha = float64(L.AlphaCode)
	}
	b := L.AlphaTilde
	if o.Threshold == "code" {
		b = L.AlphaCrit
	}
	if b == nil {
		return alpha, 0, false
	}
	return alpha, float64(*b), true
}

// TaskRho returns the current task's predicted-LoT fraction ρ̂ (App. C.2):
// the share of logged steps at which some layer's effective step exceeded
// its bound; NaN before any Full measurement.
func (mon *Monitor) TaskRho() float64 {
	if mon.taskLogged == 0 {
		return math.NaN()
	}
	return float64(mon.taskExceeded) / float64(mon.taskLogged)
}

// StartTask resets the per-task ρ̂ counts.
func (mon *Monitor) StartTask() { mon.taskLogged, mon.taskExceeded = 0, 0 }

func ptr(v Num) *Num { return &v }

// unitSignStats returns the mean over units of the binary entropy (bits) of
// the sign of the unit's pre-activation across the batch, and the fraction
// of units that are never positive.
func unitSignStats(pre []float32, units int) (use, dead Num) {
	rows := len(pre) / units
	var h float64
	var nDead int
	for j := 0; j < units; j++ {
		pos := 0
		for r := 0; r < rows; r++ {
			if pre[r*units+j] > 0 {
				pos++
			}
		}
		if pos == 0 {
			nDead++
		}
		p := float64(pos) / float64(rows)
		if p > 0 && p < 1 {
			h -= p*math.Log2(p) + (1-p)*math.Log2(1-p)
		}
	}
	return Num(h / float64(units)), Num(float64(nDead) / float64(units))
}

// fisherRank is the empirical-Fisher rank rule: the eigenvalues s of the
// per-sample gradient Gram matrix, sorted descending; the smallest j with
// Σ_{i≤j} s_i ≥ 0.99·Σ s; returned as j/n. When the eigendecomposition
// fails it returns NaN and the error, not a rank.
func fisherRank(gram []float64, n int) (float64, error) {
	ev, err := symEigenvalues(gram, n)
	if err != nil {
		return math.NaN(), err
	}
	var total float64
	for _, v := range ev {
		total += max(v, 0)
	}
	if total == 0 {
		return 0, nil
	}
	var cum float64
	for j, v := range ev {
		cum += max(v, 0)
		if cum >= 0.99*total {
			return float64(j+1) / float64(n), nil
		}
	}
	return 1, nil
}

// effectiveRank is exp(−Σ p_k ln p_k) with p_k = σ_k/Σσ, σ the singular
// values of the first n rows of h (row length width), found from the
// eigenvalues of their n×n Gram matrix. scratch holds n·n values. When the
// eigendecomposition fails it returns NaN and the error.
func effectiveRank(h []float32, width, n int, scratch []float64) (float64, error) {
	linalg.Gram64(h, width, n, scratch)
	ev, err := symEigenvalues(scratch, n)
	if err != nil {
		return math.NaN(), err
	}
	var sum float64
	for i, v := range ev {
		ev[i] = math.Sqrt(max(v, 0))
		sum += ev[i]
	}
	if sum == 0 {
		return 0, nil
	}
	var ent float64
	for _, s := range ev {
		if p := s / sum; p > 0 {
			ent -= p * math.Log(p)
		}
	}
	return math.Exp(ent), nil
}

// symEigenvalues returns the eigenvalues of a symmetric n×n matrix,
// descending, or an error when it has a non-finite entry or the
// factorisation fails. The entries are checked first: gonum's EigenSym
// reports success on NaN input, with NaN or even finite garbage values.
func symEigenvalues(a []float64, n int) ([]float64, error) {
	for _, x := range a[:n*n] {
		if math.IsNaN(x) || math.IsInf(x, 0) {
			return nil, fmt.Errorf("eigendecomposition of a %d×%d matrix with non-finite entries (%v)", n, n, x)
		}
	}
	var es mat.EigenSym
	if !es.Factorize(mat.NewSymDense(n, slices.Clone(a[:n*n])), false) {
		return nil, fmt.Errorf("eigendecomposition of a %d×%d matrix did not converge", n, n)
	}
	ev := es.Values(nil)
	slices.Reverse(ev)
	return ev, nil
}
