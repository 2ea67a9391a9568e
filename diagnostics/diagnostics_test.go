package diagnostics

import (
	"math"
	"math/rand/v2"
	"slices"
	"testing"

	"gonum.org/v1/gonum/mat"

	"github.com/lot-toolkit/lot/model"
	"github.com/lot-toolkit/lot/optim"
)

func near(a, b, tol float64) bool { return math.Abs(a-b) <= tol*math.Max(1, math.Abs(b)) }

func TestWindowStatistics(t *testing.T) {
	w := newWindow(3)
	for _, x := range []float64{1, 2, 3, 4} {
		w.push(x)
	}
	// The window holds 2, 3, 4: mean 3, population variance 2/3.
	if mu, s2 := w.stats("window", 4); !near(mu, 3, 1e-15) || !near(s2, 2.0/3, 1e-15) {
		t.Fatalf("window: μ=%v σ²=%v", mu, s2)
	}
	// The public code: window mean, single-step squared deviation (4−3)².
	if mu, s2 := w.stats("code", 4); mu != 3 || s2 != 1 {
		t.Fatalf("code: μ=%v σ²=%v", mu, s2)
	}
	// EMA, a = 2/(3+1) = 0.5, from μ=1, var=0:
	// x=2: d=1, μ=1.5, var=0.5·(0+0.5·1)=0.25
	// x=3: d=1.5, μ=2.25, var=0.5·(0.25+0.5·2.25)=0.6875
	// x=4: d=1.75, μ=3.125, var=0.5·(0.6875+0.5·3.0625)=1.109375
	if mu, s2 := w.stats("ema", 4); !near(mu, 3.125, 1e-15) || !near(s2, 1.109375, 1e-15) {
		t.Fatalf("ema: μ=%v σ²=%v", mu, s2)
	}
}

func tinyModel(t *testing.T, bn bool) *model.MLP {
	t.Helper()
	m, err := model.New(model.Spec{Input: 6, Hidden: []int{5}, Classes: 3, BatchNorm: bn})
	if err != nil {
		t.Fatal(err)
	}
	if err := m.Initialize(model.InitTorch, rand.New(rand.NewPCG(3, 3))); err != nil {
		t.Fatal(err)
	}
	return m
}

// TestEffectiveStepsByHand sets Adam's second moments to two values, one
// for weights and one for biases, so that the paper's variant (all
// parameters) and the public code's (weights only) differ, and checks both
// and α_agg against the formulas worked by hand.
func TestEffectiveStepsByHand(t *testing.T) {
	m := tinyModel(t, false)
	groups := make([]optim.Group, len(m.Groups))
	for i, g := range m.Groups {
		groups[i] = optim.Group{Name: g.Name, Offset: g.Offset, Len: g.Len, LR: 1e-3 * float64(i+1), Steps: 10}
	}
	adam := optim.NewAdam(len(m.Params), groups)
	_, v := adam.Moments()
	for _, tn := range m.Tensors {
		val := float32(4e-6)
		if tn.Name[len(tn.Name)-4:] == "bias" {
			val = 1e-4
		}
		for i := range tn.Data {
			v[tn.Offset+i] = val
		}
	}
	s := effectiveSteps(adam, m)
	bc1, bc2 := 1-math.Pow(0.9, 10), 1-math.Pow(0.999, 10)
	for g, grp := range m.Groups {
		lr := 1e-3 * float64(g+1)
		nb := float64(m.Spec.Hidden[0]) // fc1 has 5 biases of 35 params, fc2 3 of 18
		if g == 1 {
			nb = 3
		}
		n := float64(grp.Len)
		fw := lr / (bc1 * (math.Sqrt(float64(float32(4e-6))/bc2) + 1e-8))
		fb := lr / (bc1 * (math.Sqrt(float64(float32(1e-4))/bc2) + 1e-8))
		if want := ((n-nb)*fw + nb*fb) / n; !near(s.alpha[g], want, 1e-12) {
			t.Errorf("%s paper α = %v, want %v", grp.Name, s.alpha[g], want)
		}
		if !near(s.alphaCode[g], fw, 1e-12) {
			t.Errorf("%s code α = %v, want %v", grp.Name, s.alphaCode[g], fw)
		}
		meanVhat := ((n-nb)*float64(float32(4e-6)) + nb*float64(float32(1e-4))) / n / bc2
		if want := lr / (math.Sqrt(meanVhat) + 1e-8); !near(s.agg[g], want, 1e-12) {
			t.Errorf("%s α_agg = %v, want %v", grp.Name, s.agg[g], want)
		}
	}
}

