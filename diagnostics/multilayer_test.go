package diagnostics

import (
	"math"
	"slices"
	"testing"

	"gonum.org/v1/gonum/mat"

	"github.com/lot-toolkit/lot/model"
)

// TestMonitorTwoHiddenLayers checks every per-layer signal of the training
// monitor on nets with two hidden layers, fc1, fc2 and fc3 (ReLU, and CReLU,
// whose fc2 and fc3 read doubled widths), against independent float64
// references: noise and gradient norms from finite-difference per-sample
// gradients, sharpness from the dense finite-difference Hessian's blocks
// (fc1 through the first-layer solver: the batch is smaller than its
// input), unit-sign entropy and dead units by counting, effective rank by
// an SVD, both effective steps from Adam's moments, the thresholds from
// their formulas and the volatility window from the logged λ̄ series.
// Under power-batch every layer's sharpness comes from the reduced-space
// power iteration.
func TestMonitorTwoHiddenLayers(t *testing.T) {
	type refs struct {
		G [][]float64
		H []float64
	}
	type key struct {
		act  string
		seed uint64
	}
	cache := map[key]refs{} // both solvers see the same net
	for _, c := range []struct {
		act, solver string
		seed        uint64
	}{
		{"relu", "lanczos", 1}, {"crelu", "lanczos", 2}, {"relu", "power", 1}, {"crelu", "power", 2},
		{"relu", SolverPowerBatch, 1}, {"crelu", SolverPowerBatch, 2},
	} {
		act, _ := model.ParseActivation(c.act)
		spec := model.Spec{Input: 14, Hidden: []int{5, 4}, Classes: 3, Activation: act}
		const rows = 9
		opts := filled(Options{Level: Full, Beta: 0.7, Window: 3, Solver: c.solver, PowerTol: 1e-10, PowerMaxIter: 4000, FisherSamples: 6})
		if c.solver == "lanczos" {
			opts.PowerMaxIter = 150
		}
		p := newNetProblem(t, spec, rows, c.seed, opts)
		name := c.act + "/" + c.solver
		if len(p.m.Groups) != 3 || p.m.Groups[2].Name != "fc3" {
			t.Fatalf("%s: groups %v", name, p.m.Groups)
		}
		if c.solver == "lanczos" && !firstLayerReduces(p.m, rows) {
			t.Fatalf("%s: fc1 does not take the first-layer path", name)
		}
		if c.solver == SolverPowerBatch {
			for k, it := range p.mon.power {
				if s, ok := it.(*reducedPowerSolver); !ok || s.layer != k {
					t.Fatalf("%s: group %d's solver is %T, want the reduced power iteration on layer %d", name, k, it, k)
				}
			}
		}

		r := ref64{spec: spec, x: toF64(p.x), y: p.y, rows: rows}
		theta := toF64(p.m.Params)
		_, outs := r.loss(r.shared(theta))
		for _, o := range outs {
			for _, v := range o {
				if math.Abs(v) < 1e-3 {
					t.Fatalf("%s: an output %.2g is too close to 0 for the references; pick another seed", name, v)
				}
			}
		}
		rf, ok := cache[key{c.act, c.seed}]
		if !ok {
			rf = refs{r.sampleGrads(theta), r.hessian(theta)}
			cache[key{c.act, c.seed}] = rf
		}
		G, H := rf.G, rf.H
		n := len(theta)

		var series [][]float64 // λ̄ per logged step, per group
		var row *Row
		for step := range 4 {
			p.pass()
			p.mon.BeforeAt(int64(step), p.grad, nil)
			p.opt.Step(p.m.Params, p.grad)
			row = p.mon.After()
			var nb []float64
			for _, grp := range p.m.Groups {
				nb = append(nb, float64(*row.Layers[grp.Name].NormSharp))
			}
			series = append(series, nb)
			if step > 0 {
				continue
			}
			// The first step's signals against the references at θ.
			_, v := p.opt.Moments()
			bc1, bc2 := 1-0.9, 1-0.999
			for g, grp := range p.m.Groups {
				L := row.Layers[grp.Name]
				var g2, noise float64
				for k := grp.Offset; k < grp.Offset+grp.Len; k++ {
					var mean float64
					for i := range G {
						mean += G[i][k] / rows
					}
					g2 += mean * mean
					for i := range G {
						noise += (G[i][k] - mean) * (G[i][k] - mean) / rows
					}
				}
				if !near(float64(L.GradNormSq), g2, 1e-4) || !near(float64(L.GradNoise), noise, 1e-4) {
					t.Errorf("%s %s: ‖g‖² %v σ² %v, references %v %v", name, grp.Name, L.GradNormSq, L.GradNoise, g2, noise)
				}
				top := topEig(t, H, n, grp.Offset, grp.Offset+grp.Len)
				if relDiff(float64(*L.Sharpness), top) > 1e-4 {
					t.Errorf("%s %s: sharpness %v, dense finite-difference block %v", name, grp.Name, *L.Sharpness, top)
				}
				// Effective steps after one update (t = 1).
				lr := 1e-2 * float64(g+1)
				var paper, vh float64
				for _, x := range v[grp.Offset : grp.Offset+grp.Len] {
					paper += lr / (bc1 * (math.Sqrt(float64(x)/bc2) + 1e-8))
					vh += float64(x) / bc2
				}
				paper /= float64(grp.Len)
				_, _, in, out := p.m.Linear(g)
				var mv float64
				for _, x := range v[grp.Offset : grp.Offset+in*out] {
					mv += float64(x)
				}
				code := lr / (bc1 * (math.Sqrt(mv/float64(in*out)/bc2) + 1e-8))
				agg := lr / (math.Sqrt(vh/float64(grp.Len)) + 1e-8)
				if !near(float64(L.Alpha), paper, 1e-9) || !near(float64(L.AlphaCode), code, 1e-9) || !near(float64(L.AlphaAgg), agg, 1e-9) {
					t.Errorf("%s %s: α %v α_code %v α_agg %v, by hand %v %v %v", name, grp.Name, L.Alpha, L.AlphaCode, L.AlphaAgg, paper, code, agg)
				}
				if !near(float64(L.AlphaG), rows*float64(L.GradNormSq)/float64(L.GradNoise), 1e-12) {
					t.Errorf("%s %s: α_g*", name, grp.Name)
				}
				if g == len(p.m.Groups)-1 {
					if L.USE != nil || L.EffectiveRank != nil {
						t.Errorf("%s: the output layer has hidden-layer signals", name)
					}
					continue
				}
				// Hidden layer g: its linear output outs[g] is the
				// activation's input.
				units := spec.Hidden[g]
				var use, dead float64
				for j := range units {
					pos := 0
					for i := range rows {
						if outs[g][i*units+j] > 0 {
							pos++
						}
					}
					if pos == 0 {
						dead++
					}
					if q := float64(pos) / rows; pos > 0 && pos < rows {
						use -= q*math.Log2(q) + (1-q)*math.Log2(1-q)
					}
				}
				if !near(float64(*L.USE), use/float64(units), 1e-12) || float64(*L.DeadUnits) != dead/float64(units) {
					t.Errorf("%s %s: use %v dead %v, counted %v %v", name, grp.Name, *L.USE, *L.DeadUnits, use/float64(units), dead/float64(units))
				}
				// Effective rank of the first FisherSamples rows of the
				// layer's output (CReLU: both halves).
				nr := opts.FisherSamples
				var hcols [][]float64
				for i := range nr {
					var h []float64
					for j := range units {
						h = append(h, math.Max(outs[g][i*units+j], 0))
					}
					if act.Kind == model.CReLU {
						for j := range units {
							h = append(h, math.Max(-outs[g][i*units+j], 0))
						}
					}
					hcols = append(hcols, h)
				}
				hm := mat.NewDense(nr, len(hcols[0]), slices.Concat(hcols...))
				var svd mat.SVD
				svd.Factorize(hm, mat.SVDNone)
				var sum, ent float64
				sv := svd.Values(nil)
				for _, s := range sv {
					sum += s
				}
				for _, s := range sv {
					if q := s / sum; q > 0 {
						ent -= q * math.Log(q)
					}
				}
				if !near(float64(*L.EffectiveRank), math.Exp(ent), 1e-5) {
					t.Errorf("%s %s: effective rank %v, SVD %v", name, grp.Name, *L.EffectiveRank, math.Exp(ent))
				}
			}
		}
		// After four steps the window (W = 3) holds the last three λ̄;
		// the thresholds follow from the row's own inputs.
		for g, grp := range p.m.Groups {
			L := row.Layers[grp.Name]
			w := []float64{series[1][g], series[2][g], series[3][g]}
			mu := (w[0] + w[1] + w[2]) / 3
			var s2 float64
			for _, x := range w {
				s2 += (x - mu) * (x - mu) / 3
			}
			vol := s2 / (mu + 1e-12)
			if !near(float64(*L.VolMu), mu, 1e-12) || !near(float64(*L.VolSigma2), s2, 1e-9) || !near(float64(*L.Vol), vol, 1e-9) {
				t.Errorf("%s %s: μ %v σ² %v Vol %v, window gives %v %v %v", name, grp.Name, *L.VolMu, *L.VolSigma2, *L.Vol, mu, s2, vol)
			}
			g2, noise := float64(L.GradNormSq), float64(L.GradNoise)
			if !near(float64(*L.AlphaTilde), rows*g2/(noise+0.7*g2*vol), 1e-9) || !near(float64(*L.AlphaVol), 1/vol, 1e-9) {
				t.Errorf("%s %s: α̃* %v α_vol* %v", name, grp.Name, *L.AlphaTilde, *L.AlphaVol)
			}
			s := w[2] * w[2] / mu
			if !near(float64(*L.AlphaCrit), rows*g2/(noise+20*g2*s), 1e-9) {
				t.Errorf("%s %s: α_crit %v", name, grp.Name, *L.AlphaCrit)
			}
		}
	}
}
