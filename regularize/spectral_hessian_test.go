package regularize

import (
	"math"
	"strings"
	"testing"

	"gonum.org/v1/gonum/mat"

	"github.com/lot-toolkit/lot/model"
	"github.com/lot-toolkit/lot/rng"
)

// svdPenalty is λ(σ1^k − 1)² of one rows×cols matrix and its gradient
// a(σ1)·u1 v1ᵀ, both from gonum's SVD: independent of SpectralHessian's
// eigendecomposition of the Gram matrix and of its product formula.
func svdPenalty(t *testing.T, w []float64, rows, cols int, lambda, k float64) (float64, []float64) {
	var svd mat.SVD
	if !svd.Factorize(mat.NewDense(rows, cols, w), mat.SVDThin) {
		t.Fatal("SVD failed")
	}
	var u, v mat.Dense
	svd.UTo(&u)
	svd.VTo(&v)
	s := svd.Values(nil)[0]
	d := math.Pow(s, k) - 1
	a := lambda * 2 * d * k * math.Pow(s, k-1)
	g := make([]float64, rows*cols)
	for r := range rows {
		for c := range cols {
			g[r*cols+c] = a * u.At(r, 0) * v.At(c, 0)
		}
	}
	return lambda * d * d, g
}

// spectralTestModel has a wide first layer (4×5), a tall second (7×4,
// which SpectralHessian handles as its transpose) and a wide output (3×7).
func spectralTestModel(t *testing.T) *model.MLP {
	m, err := model.New(model.Spec{Input: 5, Hidden: []int{4, 7}, Classes: 3, Activation: model.Activation{Kind: model.ReLU}})
	if err != nil {
		t.Fatal(err)
	}
	if err := m.Initialize(model.InitKaimingNormal, rng.New(3, "init")); err != nil {
		t.Fatal(err)
	}
	return m
}

// TestSpectralHessianMatchesFiniteDifferences checks every layer's block
// of H·E against a float64 central difference of the SVD gradient, and
// Eᵀ H E against a second difference of the SVD penalty, for a random
// direction E over all parameters and two exponents k.
func TestSpectralHessianMatchesFiniteDifferences(t *testing.T) {
	m := spectralTestModel(t)
	r := rng.New(4, "direction")
	e := make([]float64, len(m.Params))
	for i := range e {
		e[i] = r.NormFloat64()
	}
	for _, k := range []float64{2, 1.5} {
		const lambda = 0.7
		h := NewSpectralHessian(lambda, k, m)
		if err := h.Prepare(m.Params); err != nil {
			t.Fatal(err)
		}
		hv := make([]float64, len(e))
		h.AddHVP(0, e, hv)
		covered := make([]bool, len(e))
		for _, L := range linearWeights(m) {
			n := L.rows * L.cols
			w, dir := make([]float64, n), e[L.off:L.off+n]
			for i := range w {
				w[i] = float64(m.Params[L.off+i])
			}
			at := func(step float64) []float64 {
				x := make([]float64, n)
				for i := range x {
					x[i] = w[i] + step*dir[i]
				}
				return x
			}
			const eps = 1e-5
			_, gp := svdPenalty(t, at(eps), L.rows, L.cols, lambda, k)
			_, gm := svdPenalty(t, at(-eps), L.rows, L.cols, lambda, k)
			var diff, norm, eHe float64
			for i := range n {
				fd := (gp[i] - gm[i]) / (2 * eps)
				diff, norm = max(diff, math.Abs(hv[L.off+i]-fd)), max(norm, math.Abs(fd))
				eHe += dir[i] * hv[L.off+i]
				covered[L.off+i] = true
			}
			if diff > 1e-6*norm {
				t.Errorf("k %v, %d×%d layer: H·E differs from the gradient's central difference by %.3g (largest entry %.3g)", k, L.rows, L.cols, diff, norm)
			}
			const h2 = 1e-4
			fp, _ := svdPenalty(t, at(h2), L.rows, L.cols, lambda, k)
			f0, _ := svdPenalty(t, w, L.rows, L.cols, lambda, k)
			fm, _ := svdPenalty(t, at(-h2), L.rows, L.cols, lambda, k)
			if second := (fp - 2*f0 + fm) / (h2 * h2); math.Abs(eHe-second) > 1e-5*math.Abs(second) {
				t.Errorf("k %v, %d×%d layer: EᵀHE = %.10g, second difference of the penalty %.10g", k, L.rows, L.cols, eHe, second)
			}
		}
		for i, c := range covered { // biases: the penalty does not touch them
			if !c && hv[i] != 0 {
				t.Fatalf("k %v: H·E is %v at parameter %d, which is no weight", k, hv[i], i)
			}
		}
	}
}