// problem is a tiny net with one batch already through the training pass.
func problem(t *testing.T, bn bool, level Level) (*model.MLP, *Monitor, []float32, []float32, []int32) {
	t.Helper()
	m := tinyModel(t, bn)
	const rows = 16
	rng := rand.New(rand.NewPCG(9, 9))
	x := make([]float32, rows*6)
	for i := range x {
		x[i] = float32(rng.NormFloat64())
	}
	y := make([]int32, rows)
	for i := range y {
		y[i] = int32(rng.IntN(3))
	}
	groups := make([]optim.Group, len(m.Groups))
	for i, g := range m.Groups {
		groups[i] = optim.Group{Name: g.Name, Offset: g.Offset, Len: g.Len, LR: 1e-2}
	}
	opt := optim.NewAdam(len(m.Params), groups)
	ws := m.NewWorkspace(rows)
	o := DefaultOptions()
	o.Level, o.PowerTol, o.PowerMaxIter, o.FisherSamples = level, 1e-9, 2000, 10
	mon := New(m, opt, ws, nil, o)
	grad := make([]float32, len(m.Params))
	m.Forward(ws, x, rows, true)
	m.CrossEntropy(ws, y)
	m.Backward(ws, grad)
	return m, mon, grad, x, y
}

// TestMonitorAgainstIndependentReferences checks the Full row on a tiny net:
// noise and Fisher rank against explicit per-sample gradients, sharpness
// against the dense Hessian's eigenvalues, effective rank against an SVD,
// and the thresholds against their formulas.
func TestMonitorAgainstIndependentReferences(t *testing.T) {
	m, mon, grad, x, y := problem(t, false, Full)
	mon.Before(grad)
	mon.opt.Step(m.Params, grad)
	// Restore the parameters the batch pass saw: references use them.
	row := mon.After()
	_ = row
	const rows = 16
	// Per-sample gradients by a loop.
	one := m.NewWorkspace(1)
	gs := make([][]float32, rows)
	m2 := tinyModel(t, false) // same seed: the parameters before the step
	for i := range gs {
		gs[i] = make([]float32, len(m2.Params))
		m2.Forward(one, x[i*6:(i+1)*6], 1, true)
		m2.CrossEntropy(one, y[i:i+1])
		m2.Backward(one, gs[i])
	}
	for _, grp := range m2.Groups {
		var mean2, noise float64
		meanVec := make([]float64, grp.Len)
		for _, gi := range gs {
			for k := 0; k < grp.Len; k++ {
				meanVec[k] += float64(gi[grp.Offset+k]) / rows
			}
		}
		for _, v := range meanVec {
			mean2 += v * v
		}
		for _, gi := range gs {
			for k := 0; k < grp.Len; k++ {
				d := float64(gi[grp.Offset+k]) - meanVec[k]
				noise += d * d / rows
			}
		}
		L := row.Layers[grp.Name]
		if !near(float64(L.GradNoise), noise, 1e-5) || !near(float64(L.GradNormSq), mean2, 1e-5) {
			t.Errorf("%s: σ²=%v ‖g‖²=%v, loop gives %v %v", grp.Name, L.GradNoise, L.GradNormSq, noise, mean2)
		}
		if !near(float64(L.AlphaG), rows*mean2/noise, 1e-4) {
			t.Errorf("%s: α_g* = %v, want %v", grp.Name, L.AlphaG, rows*mean2/noise)
		}
		// Thresholds from the row's own inputs.
		vol := float64(*L.Vol)
		if !near(float64(*L.AlphaTilde), rows*mean2/(noise+mean2*vol), 1e-4) {
			t.Errorf("%s: α̃* = %v", grp.Name, *L.AlphaTilde)
		}
		if !near(float64(*L.NormSharp), float64(L.AlphaAgg)*float64(*L.Sharpness), 1e-12) {
			t.Errorf("%s: λ̄ ≠ α_agg·λ", grp.Name)
		}
	}
	// Fisher rank of the first 10 samples, from the explicit Gram matrix.
	const n = 10
	gram := make([]float64, n*n)
	for i := 0; i < n; i++ {
		for j := 0; j < n; j++ {
			for k := range gs[i] {
				gram[i*n+j] += float64(gs[i][k]) * float64(gs[j][k])
			}
		}
	}
	if want, _ := fisherRank(gram, n); !near(float64(*row.FisherRank), want, 1e-12) {
		t.Errorf("fisher rank %v, explicit Gram gives %v", *row.FisherRank, want)
	}
	// Sharpness against the eigenvalues of the dense Hessian, built column
	// by column from products at the pre-step parameters.
	hv := m2.NewHVP(rows)
	hv.Prepare(x, y)
	for g, grp := range m2.Groups {
		H := make([]float64, grp.Len*grp.Len)
		e, col := make([]float32, grp.Len), make([]float32, grp.Len)
		for j := range e {
			clear(e)
			e[j] = 1
			hv.ApplyBlock(g, e, col)
			for i := range col {
				H[i*grp.Len+j] = float64(col[i])
			}
		}
		sym := mat.NewSymDense(grp.Len, nil)
		for i := 0; i < grp.Len; i++ {
			for j := i; j < grp.Len; j++ {
				sym.SetSym(i, j, (H[i*grp.Len+j]+H[j*grp.Len+i])/2)
			}
		}
		var es mat.EigenSym
		es.Factorize(sym, false)
		ev := es.Values(nil)
		top := ev[len(ev)-1]
		if math.Abs(ev[0]) > top {
			top = ev[0]
		}
		if got := float64(*row.Layers[grp.Name].Sharpness); !near(got, top, 1e-5) {
			t.Errorf("%s: sharpness %v, dense eigenvalue %v", grp.Name, got, top)
		}
	}
	// Effective rank from an SVD of the first 10 hidden rows.
	ws := m2.NewWorkspace(rows)
	m2.Forward(ws, x, rows, true)
	h := ws.Hidden(0)
	var svd mat.SVD
	hm := mat.NewDense(n, 5, nil)
	for i := 0; i < n; i++ {
		for j := 0; j < 5; j++ {
			hm.Set(i, j, float64(h[i*5+j]))
		}
	}
	svd.Factorize(hm, mat.SVDNone)
	sv := svd.Values(nil)
	var sum, ent float64
	for _, s := range sv {
		sum += s
	}
	for _, s := range sv {
		if p := s / sum; p > 0 {
			ent -= p * math.Log(p)
		}
	}
	if got := float64(*row.Layers["fc1"].EffectiveRank); !near(got, math.Exp(ent), 1e-6) {
		t.Errorf("effective rank %v, SVD gives %v", got, math.Exp(ent))
	}
}

