package diagnostics

import (
	"math"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"

	"github.com/lot-toolkit/lot/curvature"
	"github.com/lot-toolkit/lot/model"
	"github.com/lot-toolkit/lot/optim"
)

// netProblem is a small net with one batch through its training pass and
// a monitor over it; lr gives group g the rate lr·(g+1), so group 0's rate
// is told apart from the others'.
type netProblem struct {
	m    *model.MLP
	opt  *optim.Adam
	ws   *model.Workspace
	mon  *Monitor
	grad []float32
	x    []float32
	y    []int32
	rows int
}

func newNetProblem(t testing.TB, spec model.Spec, rows int, seed uint64, opts Options) *netProblem {
	t.Helper()
	m, err := model.New(spec)
	if err != nil {
		t.Fatal(err)
	}
	rng := rand.New(rand.NewPCG(seed, 5))
	m.Initialize(model.InitTorch, rng)
	for i := range m.Params { // a less symmetric point than the init
		m.Params[i] *= float32(1 + 0.8*rng.Float64())
	}
	p := &netProblem{m: m, rows: rows, x: make([]float32, rows*spec.Input), y: make([]int32, rows), grad: make([]float32, len(m.Params))}
	for i := range p.x {
		p.x[i] = float32(rng.NormFloat64())
	}
	for i := range p.y {
		p.y[i] = int32(rng.IntN(spec.Classes))
	}
	groups := make([]optim.Group, len(m.Groups))
	for i, g := range m.Groups {
		groups[i] = optim.Group{Name: g.Name, Offset: g.Offset, Len: g.Len, LR: 1e-2 * float64(i+1)}
	}
	p.opt = optim.NewAdam(len(m.Params), groups)
	p.ws = m.NewWorkspace(rows)
	p.mon = New(m, p.opt, p.ws, nil, opts)
	p.pass()
	return p
}

// pass runs the training pass on the problem's batch at the current
// parameters.
func (p *netProblem) pass() {
	p.m.Forward(p.ws, p.x, p.rows, true)
	p.m.CrossEntropy(p.ws, p.y)
	p.m.Backward(p.ws, p.grad)
}

// TestGlobalSharpnessNormByHand: with SharpnessNorm global every layer's λ̄
// is λ·lr₀/(√(mean v + 1e-16) + ε), v Adam's raw second moment over all
// parameters and lr₀ group 0's rate, worked out here from the optimiser's
// state; the default stays per layer with bias-corrected moments. When a
// controller cools group 0 as AfterEach hands it fc1's signals, the later
// layers' λ̄ read the cooled rate, as the authors' layer loop does; fc1's
// own, and every per-layer factor, read the rates from before.
func TestGlobalSharpnessNormByHand(t *testing.T) {
	spec := model.Spec{Input: 6, Hidden: []int{5, 4}, Classes: 3}
	const cool = 0.99
	for _, norm := range []string{NormGlobal, NormLayer} {
		p := newNetProblem(t, spec, 12, 3, filled(Options{Level: Full, Beta: 1, FisherSamples: 5, SharpnessNorm: norm}))
		var row *Row
		for step := range 3 { // a few steps so v differs between groups
			p.pass()
			p.mon.BeforeAt(int64(step), p.grad, nil)
			p.opt.Step(p.m.Params, p.grad)
			if step < 2 {
				row = p.mon.After()
				continue
			}
			var seen []int
			row = p.mon.AfterEach(func(g int, L *Layer) {
				seen = append(seen, g)
				if g == 0 {
					p.opt.SetLR(0, p.opt.Groups()[0].LR*cool)
				}
			})
			if !slices.Equal(seen, []int{0, 1, 2}) {
				t.Fatalf("AfterEach handed over groups %v, want 0, 1, 2 in order", seen)
			}
		}
		_, v := p.opt.Moments()
		var sum float64
		for _, x := range v {
			sum += float64(x)
		}
		want := 1e-2 / (math.Sqrt(sum/float64(len(v))+1e-16) + 1e-8)
		for g, grp := range p.m.Groups {
			L := row.Layers[grp.Name]
			// The per-layer factor: η_g/(√mean v̂_g + ε), v̂ = v/(1−β2³).
			var vh float64
			for _, x := range v[grp.Offset : grp.Offset+grp.Len] {
				vh += float64(x) / (1 - math.Pow(0.999, 3))
			}
			perLayer := 1e-2 * float64(g+1) / (math.Sqrt(vh/float64(grp.Len)) + 1e-8)
			agg := want
			if g > 0 {
				agg *= cool
			}
			if norm == NormLayer {
				agg = perLayer
			} else if near(perLayer, want, 1e-3) {
				t.Fatalf("%s: the two normalisers coincide (%v); the test cannot tell them apart", grp.Name, want)
			}
			if !near(float64(L.AlphaAgg), agg, 1e-12) {
				t.Errorf("%s %s: α_agg %v, by hand %v", norm, grp.Name, L.AlphaAgg, agg)
			}
			if !near(float64(*L.NormSharp), agg*float64(*L.Sharpness), 1e-12) {
				t.Errorf("%s %s: λ̄ %v ≠ %v·λ (λ = %v)", norm, grp.Name, *L.NormSharp, agg, *L.Sharpness)
			}
		}
	}
	if err := filled(Options{SharpnessNorm: "rms"}).Validate(); err == nil || !strings.HasPrefix(err.Error(), "sharpness_norm: ") {
		t.Errorf("Validate of an unknown normalisation: %v", err)
	}
	if err := filled(Options{SharpnessStart: "hot"}).Validate(); err == nil || !strings.HasPrefix(err.Error(), "sharpness_start: ") {
		t.Errorf("Validate of an unknown start: %v", err)
	}
}

