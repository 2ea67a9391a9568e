package diagnostics

import (
	"encoding/json"
	"github.com/lot-toolkit/lot/internal/finitediff"
	"math"
	"math/rand/v2"
	"reflect"
	"slices"
	"strings"
	"testing"

	"gonum.org/v1/gonum/mat"

	"github.com/lot-toolkit/lot/curvature"
	"github.com/lot-toolkit/lot/model"
)

// ref64 is an independent float64 implementation of lot's MLP for tests:
// a plain forward pass in which sample r may use its own copy P[r] of the
// parameters (laid out as model.Params: fc1.weight, fc1.bias, [bn1.weight,
// bn1.bias,] fc2.weight, ...). With every copy equal it is the batch loss;
// the gradient with respect to copy r, times B, is sample r's term of the
// batch gradient — model/noise.go's per-sample gradient, which for a net
// without BatchNorm is the gradient of sample r's own loss.
type ref64 struct {
	spec model.Spec
	x    []float64
	y    []int32
	rows int
}

// loss returns the mean cross-entropy and each module's output (fc: linear
// output, bn: normalised and scaled output), rows×units, in group order.
func (r ref64) loss(P [][]float64) (float64, [][]float64) {
	s := r.spec
	B := r.rows
	act := func(z []float64) []float64 {
		switch s.Activation.Kind {
		case model.ReLU:
			return []float64{math.Max(z[0], 0)}
		case model.CReLU:
			return []float64{math.Max(z[0], 0), math.Max(-z[0], 0)}
		case model.LeakyReLU:
			if z[0] < 0 {
				return []float64{float64(s.Activation.Slope) * z[0]}
			}
		}
		return []float64{z[0]}
	}
	a := make([][]float64, B) // current layer input per sample
	for i := range a {
		a[i] = r.x[i*s.Input : (i+1)*s.Input]
	}
	off := 0
	var outs [][]float64
	widths := append(append([]int(nil), s.Hidden...), s.Classes)
	for l, out := range widths {
		in := len(a[0])
		z := make([]float64, B*out)
		for i := 0; i < B; i++ {
			p := P[i][off:]
			for j := 0; j < out; j++ {
				v := p[out*in+j]
				for k := 0; k < in; k++ {
					v += p[j*in+k] * a[i][k]
				}
				z[i*out+j] = v
			}
		}
		off += out*in + out
		outs = append(outs, z)
		if l == len(s.Hidden) {
			break
		}
		pre := z
		if s.BatchNorm {
			pre = make([]float64, B*out)
			for j := 0; j < out; j++ {
				var mean, v float64
				for i := 0; i < B; i++ {
					mean += z[i*out+j]
				}
				mean /= float64(B)
				for i := 0; i < B; i++ {
					v += (z[i*out+j] - mean) * (z[i*out+j] - mean)
				}
				v /= float64(B)
				for i := 0; i < B; i++ {
					xh := (z[i*out+j] - mean) / math.Sqrt(v+1e-5)
					pre[i*out+j] = P[i][off+j]*xh + P[i][off+out+j]
				}
			}
			off += 2 * out
			outs = append(outs, pre)
		}
		for i := 0; i < B; i++ {
			var h []float64
			for j := 0; j < out; j++ {
				h = append(h, act(pre[i*out+j : i*out+j+1])[0])
			}
			if s.Activation.Kind == model.CReLU {
				for j := 0; j < out; j++ {
					h = append(h, math.Max(-pre[i*out+j], 0))
				}
			}
			a[i] = h
		}
	}
	logits := outs[len(outs)-1]
	c := s.Classes
	var loss float64
	for i := 0; i < B; i++ {
		lg := logits[i*c : (i+1)*c]
		mx := slices.Max(lg)
		var sum float64
		for _, v := range lg {
			sum += math.Exp(v - mx)
		}
		loss += math.Log(sum) + mx - lg[r.y[i]]
	}
	return loss / float64(B), outs
}

