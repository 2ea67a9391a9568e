package plotting

import (
	"bytes"
	"math"
	"os"
	"path/filepath"
	"testing"
)

func TestSaveWritesPNGAndSVG(t *testing.T) {
	out := filepath.Join(t.TempDir(), "fig")
	f := Figure{Title: "t", XLabel: "x", YLabel: "y", Boundaries: []float64{1.5},
		Lines: []Line{{Label: "two seeds", X: []float64{1, 2, 3}, Ys: [][]float64{{1, 2, 3}, {2, math.NaN(), 4}}}}}
	if err := f.Save(out); err != nil {
		t.Fatal(err)
	}
	png, _ := os.ReadFile(out + ".png")
	svg, _ := os.ReadFile(out + ".svg")
	if !bytes.HasPrefix(png, []byte("\x89PNG")) || !bytes.Contains(svg, []byte("<svg")) || !bytes.Contains(svg, []byte("two seeds")) {
		t.Fatal("PNG or SVG missing or without the legend")
	}
}

func TestSummariseSkipsNonFinite(t *testing.T) {
	mean, lo, hi := summarise([][]float64{{1, math.Inf(1)}, {3, 5}})
	if mean[0] != 2 || lo[0] != 1 || hi[0] != 3 || mean[1] != 5 || lo[1] != 5 {
		t.Fatalf("mean %v lo %v hi %v", mean, lo, hi)
	}
}