// TestColdStartIsTheAuthorsPowerIteration: a cold-started power run with a
// cap of 101 products and no tolerance is, to rounding, the authors' loop —
// v ← Hv/(‖Hv‖+1e-12) a hundred times from a random unit vector, then
// λ = vᵀHv — written out here in float64.
func TestColdStartIsTheAuthorsPowerIteration(t *testing.T) {
	const n = 40
	spectrum := make([]float64, n)
	for i := range spectrum {
		spectrum[i] = 3 - 0.1*float64(i) // slow: 100 iterations do not converge fully
	}
	a := symmetric(spectrum, 11)
	op := curvature.Dense(n, a)
	start := make([]float64, n)
	coldStart(start, 7, 120, 2)
	v := slices.Clone(start)
	w := make([]float64, n)
	for range 100 {
		op.Apply(w, v)
		nw := math.Sqrt(dot(w, w))
		for i := range v {
			v[i] = w[i] / (nw + 1e-12)
		}
	}
	op.Apply(w, v)
	want := dot(v, w)

	it := curvature.NewPowerIterator(n, curvature.PowerOptions{MaxIter: 101, Tol: solverTol(Options{PowerTol: 0}), Seed: 1})
	it.SetWarm(start)
	res := it.Run(op)
	if res.Iterations != 101 || math.Abs(res.Value-want) > 1e-12*math.Abs(want) {
		t.Fatalf("cold power run: λ %v after %d products, authors' loop %v", res.Value, res.Iterations, want)
	}
	if math.Abs(want-3) < 1e-6 {
		t.Fatalf("the loop converged (%v): the test cannot tell 100 iterations from 99", want)
	}
	// The start is a unit normal vector of its own named stream.
	again, other, otherK := make([]float64, n), make([]float64, n), make([]float64, n)
	coldStart(again, 7, 120, 2)
	coldStart(other, 7, 121, 2)
	coldStart(otherK, 7, 120, 3)
	if !slices.Equal(again, start) || slices.Equal(other, start) || slices.Equal(otherK, start) {
		t.Fatal("cold starts are not named by (seed, step, solver)")
	}
	if math.Abs(dot(start, start)-1) > 1e-12 {
		t.Fatalf("cold start has norm² %v", dot(start, start))
	}
}

