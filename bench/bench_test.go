package bench

import (
	"testing"

	"github.com/lot-toolkit/lot/diagnostics"
)

func BenchmarkStandardStep(b *testing.B) {
	s := newStandard(1)
	for b.Loop() {
		s.trainStep()
	}
}

func BenchmarkStandardGrad(b *testing.B) {
	s := newStandard(1)
	for b.Loop() {
		s.gradStep()
	}
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
	mon := diagnostics.New(s.st.Model, s.st.Opt, s.st.WS, 0, o)
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
