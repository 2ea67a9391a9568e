package plotting

import (
	"math"
	"math/rand/v2"
	"path/filepath"
	"testing"
)

// BenchmarkSavePerUpdateSeries draws one run's three per-layer learning
// rates at the paper's scale under the authors' protocol (58,750 logged
// steps each) as PNG and SVG: Fig. 6's panel.
func BenchmarkSavePerUpdateSeries(b *testing.B) {
	r := rand.New(rand.NewPCG(5, 6))
	const n = 58_750
	x := make([]float64, n)
	for i := range x {
		x[i] = float64(40 * (i + 1))
	}
	f := Figure{Title: "Fig. 6", XLabel: "update step", YLabel: "learning rate", LogY: true}
	for _, layer := range []string{"fc1", "fc2", "fc3"} {
		y := make([]float64, n)
		lr := 1e-3
		for i := range y {
			lr *= math.Exp(0.01 * r.NormFloat64())
			y[i] = lr
		}
		f.Lines = append(f.Lines, Line{Label: layer, X: x, Ys: [][]float64{y}})
	}
	out := filepath.Join(b.TempDir(), "fig6")
	b.ReportAllocs()
	for b.Loop() {
		if err := f.Save(out); err != nil {
			b.Fatal(err)
		}
	}
}