// TestColdStartOnANet: on a two-hidden-layer net, cold-started solves reach
// the dense top eigenvalue of every layer's block, and — unlike warm ones —
// a solve depends only on its step: repeating step 5 after solving step 6
// gives the same bits, and nothing is saved for a checkpoint.
func TestColdStartOnANet(t *testing.T) {
	// Input 12 > batch 10: fc1 goes through the first-layer solver.
	spec := model.Spec{Input: 12, Hidden: []int{5, 4}, Classes: 3}
	for _, solver := range []string{"power", "lanczos"} {
		opts := filled(Options{Level: Full, Beta: 1, FisherSamples: 5, Solver: solver, SharpnessStart: StartCold, Seed: 3, PowerTol: 1e-10, PowerMaxIter: 3000})
		if solver == "lanczos" {
			opts.PowerMaxIter = 60
		}
		p := newNetProblem(t, spec, 10, 8, opts)
		H := denseBlocks(p)
		p.mon.BeforeAt(5, p.grad, nil)
		first := sharpnesses(p.mon)
		for g := range p.m.Groups {
			if want := H[g]; !near(first[g], want, 1e-5) {
				t.Errorf("%s %s: cold sharpness %v, dense %v", solver, p.m.Groups[g].Name, first[g], want)
			}
		}
		p.mon.BeforeAt(6, p.grad, nil)
		p.mon.BeforeAt(5, p.grad, nil)
		if again := sharpnesses(p.mon); !slices.Equal(again, first) {
			t.Errorf("%s: step 5 gave %v, then %v after step 6", solver, first, again)
		}
		if _, vecs := p.mon.State(); len(vecs) != 0 {
			t.Errorf("%s: a cold monitor saved %d warm vectors", solver, len(vecs))
		}
	}
	// Warm starts do depend on the previous solve (the contrast the test
	// above relies on), with the same short cap.
	opts := filled(Options{Level: Full, Beta: 1, FisherSamples: 5, Solver: "power", PowerTol: 1e-12, PowerMaxIter: 5})
	p := newNetProblem(t, spec, 10, 8, opts)
	p.mon.BeforeAt(5, p.grad, nil)
	first := sharpnesses(p.mon)
	p.mon.BeforeAt(5, p.grad, nil)
	if slices.Equal(sharpnesses(p.mon), first) {
		t.Error("warm starts repeated themselves: the cold-start test proves nothing")
	}
}

func sharpnesses(mon *Monitor) []float64 {
	var out []float64
	for _, L := range mon.layers {
		out = append(out, float64(*L.Sharpness))
	}
	return out
}

// denseBlocks returns each group's largest-magnitude Hessian eigenvalue
// (what power iteration finds), from the dense block built by products on
// the basis vectors.
func denseBlocks(p *netProblem) []float64 {
	hv := p.m.NewHVP(p.rows)
	hv.Prepare(p.x, p.y)
	var out []float64
	for g, grp := range p.m.Groups {
		n := grp.Len
		H := make([]float64, n*n)
		e, col := make([]float32, n), make([]float32, n)
		for j := range n {
			clear(e)
			e[j] = 1
			hv.ApplyBlock(g, e, col)
			for i := range col {
				H[i*n+j] = float64(col[i])
			}
		}
		for i := range n {
			for j := range i {
				H[i*n+j] = (H[i*n+j] + H[j*n+i]) / 2
				H[j*n+i] = H[i*n+j]
			}
		}
		ev, err := symEigenvalues(H, n)
		if err != nil {
			panic(err)
		}
		top := ev[0]
		if -ev[n-1] > top {
			top = ev[n-1]
		}
		out = append(out, top)
	}
	return out
}

func dot(a, b []float64) float64 {
	var s float64
	for i := range a {
		s += a[i] * b[i]
	}
	return s
}

// symmetric returns Q·diag(spectrum)·Qᵀ for a random orthogonal Q.
func symmetric(spectrum []float64, seed uint64) []float64 {
	n := len(spectrum)
	rng := rand.New(rand.NewPCG(seed, 1))
	q := make([][]float64, n)
	for i := range q { // Gram–Schmidt on random vectors
		v := make([]float64, n)
		for k := range v {
			v[k] = rng.NormFloat64()
		}
		for _, u := range q[:i] {
			d := dot(u, v)
			for k := range v {
				v[k] -= d * u[k]
			}
		}
		nv := math.Sqrt(dot(v, v))
		for k := range v {
			v[k] /= nv
		}
		q[i] = v
	}
	a := make([]float64, n*n)
	for i := range n {
		for j := range n {
			var s float64
			for k, l := range spectrum {
				s += q[k][i] * l * q[k][j]
			}
			a[i*n+j] = s
		}
	}
	return a
}

