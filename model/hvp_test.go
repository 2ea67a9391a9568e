package model

import (
	"github.com/lot-toolkit/lot/internal/finitediff"
	"math"
	"math/rand/v2"
	"testing"
)

// denseHessian builds the Hessian of the float64 reference loss by second
// central differences: independent of the R-operator in every respect.
func denseHessian(spec Spec, p, x []float64, y []int32, rows int) []float64 {
	return finitediff.Hessian(func(q []float64) float64 { return refLoss(spec, q, x, y, rows) }, p, 1e-4)
}

// TestHVPAgainstDenseFloat64Hessian checks full-network and per-group
// block products for every activation, with and without BatchNorm.
func TestHVPAgainstDenseFloat64Hessian(t *testing.T) {
	for _, a := range []string{"relu", "crelu", "leaky_relu:0.3", "linear"} {
		for _, bn := range []bool{false, true} {
			act, _ := ParseActivation(a)
			spec := Spec{Input: 5, Hidden: []int{4, 3}, Classes: 3, Activation: act, BatchNorm: bn}
			const rows = 7
			m, x, y := randomProblem(t, spec, rows, 11)
			runningBefore := make([]float32, 0)
			for _, b := range m.Buffers {
				runningBefore = append(runningBefore, b.Data...)
			}
			hv := m.NewHVP(rows)
			hv.Prepare(x, y)
			k := 0
			for _, b := range m.Buffers {
				for _, v := range b.Data {
					if v != runningBefore[k] {
						t.Fatal("Prepare changed BatchNorm's running statistics")
					}
					k++
				}
			}
			p64 := toFloat64(m.Params)
			H := denseHessian(spec, p64, toFloat64(x), y, rows)
			n := len(p64)
			rng := rand.New(rand.NewPCG(5, 5))
			v := make([]float32, n)
			for i := range v {
				v[i] = float32(rng.NormFloat64())
			}
			got := make([]float32, n)
			hv.Apply(v, got)
			want := make([]float64, n)
			for i := 0; i < n; i++ {
				for j := 0; j < n; j++ {
					want[i] += H[i*n+j] * float64(v[j])
				}
			}
			err := relErr(got, want)
			if err > 1e-5 {
				t.Errorf("%s bn=%v: full H·v relative error %.2g", a, bn, err)
			}
			t.Logf("%s bn=%v: full H·v relative error %.1e", a, bn, err)
			for g, grp := range m.Groups {
				vb := v[grp.Offset : grp.Offset+grp.Len]
				ob := make([]float32, grp.Len)
				hv.ApplyBlock(g, vb, ob)
				wb := make([]float64, grp.Len)
				for i := 0; i < grp.Len; i++ {
					for j := 0; j < grp.Len; j++ {
						wb[i] += H[(grp.Offset+i)*n+grp.Offset+j] * float64(vb[j])
					}
				}
				if err := relErr(ob, wb); err > 1e-4 {
					t.Errorf("%s bn=%v: block %s relative error %.2g", a, bn, grp.Name, err)
				}
			}
		}
	}
}

// relErr is ‖got − want‖/‖want‖.
func relErr(got []float32, want []float64) float64 {
	var d, w float64
	for i := range want {
		d += (float64(got[i]) - want[i]) * (float64(got[i]) - want[i])
		w += want[i] * want[i]
	}
	return math.Sqrt(d / w)
}

// TestOutputHessianFactorsLayerBlocks checks, for every linear layer,
// H_ii·v = Aᵀ·M·(A·v) with A·v = X̃·V_Wᵀ + 1·V_bᵀ and Aᵀ·U = (Uᵀ·X̃, Σ_rows U),
// X̃ the layer's input (LayerInput), against the block product.
func TestOutputHessianFactorsLayerBlocks(t *testing.T) {
	for _, bn := range []bool{false, true} {
		act, _ := ParseActivation("crelu")
		spec := Spec{Input: 5, Hidden: []int{4, 3}, Classes: 3, Activation: act, BatchNorm: bn}
		const rows = 7
		m, x, y := randomProblem(t, spec, rows, 13)
		hv := m.NewHVP(rows)
		hv.Prepare(x, y)
		for layer := range len(spec.Hidden) + 1 {
			g := m.HiddenGroup(layer) // the group of fc_{layer+1}, the output layer's too
			_, _, in, h := m.Linear(layer)
			xi := hv.Workspace().LayerInput(layer)
			if len(xi) != rows*in {
				t.Fatalf("layer %d: input has %d values, want %d×%d", layer, len(xi), rows, in)
			}
			rng := rand.New(rand.NewPCG(8, uint64(layer)))
			v := make([]float32, m.Groups[g].Len)
			for i := range v {
				v[i] = float32(rng.NormFloat64())
			}
			want := make([]float32, len(v))
			hv.ApplyBlock(g, v, want)
			av := make([]float32, rows*h)
			for r := 0; r < rows; r++ {
				for o := 0; o < h; o++ {
					s := v[h*in+o]
					for k := 0; k < in; k++ {
						s += xi[r*in+k] * v[o*in+k]
					}
					av[r*h+o] = s
				}
			}
			u := make([]float32, rows*h)
			hv.ApplyOutputHessian(layer, av, u)
			got := make([]float64, len(v))
			for o := 0; o < h; o++ {
				for r := 0; r < rows; r++ {
					for k := 0; k < in; k++ {
						got[o*in+k] += float64(u[r*h+o]) * float64(xi[r*in+k])
					}
					got[h*in+o] += float64(u[r*h+o])
				}
			}
			if err := relErr(want, got); err > 1e-5 {
				t.Errorf("bn=%v layer %d: AᵀMAv differs from the block product by %.2g", bn, layer, err)
			}
		}
	}
}