func (r ref64) shared(p []float64) [][]float64 {
	P := make([][]float64, r.rows)
	for i := range P {
		P[i] = p
	}
	return P
}

// sampleGrads returns g_i = B·∂L̄/∂(copy i) by central differences.
func (r ref64) sampleGrads(p []float64) [][]float64 {
	const h = 1e-5
	B := r.rows
	G := make([][]float64, B)
	for i := 0; i < B; i++ {
		P := r.shared(p)
		P[i] = slices.Clone(p)
		G[i] = finitediff.Gradient(func([]float64) float64 { l, _ := r.loss(P); return float64(B) * l }, P[i], h)
	}
	return G
}

// hessian is the dense Hessian of the batch loss by second central
// differences.
func (r ref64) hessian(p []float64) []float64 {
	return finitediff.Hessian(func(q []float64) float64 { l, _ := r.loss(r.shared(q)); return l }, slices.Clone(p), 1e-4)
}

// topEig is the largest eigenvalue of the symmetric block H[lo:hi, lo:hi].
func topEig(t *testing.T, H []float64, n, lo, hi int) float64 {
	k := hi - lo
	S := mat.NewSymDense(k, nil)
	for i := 0; i < k; i++ {
		for j := 0; j < k; j++ {
			S.SetSym(i, j, H[(lo+i)*n+lo+j])
		}
	}
	var es mat.EigenSym
	if !es.Factorize(S, false) {
		t.Fatal("eigendecomposition failed")
	}
	return slices.Max(es.Values(nil))
}

func relDiff(got, want float64) float64 {
	return math.Abs(got-want) / math.Max(math.Abs(want), 1e-300)
}

