package bench

import (
	"syscall"
	"testing"
	"time"

	"github.com/lot-toolkit/lot/diagnostics"
	"github.com/lot-toolkit/lot/linalg"
)

// cpuTime is the process's CPU time: on a machine shared with other work,
// wall time mostly measures the others, so benchmarks also report
// cpu-ns/op.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

func loopCPU(b *testing.B, f func()) {
	f()
	b.ResetTimer()
	t0 := cpuTime()
	for range b.N {
		f()
	}
	b.ReportMetric(float64(cpuTime()-t0)/float64(b.N), "cpu-ns/op")
}

func BenchmarkStandardStep(b *testing.B) {
	s := newStandard(1)
	loopCPU(b, s.trainStep)
}

func BenchmarkStandardGrad(b *testing.B) {
	s := newStandard(1)
	loopCPU(b, s.gradStep)
}

// BenchmarkAuthorsStep is the step of the authors' net, 784-256-256-10.
func BenchmarkAuthorsStep(b *testing.B) {
	forAuthorsNets(b, func(s *stepper) func() { return s.trainStep })
}

// BenchmarkAuthorsGemmFloor is BenchmarkAuthorsStep's matrix products alone.
func BenchmarkAuthorsGemmFloor(b *testing.B) {
	forAuthorsNets(b, func(s *stepper) func() { return gemmFloor(s.st.Model, Standard.Batch) })
}

// forAuthorsNets times op on the authors' net, once per activation.
func forAuthorsNets(b *testing.B, op func(*stepper) func()) {
	for _, act := range []string{"relu", "crelu"} {
		b.Run(act, func(b *testing.B) {
			linalg.SetThreads(1)
			c := Config{Hidden: []int{256, 256}, Activation: act}
			spec, err := c.spec()
			if err != nil {
				b.Fatal(err)
			}
			s, err := newStepper(spec, "none")
			if err != nil {
				b.Fatal(err)
			}
			loopCPU(b, op(s))
		})
	}
}

// BenchmarkGemmFloor is the standard step's matrix products alone.
func BenchmarkGemmFloor(b *testing.B) {
	s := newStandard(1)
	loopCPU(b, gemmFloor(s.st.Model, Standard.Batch))
}

func BenchmarkStandardHVP(b *testing.B) {
	s := newStandard(1)
	h := s.st.Model.NewHVP(Standard.Batch)
	h.Prepare(s.x, s.y)
	v, out := make([]float32, len(s.st.Model.Params)), make([]float32, len(s.st.Model.Params))
	for i := range v {
		v[i] = float32(i%7) * 0.01
	}
	for b.Loop() {
		h.Apply(v, out)
	}
}

// BenchmarkFullDiagnostics times one --diagnostics full measurement (warm)
// on the standard step, to compare with 40 training steps.
func BenchmarkFullDiagnostics(b *testing.B) {
	s := newStandard(1)
	o := diagnostics.DefaultOptions()
	o.Level = diagnostics.Full
	mon := diagnostics.New(s.st.Model, s.st.Opt, s.st.WS, nil, o)
	for i := 0; i < 5; i++ {
		s.gradStep()
		mon.Before(s.st.Grad)
		s.st.Opt.Step(s.st.Model.Params, s.st.Grad)
		mon.After()
	}
	for b.Loop() {
		s.gradStep()
		mon.Before(s.st.Grad)
		s.st.Opt.Step(s.st.Model.Params, s.st.Grad)
		mon.After()
	}
}

func BenchmarkStandardHVPBlocks(b *testing.B) {
	s := newStandard(1)
	s.gradStep()
	m := s.st.Model
	h := m.NewHVPOn(s.st.WS)
	for g, grp := range m.Groups {
		v, out := make([]float32, grp.Len), make([]float32, grp.Len)
		for i := range v {
			v[i] = float32(i%7) * 0.01
		}
		b.Run(grp.Name, func(b *testing.B) {
			for b.Loop() {
				h.ApplyBlock(g, v, out)
			}
		})
	}
}

func TestRunRejectsBadConfig(t *testing.T) {
	for _, c := range []Config{
		{Threads: 1, Reps: 1, Activation: "tanhh"},
		{Threads: 1, Reps: 1, Hidden: []int{0}},
		{Threads: 0, Reps: 1},
		{Threads: 1, Reps: 0},
	} {
		if _, err := Run(c); err == nil {
			t.Errorf("%+v: no error", c)
		}
	}
}

// TestQuickRunFillsTheFields: a quick run on two CReLU layers measures
// every product and skips the runs and the workers.
func TestQuickRunFillsTheFields(t *testing.T) {
	r, err := Run(Config{Hidden: []int{32, 16}, Activation: "crelu", Threads: 1, Reps: 3, Quick: true})
	if err != nil {
		t.Fatal(err)
	}
	if r.TrainStepMS <= 0 || r.GemmFloorMS <= 0 || r.GradMS <= 0 || r.HVPMS <= 0 || r.WassersteinStepMS <= 0 || len(r.HVPBlockMS) != 3 {
		t.Fatalf("missing fields: %+v", r)
	}
	if r.DiagFullOverhead != nil || r.Jobs2Speedup != nil {
		t.Fatal("quick measured the slow parts")
	}
}
