package plotting

import (
	"bytes"
	"fmt"
	"image"
	"image/png"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"testing"

	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"
	"gonum.org/v1/plot/vg/vgimg"
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

func TestSaveStackDrawsEveryPanel(t *testing.T) {
	out := filepath.Join(t.TempDir(), "stack")
	top := Figure{Title: "metric", YLabel: "vol", LogY: true,
		Lines: []Line{{Label: "lr 0.01", X: []float64{1, 2, 3}, Ys: [][]float64{{0, 1, 10}}}}}
	bottom := Figure{Title: "accuracy", YLabel: "acc", Lines: []Line{{Label: "acc line", X: []float64{1, 2, 3}, Ys: [][]float64{{0.5, 0.4, 0.3}}}}}
	if err := SaveStack(out, top, bottom); err != nil {
		t.Fatal(err)
	}
	svg, _ := os.ReadFile(out + ".svg")
	for _, want := range []string{"lr 0.01", "acc line", "metric", "accuracy"} {
		if !bytes.Contains(svg, []byte(want)) {
			t.Fatalf("stacked SVG lacks %q", want)
		}
	}
	one := filepath.Join(t.TempDir(), "one")
	if err := bottom.Save(one); err != nil {
		t.Fatal(err)
	}
	if h1, h2 := pngHeight(t, one+".png"), pngHeight(t, out+".png"); h2 <= h1 {
		t.Fatalf("two panels are %d px high, one panel %d", h2, h1)
	}
}

func pngHeight(t *testing.T, path string) int {
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	cfg, err := png.DecodeConfig(f)
	if err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	return cfg.Height
}

// TestLinesStayDistinctPastThePalette: with more lines than colours, no
// two lines share both colour and dash pattern.
func TestLinesStayDistinctPastThePalette(t *testing.T) {
	seen := map[string]int{}
	for i := range 20 {
		c, d := lineStyle(i)
		key := fmt.Sprint(c, d)
		if j, dup := seen[key]; dup {
			t.Fatalf("lines %d and %d drawn alike (%s)", j, i, key)
		}
		seen[key] = i
	}
}

// TestLegendSitsAboveTheLines: a line along the top of the data stays
// below the legend's bottom edge, on linear and log axes, and the axis's
// bottom stays at the data's minimum.
func TestLegendSitsAboveTheLines(t *testing.T) {
	x := []float64{1, 2, 3, 4}
	for _, logY := range []bool{false, true} {
		f := Figure{Title: "t", XLabel: "task", YLabel: "acc", LogY: logY, Lines: []Line{
			{Label: "top line", X: x, Ys: [][]float64{{0.6, 0.6, 0.6, 0.6}}},
			{Label: "middle", X: x, Ys: [][]float64{{0.3, 0.35, 0.3, 0.35}}},
			{Label: "bottom", X: x, Ys: [][]float64{{0.1, 0.1, 0.1, 0.1}}},
		}}
		p, err := f.plot()
		if err != nil {
			t.Fatal(err)
		}
		yr := [2]float64{p.Y.Min, p.Y.Max}
		c := draw.New(vgimg.New(8*vg.Inch, 4.5*vg.Inch))
		// The legend's bottom edge: Plot.Draw puts it at the top of the
		// area under the title.
		title := p.Title.TextStyle.Rectangle(p.Title.Text).Size().Y + p.Title.Padding
		legendBottom := c.Max.Y - title - p.Legend.Rectangle(c).Size().Y
		dc := p.DataCanvas(c)
		_, ty := p.Transforms(&dc)
		if top := ty(0.6); top <= legendBottom {
			t.Fatalf("log %v: without room the top line (%v) already clears the legend (%v): the test cannot fail", logY, top, legendBottom)
		}
		legendRoom(p, c, yr)
		dc = p.DataCanvas(c)
		_, ty = p.Transforms(&dc)
		if top := ty(0.6); top > legendBottom {
			t.Errorf("log %v: the top line at %v is above the legend's bottom %v", logY, top, legendBottom)
		}
		if p.Y.Min != yr[0] || ty(yr[0]) != dc.Min.Y {
			t.Errorf("log %v: the axis's bottom moved: %v, want %v", logY, p.Y.Min, yr[0])
		}
	}
}

// TestFirstLinesContrast: the first eight lines' colours are at least 60
// apart in RGB (gonum's default palette has two reds 42 apart).
func TestFirstLinesContrast(t *testing.T) {
	for i := range 8 {
		for j := range i {
			a, _ := lineStyle(i)
			b, _ := lineStyle(j)
			r1, g1, b1, _ := a.RGBA()
			r2, g2, b2, _ := b.RGBA()
			d := math.Sqrt(sq(r1, r2)+sq(g1, g2)+sq(b1, b2)) / 257 // 16-bit channels to 8
			if d < 60 {
				t.Errorf("lines %d and %d are %.0f apart", j, i, d)
			}
		}
	}
}

func sq(a, b uint32) float64 { d := float64(a) - float64(b); return d * d }

// TestThinnedLinesDrawAlike: noisy 20,000-point lines, one with a
// two-seed band, drawn thinned to 4,096 points (2,047 buckets, more than
// the PNG's 768 pixels across; 8,192 outside tests) and in full give
// nearly the same PNG (under 1% of inked pixels differ by a quarter of
// full scale: 0.24% measured), and an SVG under a third the size.
func TestThinnedLinesDrawAlike(t *testing.T) {
	r := rand.New(rand.NewPCG(3, 4))
	n := 20_000
	x, y, s0, s1 := make([]float64, n), make([]float64, n), make([]float64, n), make([]float64, n)
	for i := range x {
		x[i] = float64(i + 1)
		y[i] = math.Exp(math.Sin(float64(i)/3000) + 0.3*r.NormFloat64())
		s0[i] = math.Exp(-2 + 0.2*r.NormFloat64())
		s1[i] = s0[i] * math.Exp(0.5+0.2*r.NormFloat64())
	}
	f := Figure{Title: "t", XLabel: "update", YLabel: "lr", LogY: true, Lines: []Line{
		{Label: "fc1", X: x, Ys: [][]float64{y}},
		{Label: "fc2, two seeds", X: x, Ys: [][]float64{s0, s1}},
	}}
	dir := t.TempDir()
	thinned, full := filepath.Join(dir, "thinned"), filepath.Join(dir, "full")
	defer func(n int) { drawPoints = n }(drawPoints)
	drawPoints = 4096
	if err := f.Save(thinned); err != nil {
		t.Fatal(err)
	}
	drawPoints = math.MaxInt
	if err := f.Save(full); err != nil {
		t.Fatal(err)
	}
	a, b := readPNG(t, thinned+".png"), readPNG(t, full+".png")
	differ, inked := 0, 0
	bounds := a.Bounds()
	for py := bounds.Min.Y; py < bounds.Max.Y; py++ {
		for px := bounds.Min.X; px < bounds.Max.X; px++ {
			ra, ga, ba, _ := a.At(px, py).RGBA()
			rb, gb, bb, _ := b.At(px, py).RGBA()
			if ra != 0xffff || ga != 0xffff || ba != 0xffff {
				inked++
			}
			d := max(absDiff(ra, rb), absDiff(ga, gb), absDiff(ba, bb))
			if d > 0x4000 { // a quarter of full scale
				differ++
			}
		}
	}
	t.Logf("%d of %d inked pixels differ by more than a quarter", differ, inked)
	if differ > inked/100 {
		t.Errorf("%d of %d inked pixels differ by more than a quarter of full scale", differ, inked)
	}
	sa, _ := os.Stat(thinned + ".svg")
	sb, _ := os.Stat(full + ".svg")
	t.Logf("SVG %d bytes thinned, %d in full", sa.Size(), sb.Size())
	if sa.Size()*3 > sb.Size() {
		t.Errorf("thinned SVG is %d bytes, full %d: want under a third", sa.Size(), sb.Size())
	}
}

func absDiff(a, b uint32) uint32 {
	if a > b {
		return a - b
	}
	return b - a
}

func readPNG(t *testing.T, path string) image.Image {
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	img, err := png.Decode(f)
	if err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	return img
}

// TestFixedYRange: YMin and YMax set the axis whatever the data's range;
// the zero value leaves it to the data.
func TestFixedYRange(t *testing.T) {
	line := []Line{{Label: "acc", X: []float64{1, 2, 3}, Ys: [][]float64{{0.4, 0.5, 0.6}}}}
	p, err := Figure{Lines: line, YMin: 0, YMax: 1}.plot()
	if err != nil {
		t.Fatal(err)
	}
	if p.Y.Min != 0 || p.Y.Max != 1 {
		t.Errorf("fixed range: y from %v to %v, want 0 to 1", p.Y.Min, p.Y.Max)
	}
	if p, _ = (Figure{Lines: line}).plot(); p.Y.Min != 0.4 || p.Y.Max != 0.6 {
		t.Errorf("zero value: y from %v to %v, want the data's 0.4 to 0.6", p.Y.Min, p.Y.Max)
	}
}