// TestSpectralHessianBlocks checks that a parameter group's product is
// the matching rows of the whole product (the Hessian is block-diagonal by
// layer) and that products add to dst rather than overwrite it.
func TestSpectralHessianBlocks(t *testing.T) {
	m := spectralTestModel(t)
	h := NewSpectralHessian(0.5, 2, m)
	if err := h.Prepare(m.Params); err != nil {
		t.Fatal(err)
	}
	r := rng.New(5, "direction")
	e := make([]float64, len(m.Params))
	for i := range e {
		e[i] = r.NormFloat64()
	}
	whole := make([]float64, len(e))
	h.AddHVP(0, e, whole)
	for _, g := range m.Groups {
		v := e[g.Offset : g.Offset+g.Len]
		dst := make([]float64, g.Len)
		for i := range dst {
			dst[i] = 1
		}
		h.AddHVP(g.Offset, v, dst)
		for i := range dst {
			if want := 1 + whole[g.Offset+i]; math.Abs(dst[i]-want) > 1e-12*(1+math.Abs(want)) {
				t.Fatalf("group %s, entry %d: %v, want 1 + the whole product's %v", g.Name, i, dst[i], whole[g.Offset+i])
			}
		}
	}
}

// TestSpectralHessianRefusesARepeatedTopSingularValue: with σ1 = σ2 the
// penalty has no Hessian, and Prepare says which matrix.
func TestSpectralHessianRefusesARepeatedTopSingularValue(t *testing.T) {
	m := spectralTestModel(t)
	w, _, in, out := m.Linear(0)
	clear(w)
	for i := range min(in, out) {
		w[i*in+i] = 2 // 4×5 with singular values 2, 2, 2, 2
	}
	err := NewSpectralHessian(1, 2, m).Prepare(m.Params)
	if err == nil || !strings.Contains(err.Error(), "not simple") || !strings.Contains(err.Error(), "weight matrix 1") {
		t.Fatalf("Prepare on repeated σ1: %v, want an error naming weight matrix 1 and saying σ1 is not simple", err)
	}
}

// BenchmarkSpectralHessian times Prepare (one eigendecomposition per
// layer, once per logged step) and a product over all of 784-256-256-10's
// weights.
func BenchmarkSpectralHessian(b *testing.B) {
	m, err := model.New(model.Spec{Input: 784, Hidden: []int{256, 256}, Classes: 10, Activation: model.Activation{Kind: model.ReLU}})
	if err != nil {
		b.Fatal(err)
	}
	if err := m.Initialize(model.InitKaimingUniform, rng.New(1, "init")); err != nil {
		b.Fatal(err)
	}
	h := NewSpectralHessian(1e-4, 2, m)
	b.Run("prepare", func(b *testing.B) {
		for b.Loop() {
			if err := h.Prepare(m.Params); err != nil {
				b.Fatal(err)
			}
		}
	})
	v, dst := make([]float64, len(m.Params)), make([]float64, len(m.Params))
	for i := range v {
		v[i] = float64(i%7) - 3
	}
	b.Run("product", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			h.AddHVP(0, v, dst)
		}
	})
}
