package diagnostics

import (
	"errors"
	"math"
	"slices"
	"strings"
	"testing"

	"gonum.org/v1/gonum/mat"

	"github.com/lot-toolkit/lot/internal/finitediff"
	"github.com/lot-toolkit/lot/model"
	"github.com/lot-toolkit/lot/regularize"
)

// TestSharpnessIncludesTheSpectralPenalty: under spectral regularisation
// each layer's sharpness is the top eigenvalue of the whole loss's block,
// data plus penalty, against a dense float64 finite-difference Hessian of
// both (the penalty through gonum's SVD). fc1 included, which the term
// moves off the reduced-space solvers (the batch is smaller than its
// input); both solvers.
func TestSharpnessIncludesTheSpectralPenalty(t *testing.T) {
	spec := model.Spec{Input: 14, Hidden: []int{5, 4}, Classes: 3}
	const rows, lambda, k = 9, 0.5, 2.0
	for _, solver := range []string{"lanczos", SolverPowerReduced} {
		opts := filled(Options{Level: Full, Beta: 1, Window: 3, Solver: solver, PowerTol: 1e-12, PowerMaxIter: 150, FisherSamples: 6})
		if solver != "lanczos" {
			opts.PowerMaxIter = 20000
		}
		p := newNetProblem(t, spec, rows, 1, opts)
		p.mon = New(p.m, p.opt, p.ws, regularize.NewSpectralHessian(lambda, k, p.m), opts)
		if !firstLayerReduces(p.m, rows) {
			t.Fatal("fc1 would not take the reduced path without the term: the test checks nothing there")
		}
		r := ref64{spec: spec, x: toF64(p.x), y: p.y, rows: rows}
		theta := toF64(p.m.Params)
		H := r.hessian(theta)
		penalty := func(q []float64) float64 {
			var f float64
			for i := range len(spec.Hidden) + 1 {
				_, _, in, out := p.m.Linear(i)
				off := p.m.Groups[i].Offset // each group starts with its weight
				var svd mat.SVD
				if !svd.Factorize(mat.NewDense(out, in, slices.Clone(q[off:off+in*out])), mat.SVDNone) {
					t.Fatal("SVD failed")
				}
				d := math.Pow(svd.Values(nil)[0], k) - 1
				f += lambda * d * d
			}
			return f
		}
		HP := finitediff.Hessian(penalty, slices.Clone(theta), 1e-4)
		p.mon.BeforeAt(0, p.grad, nil)
		p.opt.Step(p.m.Params, p.grad)
		row := p.mon.After()
		n := len(theta)
		total := make([]float64, n*n)
		for i := range total {
			total[i] = H[i] + HP[i]
		}
		for _, grp := range p.m.Groups {
			got := float64(*row.Layers[grp.Name].Sharpness)
			want := topEig(t, total, n, grp.Offset, grp.Offset+grp.Len)
			data := topEig(t, H, n, grp.Offset, grp.Offset+grp.Len)
			if relDiff(got, want) > 1e-4 {
				t.Errorf("%s %s: sharpness %v, dense block of loss + penalty %v (loss alone %v)", solver, grp.Name, got, want, data)
			}
			if relDiff(want, data) < 1e-2 {
				t.Errorf("%s %s: the penalty moves the top eigenvalue by only %.2g relative: pick a larger λ", solver, grp.Name, relDiff(want, data))
			}
		}
	}
}

// failingTerm is a penalty whose Hessian does not exist at any point.
type failingTerm struct{}

func (failingTerm) Prepare([]float32) error          { return errors.New("no Hessian here") }
func (failingTerm) AddHVP(int, []float64, []float64) { panic("AddHVP after a failed Prepare") }

// TestPenaltyWithoutHessianGivesNullSharpness: where the penalty's
// Hessian does not exist (a repeated σ1, say), every sharpness of that
// step is NaN (null in the log), the row says why, and the rest of the
// row is still measured.
func TestPenaltyWithoutHessianGivesNullSharpness(t *testing.T) {
	spec := model.Spec{Input: 6, Hidden: []int{5, 4}, Classes: 3}
	opts := filled(Options{Level: Full, Beta: 1, FisherSamples: 5, GlobalSharpness: true})
	p := newNetProblem(t, spec, 12, 3, opts)
	p.mon = New(p.m, p.opt, p.ws, failingTerm{}, opts)
	p.mon.BeforeAt(0, p.grad, nil)
	p.opt.Step(p.m.Params, p.grad)
	row := p.mon.After()
	if len(row.Errors) != 1 || !strings.Contains(row.Errors[0], "sharpness: no Hessian here") {
		t.Fatalf("errors %q, want one saying the sharpness failed and why", row.Errors)
	}
	if row.Sharpness == nil || !math.IsNaN(float64(*row.Sharpness)) {
		t.Errorf("global sharpness %v, want NaN", row.Sharpness)
	}
	for _, grp := range p.m.Groups {
		L := row.Layers[grp.Name]
		if L.Sharpness == nil || !math.IsNaN(float64(*L.Sharpness)) {
			t.Errorf("%s: sharpness %v, want NaN", grp.Name, L.Sharpness)
		}
		if L.GradNormSq <= 0 || L.EffectiveRank == nil && grp.Name != "fc3" {
			t.Errorf("%s: the rest of the row is missing: %+v", grp.Name, L)
		}
	}
}