// TestAnalyzeAgainstFloat64Reference checks every field of Analyze's report
// against the float64 reference: loss and per-layer gradients, per-sample
// gradients and the Fisher rank from explicit finite-difference gradient
// vectors, sharpness from a dense finite-difference Hessian, unit-sign
// entropy by counting, weight norms from the parameters.
func TestAnalyzeAgainstFloat64Reference(t *testing.T) {
	for _, c := range []struct {
		act  string
		bn   bool
		seed uint64
	}{
		{"relu", true, 1}, {"crelu", false, 2}, {"leaky_relu:0.2", true, 3}, {"relu", false, 4},
	} {
		act, _ := model.ParseActivation(c.act)
		spec := model.Spec{Input: 5, Hidden: []int{4, 3}, Classes: 3, Activation: act, BatchNorm: c.bn}
		const B = 9
		m, err := model.New(spec)
		if err != nil {
			t.Fatal(err)
		}
		rng := rand.New(rand.NewPCG(c.seed, 77))
		m.Initialize(model.InitTorch, rng)
		for i := range m.Params { // a less symmetric point than the init
			m.Params[i] *= float32(1 + 0.8*rng.Float64())
		}
		for _, b := range m.Buffers {
			for i := range b.Data {
				b.Data[i] = float32(0.5 + rng.Float64())
			}
		}
		x := make([]float32, B*spec.Input)
		for i := range x {
			x[i] = float32(rng.NormFloat64())
		}
		y := make([]int32, B)
		for i := range y {
			y[i] = int32(rng.IntN(spec.Classes))
		}
		params0 := slices.Clone(m.Params)
		var buffers0 [][]float32
		for _, b := range m.Buffers {
			buffers0 = append(buffers0, slices.Clone(b.Data))
		}

		rep, err := Analyze(m, x, y, true)
		if err != nil {
			t.Fatal(err)
		}
		name := c.act
		if c.bn {
			name += "+bn"
		}
		if !slices.Equal(m.Params, params0) {
			t.Fatalf("%s: Analyze changed the parameters", name)
		}
		for i, b := range m.Buffers {
			if !slices.Equal(b.Data, buffers0[i]) {
				t.Fatalf("%s: Analyze changed %s", name, b.Name)
			}
		}

		r := ref64{spec: spec, x: toF64(x), y: y, rows: B}
		p := toF64(m.Params)
		loss, outs := r.loss(r.shared(p))
		// Finite differences and sign counts need every unit away from its
		// kink (and from zero): a property of the chosen seeds, checked.
		for _, o := range outs {
			for _, v := range o {
				if math.Abs(v) < 1e-3 {
					t.Fatalf("%s: an output %.2g is too close to 0 for the reference; pick another seed", name, v)
				}
			}
		}
		G := r.sampleGrads(p)
		mean := make([]float64, len(p))
		for _, g := range G {
			for k, v := range g {
				mean[k] += v / B
			}
		}
		if d := relDiff(float64(rep.Loss), loss); d > 1e-6 {
			t.Errorf("%s: loss %v, reference %v", name, rep.Loss, loss)
		}
		H := r.hessian(p)
		n := len(p)
		worst := map[string]float64{}
		defer func() { t.Logf("%s: max relative differences %v", name, worst) }()
		check := func(what string, got Num, want, tol float64) {
			t.Helper()
			field := what[strings.LastIndex(what, " ")+1:]
			d := relDiff(float64(got), want)
			worst[field] = math.Max(worst[field], d)
			if d > tol || math.IsNaN(float64(got)) {
				t.Errorf("%s %s: got %.8g, reference %.8g (rel. diff %.1e)", name, what, float64(got), want, d)
			}
		}
		var gAll, nAll float64
		for g, grp := range m.Groups {
			L := rep.Layers[g]
			if L.Name != grp.Name {
				t.Fatalf("layer %d named %q, want %q", g, L.Name, grp.Name)
			}
			var g2, noise, w2 float64
			for k := grp.Offset; k < grp.Offset+grp.Len; k++ {
				g2 += mean[k] * mean[k]
				w2 += p[k] * p[k]
				for i := range G {
					noise += (G[i][k] - mean[k]) * (G[i][k] - mean[k]) / B
				}
			}
			gAll, nAll = gAll+g2, nAll+noise
			check(grp.Name+" grad_norm_sq", L.GradNormSq, g2, 1e-4)
			check(grp.Name+" grad_noise", L.GradNoise, noise, 1e-4)
			check(grp.Name+" weight_norm", L.WeightNorm, math.Sqrt(w2), 1e-6)
			check(grp.Name+" sharpness", L.Sharpness, topEig(t, H, n, grp.Offset, grp.Offset+grp.Len), 1e-4)
			// Unit-sign entropy by counting the module's output.
			o := outs[g]
			units := len(o) / B
			var use float64
			for j := 0; j < units; j++ {
				pos := 0
				for i := 0; i < B; i++ {
					if o[i*units+j] > 0 {
						pos++
					}
				}
				if q := float64(pos) / B; pos > 0 && pos < B {
					use -= (q*math.Log2(q) + (1-q)*math.Log2(1-q)) / float64(units)
				}
			}
			check(grp.Name+" use", L.Use, use, 1e-12)
		}
		check("grad_norm_sq", rep.GradNormSq, gAll, 1e-4)
		check("grad_noise", rep.GradNoise, nAll, 1e-4)
		check("sharpness", rep.Sharpness, topEig(t, H, n, 0, n), 1e-4)

		// Fisher rank from the explicit per-sample gradient vectors.
		gram := mat.NewSymDense(B, nil)
		for i := 0; i < B; i++ {
			for j := i; j < B; j++ {
				var s float64
				for k := range p {
					s += G[i][k] * G[j][k]
				}
				gram.SetSym(i, j, s)
			}
		}
		var es mat.EigenSym
		es.Factorize(gram, false)
		ev := es.Values(nil)
		slices.Reverse(ev)
		var total float64
		for _, v := range ev {
			total += math.Max(v, 0)
		}
		rank, cum := 0, 0.0
		for j, v := range ev {
			cum += math.Max(v, 0)
			if cum >= 0.99*total {
				rank = j + 1
				if math.Abs(cum-0.99*total) < 1e-6*total || (j > 0 && math.Abs(cum-math.Max(v, 0)-0.99*total) < 1e-6*total) {
					t.Fatalf("%s: the Fisher rank sits on the 99%% boundary; pick another seed", name)
				}
				break
			}
		}
		check("fisher_rank", rep.FisherRank, float64(rank)/B, 0)
		t.Logf("%s: loss %.6g sharpness %.6g (ref %.6g) fisher %v", name, rep.Loss, rep.Sharpness, topEig(t, H, n, 0, n), rep.FisherRank)
	}
}

