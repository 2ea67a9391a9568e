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