func TestUnitSignStatsAndFisherRule(t *testing.T) {
	// Two units over four inputs: unit 0 positive twice (entropy 1 bit),
	// unit 1 never positive (entropy 0, dead).
	pre := []float32{1, -1, 2, -2, -1, -3, -1, 0}
	use, dead := unitSignStats(pre, 2)
	if use != 0.5 || dead != 0.5 {
		t.Fatalf("use %v dead %v, want 0.5 0.5", use, dead)
	}
	// Eigenvalues 90, 9, 1: 99% is reached at the second, rank 2/3.
	g := []float64{90, 0, 0, 0, 9, 0, 0, 0, 1}
	if r, err := fisherRank(g, 3); err != nil || !near(r, 2.0/3, 1e-15) {
		t.Fatalf("fisher rank %v (%v), want 2/3", r, err)
	}
	if ev, err := symEigenvalues(g, 3); err != nil || !slices.Equal(ev, []float64{90, 9, 1}) {
		t.Fatalf("eigenvalues %v (%v)", ev, err)
	}
}

// TestFailedEigensolveIsNotRankZero: a Gram matrix with a NaN or infinite
// entry (a diverged run) has no eigendecomposition. gonum's EigenSym still
// reports success (here with eigenvalues 0 and −0, which read as rank 0);
// the ranks must come back NaN with an error instead.
func TestFailedEigensolveIsNotRankZero(t *testing.T) {
	for _, bad := range []float64{math.NaN(), math.Inf(1)} {
		g := []float64{bad, 0, 0, 1}
		if r, err := fisherRank(g, 2); err == nil || !math.IsNaN(r) {
			t.Errorf("fisher rank of [[%v 0] [0 1]] = %v, %v; want NaN and an error", bad, r, err)
		}
		h := []float32{float32(bad), 1, 0, 1}
		if r, err := effectiveRank(h, 2, 2, make([]float64, 4)); err == nil || !math.IsNaN(r) {
			t.Errorf("effective rank with a %v entry = %v, %v; want NaN and an error", bad, r, err)
		}
	}
}