func toF64(v []float32) []float64 {
	out := make([]float64, len(v))
	for i, x := range v {
		out[i] = float64(x)
	}
	return out
}

// TestTopEigenvalueWithDominantNegative: power iteration alone would
// report −5 here; topEigenvalue reports the top eigenvalue 1.
func TestTopEigenvalueWithDominantNegative(t *testing.T) {
	a := []float64{
		-5, 0, 0,
		0, 1, 0,
		0, 0, 0.5,
	}
	got, ok := topEigenvalue(curvature.Dense(3, a), 1)
	if !ok || math.Abs(got-1) > 1e-4 {
		t.Fatalf("top eigenvalue %v (converged %v), want 1", got, ok)
	}
	got, ok = topEigenvalue(curvature.Dense(3, []float64{2, 1, 0, 1, 2, 0, 0, 0, -1}), 1)
	if !ok || math.Abs(got-3) > 3e-4 {
		t.Fatalf("top eigenvalue %v (converged %v), want 3", got, ok)
	}
}

// TestReportJSONShape: the report marshals to exactly the documented keys,
// in order, NaN as null.
func TestReportJSONShape(t *testing.T) {
	rep := Report{Loss: 1, GradNormSq: 2, GradNoise: Num(math.NaN()), Sharpness: 4, FisherRank: 0.5,
		Layers: []ReportLayer{{Name: "fc1", GradNormSq: 1, GradNoise: 2, Sharpness: 3, Use: 0.5, WeightNorm: 6}},
		Notes:  []string{"not in JSON"}}
	b, err := json.Marshal(rep)
	if err != nil {
		t.Fatal(err)
	}
	want := `{"loss":1,"grad_norm_sq":2,"grad_noise":null,"sharpness":4,"fisher_rank":0.5,"layers":[{"name":"fc1","grad_norm_sq":1,"grad_noise":2,"sharpness":3,"use":0.5,"weight_norm":6}]}`
	if string(b) != want {
		t.Fatalf("got  %s\nwant %s", b, want)
	}
}

// TestAnalyzeModes: eval mode is refused with BatchNorm (the Hessian code
// differentiates batch statistics only) and, without BatchNorm, is the same
// function as train mode.
func TestAnalyzeModes(t *testing.T) {
	m := tinyModel(t, true)
	x := make([]float32, 4*6)
	for i := range x {
		x[i] = float32(i%7) - 3
	}
	y := []int32{0, 1, 2, 1}
	if _, err := Analyze(m, x, y, false); err == nil || !strings.Contains(err.Error(), "eval-mode BatchNorm") {
		t.Fatalf("eval mode with BatchNorm: %v", err)
	}
	if _, err := Analyze(m, x[:6], y[:1], true); err == nil || !strings.Contains(err.Error(), "at least 2 samples") {
		t.Fatalf("BatchNorm with one sample: %v", err)
	}
	if _, err := Analyze(m, x, []int32{0, 1, 3, 1}, true); err == nil || !strings.Contains(err.Error(), "label 3 at index 2") {
		t.Fatalf("bad label: %v", err)
	}
	m = tinyModel(t, false)
	a, err := Analyze(m, x, y, true)
	if err != nil {
		t.Fatal(err)
	}
	b, err := Analyze(m, x, y, false)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(a, b) {
		t.Fatalf("without BatchNorm, eval and train differ:\n%+v\n%+v", a, b)
	}
}
