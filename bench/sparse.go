package bench

import (
	"fmt"
	"math"
	"path/filepath"

	"github.com/lot-toolkit/lot/checkpoint"
	"github.com/lot-toolkit/lot/data"
	"github.com/lot-toolkit/lot/linalg"
	"github.com/lot-toolkit/lot/model"
	"github.com/lot-toolkit/lot/rundir"
	"github.com/lot-toolkit/lot/train"
)

// SparseResult compares the gradient (forward and backward) with and
// without the dead-unit skip (model.Workspace.SparseGrad) on a trained
// model and its own data.
type SparseResult struct {
	Checkpoint   string    `json:"checkpoint"`
	DeadShare    []float64 `json:"dead_share"` // per hidden layer: units zero on the whole batch, mean over batches
	DenseGradMS  float64   `json:"dense_grad_ms"`
	SparseGradMS float64   `json:"sparse_grad_ms"`
	Speedup      float64   `json:"speedup"`       // dense over sparse
	BitIdentical bool      `json:"bit_identical"` // the two gradients agreed bit for bit on every batch
	Kernel       string    `json:"kernel"`
}

// Sparse loads the end-of-task checkpoint of a run kept with
// keep-checkpoints (task 0-based) and times the gradient on the next task's
// batches, dense and sparse in turn, reps rounds over the task's batches.
func Sparse(runDir string, task, threads, reps int) (SparseResult, error) {
	linalg.SetThreads(max(threads, 1))
	cfg, err := train.ReadConfigOf(runDir)
	if err != nil {
		return SparseResult{}, err
	}
	path := filepath.Join(runDir, "checkpoints", fmt.Sprintf("task-%03d.safetensors", task))
	f, err := checkpoint.Read(path)
	if err != nil {
		return SparseResult{}, err
	}
	sm, ts, err := rundir.ModelState(path, f)
	if err != nil {
		return SparseResult{}, err
	}
	act, err := model.ParseActivation(sm.Activation)
	if err != nil {
		return SparseResult{}, fmt.Errorf("bench: %s: %w", path, err)
	}
	m, err := model.New(model.Spec{Input: sm.Input, Hidden: sm.Hidden, Classes: sm.Classes, Activation: act, BatchNorm: sm.BatchNorm})
	if err != nil {
		return SparseResult{}, err
	}
	tensors := make([]model.Tensor, len(ts))
	for i, t := range ts {
		tensors[i] = model.Tensor{Name: t.Name, Shape: t.Shape, Data: t.Data}
	}
	if err := m.LoadStateDict(tensors); err != nil {
		return SparseResult{}, fmt.Errorf("bench: %s: %w", path, err)
	}
	mn, err := data.LoadMNIST(cfg.Data)
	if err != nil {
		return SparseResult{}, err
	}
	stream, err := data.NewStream(mn, data.Config{Kind: cfg.Stream, Samples: cfg.Samples, Normalize: cfg.Normalize, Relabel: cfg.Relabel, Seed: cfg.Seed})
	if err != nil {
		return SparseResult{}, err
	}
	next, err := stream.Task(min(task+1, cfg.Tasks-1))
	if err != nil {
		return SparseResult{}, err
	}
	B := cfg.Batch
	nb := next.N / B // whole batches only
	if nb == 0 {
		return SparseResult{}, fmt.Errorf("bench: task of %d images has no whole batch of %d", next.N, B)
	}
	dense, sparse := m.NewWorkspace(B), m.NewWorkspace(B)
	sparse.SparseGrad = true
	gd, gs := make([]float32, len(m.Params)), make([]float32, len(m.Params))
	r := SparseResult{Checkpoint: path, DeadShare: make([]float64, len(sm.Hidden)), BitIdentical: true, Kernel: linalg.Kernel()}
	grad := func(ws *model.Workspace, g []float32, b int) func() {
		x, y := next.X[b*B*next.D:(b+1)*B*next.D], next.Y[b*B:(b+1)*B]
		return func() {
			m.Forward(ws, x, B, true)
			m.CrossEntropy(ws, y)
			m.Backward(ws, g)
		}
	}
	var fs []func()
	for b := range nb {
		fs = append(fs, grad(dense, gd, b), grad(sparse, gs, b))
		fs[2*b]()
		fs[2*b+1]()
		for i := range gd {
			if math.Float32bits(gd[i]) != math.Float32bits(gs[i]) {
				r.BitIdentical = false
			}
		}
		for i, h := range sm.Hidden {
			r.DeadShare[i] += deadShare(dense.PreActivation(i), h) / float64(nb)
		}
	}
	med := interleavedMedians(reps, fs...)
	for b := range nb {
		r.DenseGradMS += med[2*b] / float64(nb)
		r.SparseGradMS += med[2*b+1] / float64(nb)
	}
	r.Speedup = r.DenseGradMS / r.SparseGradMS
	return r, nil
}

// deadShare is the share of the n columns of pre (rows×n) that are not
// positive in any row: ReLU units dead on the whole batch.
func deadShare(pre []float32, n int) float64 {
	rows := len(pre) / n
	dead := 0
	for j := range n {
		alive := false
		for r := 0; r < rows && !alive; r++ {
			alive = pre[r*n+j] > 0
		}
		if !alive {
			dead++
		}
	}
	return float64(dead) / float64(n)
}
