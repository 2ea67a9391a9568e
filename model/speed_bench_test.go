package model

import (
	"math/rand/v2"
	"syscall"
	"testing"
	"time"

	"github.com/lot-toolkit/lot/linalg"
)

// authorsProblem is the authors' net, 784-256-256-10, on one batch of 256.
func authorsProblem(b *testing.B, act string) (*MLP, *Workspace, []float32) {
	linalg.SetThreads(1) // as runs use it; two threads fight on a busy machine
	a, _ := ParseActivation(act)
	m, err := New(Spec{Input: 784, Hidden: []int{256, 256}, Classes: 10, Activation: a})
	if err != nil {
		b.Fatal(err)
	}
	rng := rand.New(rand.NewPCG(3, 3))
	m.Initialize(InitKaimingUniform, rng)
	x := make([]float32, 256*784)
	for i := range x {
		x[i] = float32(rng.NormFloat64())
	}
	y := make([]int32, 256)
	for i := range y {
		y[i] = int32(rng.IntN(10))
	}
	ws := m.NewWorkspace(256)
	m.Forward(ws, x, 256, true)
	m.CrossEntropy(ws, y)
	grad := make([]float32, len(m.Params))
	m.Backward(ws, grad)
	return m, ws, grad
}

func benchBlock(b *testing.B, g int) {
	m, ws, _ := authorsProblem(b, "relu")
	h := m.NewHVPOn(ws)
	n := m.Groups[g].Len
	v, out := make([]float32, n), make([]float32, n)
	for i := range v {
		v[i] = float32(i%7-3) * 1e-2
	}
	c := startCPU(b)
	for range b.N {
		h.ApplyBlock(g, v, out)
	}
	c.stop(b)
}

func BenchmarkApplyBlockFC1(b *testing.B) { benchBlock(b, 0) }
func BenchmarkApplyBlockFC2(b *testing.B) { benchBlock(b, 1) }
func BenchmarkApplyBlockFC3(b *testing.B) { benchBlock(b, 2) }

func BenchmarkApplyOutputHessian(b *testing.B) {
	m, ws, _ := authorsProblem(b, "relu")
	h := m.NewHVPOn(ws)
	r, out := make([]float32, 256*256), make([]float32, 256*256)
	for i := range r {
		r[i] = float32(i%5-2) * 1e-2
	}
	c := startCPU(b)
	for range b.N {
		h.ApplyOutputHessian(0, r, out)
	}
	c.stop(b)
}

// cpuTimer reports the process's CPU time per operation as cpu-ns/op: on a
// machine shared with other work, wall time mostly measures the others.
type cpuTimer struct{ start time.Duration }

func cpuNow() time.Duration {
	var ru syscall.Rusage
	syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

func startCPU(b *testing.B) *cpuTimer {
	b.ResetTimer()
	return &cpuTimer{start: cpuNow()}
}

func (c *cpuTimer) stop(b *testing.B) {
	b.ReportMetric(float64(cpuNow()-c.start)/float64(b.N), "cpu-ns/op")
}
