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

	"gonum.org/v1/plot/plotter"
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

// TestDecimateKeepsEachColumnsExtremes checks M4 against a naive pass:
// the thinned line is a subsequence of the full one, at most four points a
// column, holding each column's first, last, lowest and highest point.
func TestDecimateKeepsEachColumnsExtremes(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	var pts plotter.XYs
	x, y := 0.0, 0.0
	for range 100_000 {
		x += r.ExpFloat64() // uneven spacing, as logged steps after a resume
		y += r.NormFloat64()
		pts = append(pts, plotter.XY{X: x, Y: y})
	}
	const cols = 100
	x0, x1 := pts[0].X, pts[len(pts)-1].X
	got := decimate(pts, x0, x1, cols)
	if len(got) > 4*cols || len(got) < cols {
		t.Fatalf("%d points kept from %d, want between %d and %d", len(got), len(pts), cols, 4*cols)
	}
	j := 0 // got must be a subsequence of pts
	for _, p := range got {
		for j < len(pts) && pts[j] != p {
			j++
		}
		if j == len(pts) {
			t.Fatalf("%v is not in the full line, in order", p)
		}
	}
	type extremes struct{ first, last, lo, hi plotter.XY }
	naive := map[int]*extremes{}
	for _, p := range pts {
		c := min(int((p.X-x0)/(x1-x0)*cols), cols-1)
		e, ok := naive[c]
		if !ok {
			naive[c] = &extremes{p, p, p, p}
			continue
		}
		e.last = p
		if p.Y < e.lo.Y {
			e.lo = p
		}
		if p.Y > e.hi.Y {
			e.hi = p
		}
	}
	kept := map[plotter.XY]bool{}
	for _, p := range got {
		kept[p] = true
	}
	for c, e := range naive {
		for _, p := range []plotter.XY{e.first, e.last, e.lo, e.hi} {
			if !kept[p] {
				t.Fatalf("column %d lost %v", c, p)
			}
		}
	}
	short := pts[:4*cols]
	if got := decimate(short, x0, x1, cols); len(got) != len(short) {
		t.Fatalf("a line of 4·cols points was thinned to %d", len(got))
	}
}

// TestThinnedLinesDrawAlike: a 60,000-point noisy line (a per-update
// series at the paper's scale) drawn thinned and in full gives nearly the
// same PNG, and a much smaller SVG.
func TestThinnedLinesDrawAlike(t *testing.T) {
	r := rand.New(rand.NewPCG(3, 4))
	x, y := make([]float64, 60_000), make([]float64, 60_000)
	for i := range x {
		x[i] = float64(i + 1)
		y[i] = math.Exp(math.Sin(float64(i)/3000) + 0.3*r.NormFloat64())
	}
	f := Figure{Title: "t", XLabel: "update", YLabel: "lr", LogY: true, Lines: []Line{{Label: "fc1", X: x, Ys: [][]float64{y}}}}
	dir := t.TempDir()
	thin, full := filepath.Join(dir, "thin"), filepath.Join(dir, "full")
	if err := f.Save(thin); err != nil {
		t.Fatal(err)
	}
	defer func(c int) { drawColumns = c }(drawColumns)
	drawColumns = 0
	if err := f.Save(full); err != nil {
		t.Fatal(err)
	}
	a, b := readPNG(t, thin+".png"), readPNG(t, full+".png")
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
	sa, _ := os.Stat(thin + ".svg")
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
