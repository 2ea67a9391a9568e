package model

import (
	"math"
	"testing"
)

// TestSampleGradNoiseAgainstPerSampleLoop compares the identity-based
// per-sample norms with a naive loop: each sample forwarded and
// backpropagated alone.
func TestSampleGradNoiseAgainstPerSampleLoop(t *testing.T) {
	for _, a := range []string{"relu", "crelu", "leaky_relu:0.3", "linear"} {
		act, _ := ParseActivation(a)
		spec := Spec{Input: 6, Hidden: []int{5, 4}, Classes: 3, Activation: act}
		const rows = 9
		m, x, y := randomProblem(t, spec, rows, 21)
		ws := m.NewWorkspace(rows)
		m.Forward(ws, x, rows, true)
		m.CrossEntropy(ws, y)
		mean := make([]float32, len(m.Params))
		m.Backward(ws, mean)
		got := make([]float64, len(m.Groups))
		m.SampleGradSqNorms(ws, got)

		one := m.NewWorkspace(1)
		gi := make([]float32, len(m.Params))
		want := make([]float64, len(m.Groups))  // Σ_i ‖g_i‖²
		noise := make([]float64, len(m.Groups)) // Σ_i ‖g_i − ḡ‖², the definition
		for i := 0; i < rows; i++ {
			m.Forward(one, x[i*spec.Input:(i+1)*spec.Input], 1, true)
			m.CrossEntropy(one, y[i:i+1])
			m.Backward(one, gi)
			for g, grp := range m.Groups {
				for k := grp.Offset; k < grp.Offset+grp.Len; k++ {
					want[g] += float64(gi[k]) * float64(gi[k])
					d := float64(gi[k]) - float64(mean[k])
					noise[g] += d * d
				}
			}
		}
		for g, grp := range m.Groups {
			if math.Abs(got[g]-want[g]) > 1e-5*want[g] {
				t.Errorf("%s %s: Σ‖g_i‖² = %v, per-sample loop %v", a, grp.Name, got[g], want[g])
			}
			var gbar float64
			for k := grp.Offset; k < grp.Offset+grp.Len; k++ {
				gbar += float64(mean[k]) * float64(mean[k])
			}
			sigma2 := got[g]/rows - gbar
			if ref := noise[g] / rows; math.Abs(sigma2-ref) > 1e-4*ref {
				t.Errorf("%s %s: σ² = %v, definition %v", a, grp.Name, sigma2, ref)
			}
		}
	}
}

// TestSampleGradGramAgainstPerSampleLoop checks the Gram identity against
// explicit per-sample gradient vectors.
func TestSampleGradGramAgainstPerSampleLoop(t *testing.T) {
	act, _ := ParseActivation("crelu")
	spec := Spec{Input: 6, Hidden: []int{5, 4}, Classes: 3, Activation: act}
	const rows, n = 9, 6
	m, x, y := randomProblem(t, spec, rows, 22)
	ws := m.NewWorkspace(rows)
	m.Forward(ws, x, rows, true)
	m.CrossEntropy(ws, y)
	m.Backward(ws, make([]float32, len(m.Params)))
	gram := make([]float64, n*n)
	m.SampleGradGram(ws, n, gram, make([]float64, 2*n*n))
	one := m.NewWorkspace(1)
	g := make([][]float32, n)
	for i := range g {
		g[i] = make([]float32, len(m.Params))
		m.Forward(one, x[i*spec.Input:(i+1)*spec.Input], 1, true)
		m.CrossEntropy(one, y[i:i+1])
		m.Backward(one, g[i])
	}
	for i := 0; i < n; i++ {
		for j := 0; j < n; j++ {
			var want float64
			for k := range g[i] {
				want += float64(g[i][k]) * float64(g[j][k])
			}
			if math.Abs(gram[i*n+j]-want) > 1e-5*(math.Abs(want)+1e-3) {
				t.Fatalf("gram[%d,%d] = %v, per-sample loop %v", i, j, gram[i*n+j], want)
			}
		}
	}
}
