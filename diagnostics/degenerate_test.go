package diagnostics

import (
	"encoding/json"
	"math"
	"strings"
	"testing"

	"github.com/lot-toolkit/lot/optim"
)

// degenerateStep runs the training pass of the tiny net on a batch of 16
// copies of one sample (so every per-sample gradient is the same and σ² is
// exactly 0 in exact arithmetic), or with input value bad in the first
// sample, and returns the Full row.
func degenerateStep(t *testing.T, bad float32) *Row {
	t.Helper()
	m := tinyModel(t, false)
	const rows = 16
	x := make([]float32, rows*6)
	for i := range x {
		x[i] = float32(i%6) - 2.5
	}
	x[0] += bad
	y := make([]int32, rows)
	groups := make([]optim.Group, len(m.Groups))
	for i, g := range m.Groups {
		groups[i] = optim.Group{Name: g.Name, Offset: g.Offset, Len: g.Len, LR: 1e-2}
	}
	opt := optim.NewAdam(len(m.Params), groups)
	ws := m.NewWorkspace(rows)
	mon := New(m, opt, ws, nil, filled(Options{Level: Full, Beta: 1, FisherSamples: 10}))
	grad := make([]float32, len(m.Params))
	m.Forward(ws, x, rows, true)
	m.CrossEntropy(ws, y)
	m.Backward(ws, grad)
	mon.Before(grad)
	for g := range m.Groups {
		// What the estimate was before the clamp, for the record.
		g2 := 0.0
		for _, v := range grad[m.Groups[g].Offset : m.Groups[g].Offset+m.Groups[g].Len] {
			g2 += float64(v) * float64(v)
		}
		t.Logf("%s: raw σ²/mean‖g_i‖² = %.2e", m.Groups[g].Name, (mon.sumSq[g]/rows-g2)/(mon.sumSq[g]/rows))
	}
	opt.Step(m.Params, grad)
	return mon.After()
}

// TestEqualSampleGradientsClampNoise: with all per-sample gradients equal,
// σ² is clamped to exactly 0 and flagged in every layer; α_g* is +Inf
// (null in JSON), never negative, and α̃* stays nonnegative.
func TestEqualSampleGradientsClampNoise(t *testing.T) {
	row := degenerateStep(t, 0)
	for name, L := range row.Layers {
		if !L.NoiseClamped || L.GradNoise != 0 {
			t.Errorf("%s: noise %v clamped %v, want 0 and true", name, L.GradNoise, L.NoiseClamped)
		}
		if !math.IsInf(float64(L.AlphaG), 1) {
			t.Errorf("%s: α_g* = %v, want +Inf", name, L.AlphaG)
		}
		if a := float64(*L.AlphaTilde); !(a >= 0) {
			t.Errorf("%s: α̃* = %v, want ≥ 0", name, a)
		}
	}
	if row.GradNoise != 0 {
		t.Errorf("row noise %v, want 0", row.GradNoise)
	}
	b, err := json.Marshal(row)
	if err != nil {
		t.Fatal(err)
	}
	if s := string(b); !strings.Contains(s, `"noise_clamped":true`) || !strings.Contains(s, `"alpha_g":null`) {
		t.Fatalf("row JSON lacks the flag or the null α_g*: %s", s)
	}
	// A batch of distinct samples is not flagged.
	_, mon, grad, _, _ := problem(t, false, Full)
	mon.Before(grad)
	for g, L := range mon.layers {
		if L.NoiseClamped || !(L.GradNoise > 0) {
			t.Errorf("group %d: distinct samples gave noise %v clamped %v", g, L.GradNoise, L.NoiseClamped)
		}
	}
}

// TestGradNoiseFloor checks the clamp's rule on numbers.
func TestGradNoiseFloor(t *testing.T) {
	for _, c := range []struct {
		sumSq, B, g2, want float64
		clamped            bool
	}{
		{8, 4, 1, 1, false},           // mean 2, σ² 1
		{8, 4, 2 + 1e-9, 0, true},     // negative by rounding
		{8, 4, 2 - 1e-4, 0, true},     // 5e-5 of the mean: below the floor
		{8, 4, 2 - 1e-3, 1e-3, false}, // 5e-4 of the mean: kept
		{0, 4, 0, 0, true},            // no gradient at all
	} {
		got, clamped := gradNoise(c.sumSq, c.B, c.g2)
		if !near(got, c.want, 1e-9) || clamped != c.clamped {
			t.Errorf("gradNoise(%v, %v, %v) = %v, %v; want %v, %v", c.sumSq, c.B, c.g2, got, clamped, c.want, c.clamped)
		}
	}
	if got, clamped := gradNoise(math.NaN(), 4, 1); !math.IsNaN(got) || !clamped {
		t.Errorf("NaN sums gave %v, %v", got, clamped)
	}
}

// TestNonFiniteBatchReportsFisherError: a NaN in the batch makes the
// Gram matrix NaN; the row's fisher_rank is null and Errors says why,
// rather than rank 0.
func TestNonFiniteBatchReportsFisherError(t *testing.T) {
	row := degenerateStep(t, float32(math.NaN()))
	if !math.IsNaN(float64(*row.FisherRank)) || len(row.Errors) == 0 || !strings.Contains(row.Errors[0], "fisher_rank") {
		t.Fatalf("fisher rank %v, errors %q; want NaN and a fisher_rank error", *row.FisherRank, row.Errors)
	}
	b, _ := json.Marshal(row)
	if !strings.Contains(string(b), `"fisher_rank":null`) || !strings.Contains(string(b), `"errors":["fisher_rank: `) {
		t.Fatalf("row JSON: %s", b)
	}
}

// TestAnalyzeClampsNoise: lot diagnose reports equal per-sample gradients'
// noise as 0 with a note, never as a negative number.
func TestAnalyzeClampsNoise(t *testing.T) {
	m := tinyModel(t, false)
	const rows = 8
	x := make([]float32, rows*6)
	for i := range x {
		x[i] = float32(i%6) - 2.5
	}
	rep, err := Analyze(m, x, make([]int32, rows), true)
	if err != nil {
		t.Fatal(err)
	}
	if rep.GradNoise != 0 || len(rep.Notes) == 0 || !strings.Contains(strings.Join(rep.Notes, "\n"), "rounding floor") {
		t.Fatalf("noise %v, notes %q; want 0 and a note", rep.GradNoise, rep.Notes)
	}
	for _, L := range rep.Layers {
		if L.GradNoise != 0 {
			t.Errorf("%s noise %v, want 0", L.Name, L.GradNoise)
		}
	}
}
