package train

import (
	"math"
	"math/rand/v2"
	"path/filepath"
	"testing"

	"github.com/lot-toolkit/lot/checkpoint"
	"github.com/lot-toolkit/lot/data"
	"github.com/lot-toolkit/lot/diagnostics"
	"github.com/lot-toolkit/lot/model"
	"github.com/lot-toolkit/lot/optim"
	"github.com/lot-toolkit/lot/regularize"
)

// TestGradNoiseIgnoresThePenalty: with an in-loss penalty (Wasserstein,
// L2-init) the monitor's σ² is the per-sample variance of the data loss's
// gradients, (1/B)Σ‖g_i − ḡ‖², from a naive per-sample loop, since the
// penalty's gradient is the same for every sample; G stays the full
// gradient's squared norm. The weights sit far from the anchor, so that
// centring on the full gradient instead would miss by more than 1%.
func TestGradNoiseIgnoresThePenalty(t *testing.T) {
	spec := model.Spec{Input: 7, Hidden: []int{6, 5}, Classes: 3}
	const rows = 11
	for _, kind := range []string{"wasserstein", "l2init"} {
		m, err := model.New(spec)
		if err != nil {
			t.Fatal(err)
		}
		r := rand.New(rand.NewPCG(4, 2))
		if err := m.Initialize(model.InitTorch, r); err != nil {
			t.Fatal(err)
		}
		anchor := append([]float32(nil), m.Params...)
		for i := range m.Params {
			m.Params[i] += float32(0.5 * r.NormFloat64())
		}
		reg, err := regularize.New(kind, 0.5, m, anchor)
		if err != nil {
			t.Fatal(err)
		}
		groups := make([]optim.Group, len(m.Groups))
		for i, g := range m.Groups {
			groups[i] = optim.Group{Name: g.Name, Offset: g.Offset, Len: g.Len, LR: 1e-3}
		}
		opt := optim.NewAdam(len(m.Params), groups)
		st := NewStepper(m, opt, reg, rows)
		st.DataGrad = make([]float32, len(m.Params))
		opts := diagnostics.DefaultOptions()
		opts.Level = diagnostics.Light
		mon := diagnostics.New(m, opt, st.WS, nil, opts)
		x := make([]float32, rows*spec.Input)
		y := make([]int32, rows)
		for i := range x {
			x[i] = float32(r.NormFloat64())
		}
		for i := range y {
			y[i] = int32(r.IntN(spec.Classes))
		}
		st.Gradient(x, y)
		mon.BeforeAt(0, st.Grad, st.DataGrad)
		row := mon.After()

		one := m.NewWorkspace(1)
		per := make([][]float32, rows)
		mean := make([]float64, len(m.Params))
		for i := range rows {
			per[i] = make([]float32, len(m.Params))
			m.Forward(one, x[i*spec.Input:(i+1)*spec.Input], 1, true)
			m.CrossEntropy(one, y[i:i+1])
			m.Backward(one, per[i])
			for k, v := range per[i] {
				mean[k] += float64(v) / rows
			}
		}
		for _, grp := range m.Groups {
			var sigma2, full, dataSq float64
			for k := grp.Offset; k < grp.Offset+grp.Len; k++ {
				for i := range rows {
					d := float64(per[i][k]) - mean[k]
					sigma2 += d * d / rows
				}
				full += float64(st.Grad[k]) * float64(st.Grad[k])
				dataSq += mean[k] * mean[k]
			}
			L := row.Layers[grp.Name]
			if got := float64(L.GradNoise); math.Abs(got-sigma2) > 1e-4*sigma2 {
				t.Errorf("%s %s: σ² %v, per-sample loop %v", kind, grp.Name, got, sigma2)
			}
			if got := float64(L.GradNormSq); math.Abs(got-full) > 1e-5*full {
				t.Errorf("%s %s: G %v, full gradient's %v", kind, grp.Name, got, full)
			}
			// Centred on the full gradient ḡ + r, the estimate would be
			// (1/B)Σ‖g_i‖² − ‖ḡ + r‖²; the test needs that to be off.
			if wrong := sigma2 + dataSq - full; math.Abs(wrong-sigma2) < 0.01*sigma2 {
				t.Fatalf("%s %s: centring on the full gradient gives %v against %v: too near for the test to tell", kind, grp.Name, wrong, sigma2)
			}
		}
	}
}

// TestRunLogsTheDataGradientsNoise: the training loop hands the monitor
// the data loss's gradient where a penalty is on. A Wasserstein run logs
// every second step and loses those updates, so the weights its last
// logged step measured are the final checkpoint's; its logged σ² is the
// per-sample variance of the data loss's gradients there, over the whole
// task (one batch per epoch).
func TestRunLogsTheDataGradientsNoise(t *testing.T) {
	cfg := goldenConfig(t, []string{"samples", "64", "batch", "64", "tasks", "1", "epochs", "3", "hidden", "8",
		"log_every", "2", "log_phase", "start", "skip_logged_update", "true",
		"reg", "wasserstein", "reg_strength", "0.5", "lr", "0.05", "diagnostics.level", "light"})
	dir := filepath.Join(t.TempDir(), "run")
	mustRun(t, cfg, dir)
	rows := readRows(t, filepath.Join(dir, "metrics.jsonl"))
	last := rows[len(rows)-1]
	if last["step"].(float64) != 3 {
		t.Fatalf("last logged step %v, want 3 (the run's third update, lost)", last["step"])
	}
	m, err := model.New(cfg.ModelSpec())
	if err != nil {
		t.Fatal(err)
	}
	f, err := checkpoint.Read(filepath.Join(dir, "checkpoint.safetensors"))
	if err != nil {
		t.Fatal(err)
	}
	for _, tn := range m.Tensors {
		c, ok := f.Get(tn.Name)
		if !ok {
			t.Fatalf("checkpoint lacks %s", tn.Name)
		}
		copy(tn.Data, c.Data)
	}
	mn, err := data.LoadMNIST(cfg.Data)
	if err != nil {
		t.Fatal(err)
	}
	stream, err := data.NewStream(mn, data.Config{Kind: cfg.Stream, Samples: cfg.Samples, Normalize: cfg.Normalize, Relabel: cfg.Relabel, Seed: cfg.Seed})
	if err != nil {
		t.Fatal(err)
	}
	task, err := stream.Task(0)
	if err != nil {
		t.Fatal(err)
	}
	one := m.NewWorkspace(1)
	per := make([][]float32, task.N)
	mean := make([]float64, len(m.Params))
	for i := range task.N {
		per[i] = make([]float32, len(m.Params))
		m.Forward(one, task.X[i*task.D:(i+1)*task.D], 1, true)
		m.CrossEntropy(one, task.Y[i:i+1])
		m.Backward(one, per[i])
		for k, v := range per[i] {
			mean[k] += float64(v) / float64(task.N)
		}
	}
	layers := last["diag"].(map[string]any)["layers"].(map[string]any)
	for _, grp := range m.Groups {
		var sigma2 float64
		for k := grp.Offset; k < grp.Offset+grp.Len; k++ {
			for i := range task.N {
				d := float64(per[i][k]) - mean[k]
				sigma2 += d * d / float64(task.N)
			}
		}
		got := layers[grp.Name].(map[string]any)["grad_noise"].(float64)
		if math.Abs(got-sigma2) > 1e-4*sigma2 {
			t.Errorf("%s: logged σ² %v, per-sample loop %v", grp.Name, got, sigma2)
		}
	}
}
