package bench

import "testing"

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