// TestCodeSByHand: the public code's α_crit = B·G/(σ² + c·G·s) for every
// choice of s, on a window of three values (λ̄ = 1, 2, 4, the code's
// statistics: μ = 7/3, σ² = (4 − 7/3)² = 25/9), worked by hand.
func TestCodeSByHand(t *testing.T) {
	const B, G, noise = 4.0, 0.5, 0.25
	mu, s2 := 7.0/3, 25.0/9
	for _, c := range []struct {
		s    string
		want float64
	}{
		{"sq-mean", 16 / mu},
		{"lambda", 4},
		{"cv", math.Sqrt(s2) / mu},
		{"var", s2},
		{"sq-mean-code", (16 / mu) * (16 / mu)},
		{"cv-code", s2 / mu},
	} {
		opts := DefaultOptions()
		opts.Level, opts.Window, opts.VolStat, opts.CodeS, opts.Beta = Full, 3, "code", c.s, 1
		if err := opts.Validate(); err != nil {
			t.Fatal(err)
		}
		mon := &Monitor{opts: opts, windows: []*window{newWindow(3)}, lambda: []float64{0}}
		var L Layer
		for _, lam := range []float64{1, 2, 4} {
			mon.lambda[0] = lam
			mon.thresholds(&L, 0, G, noise, B, 1)
		}
		if want := B * G / (noise + 20*G*c.want); !near(float64(*L.AlphaCrit), want, 1e-12) {
			t.Errorf("s = %s: α_crit %v, by hand %v", c.s, *L.AlphaCrit, want)
		}
	}
}

// TestAlphaCritDenominatorClamp: like the authors' max(σ², 1e-12), a
// denominator below 1e-12 is read as 1e-12, so a layer with neither
// gradient nor noise gets α_crit = 0 (which their controller holds), not
// NaN, and a tiny one a large finite bound, not +Inf.
func TestAlphaCritDenominatorClamp(t *testing.T) {
	const B = 4.0
	for _, c := range []struct{ g2, noise, want float64 }{
		{0, 0, 0},
		{0, 1e-15, 0},
		{1e-20, 1e-14, B * 1e-20 / 1e-12},
		{0.5, 0.25, B * 0.5 / (0.25 + 20*0.5*1)}, // unclamped: s = λ̄ = 1
	} {
		opts := DefaultOptions()
		opts.Level, opts.Window, opts.VolStat, opts.CodeS = Full, 3, "code", "lambda"
		mon := &Monitor{opts: opts, windows: []*window{newWindow(3)}, lambda: []float64{1}}
		var L Layer
		mon.thresholds(&L, 0, c.g2, c.noise, B, 1)
		if got := float64(*L.AlphaCrit); !(got == c.want || near(got, c.want, 1e-12)) {
			t.Errorf("G = %v, σ² = %v: α_crit %v, want %v", c.g2, c.noise, got, c.want)
		}
	}
}

// TestAuthorsFactorsBeforeTheFirstUpdate: at the run's first step (the
// authors decide there: total_updates % K == 0 at 0) torch.optim.Adam has
// no state yet, and the authors' code falls back to group 0's rate for both
// the effective step (public code variant) and the global normaliser.
func TestAuthorsFactorsBeforeTheFirstUpdate(t *testing.T) {
	p := newNetProblem(t, model.Spec{Input: 6, Hidden: []int{5, 4}, Classes: 3}, 8, 3, filled(Options{Level: Light}))
	s := effectiveSteps(p.opt, p.m)
	for g := range p.m.Groups {
		if s.alphaCode[g] != 1e-2 {
			t.Errorf("group %d: code α %v before any update, want group 0's rate 1e-2", g, s.alphaCode[g])
		}
	}
	if s.codeAgg(1e-2) != 1e-2 {
		t.Errorf("global normaliser %v before any update, want 1e-2", s.codeAgg(1e-2))
	}
	if s.globalCode != 1e-2 {
		t.Errorf("global code α %v before any update, want group 0's rate 1e-2", s.globalCode)
	}
	// The paper's α has no second moment to read: undefined, not 1/ε.
	for g := range p.m.Groups {
		if !math.IsNaN(s.alpha[g]) {
			t.Errorf("group %d: paper α %v before any update, want NaN", g, s.alpha[g])
		}
	}
	if !math.IsNaN(s.globalAlpha) {
		t.Errorf("global paper α %v before any update, want NaN", s.globalAlpha)
	}
}
