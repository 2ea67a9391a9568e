// Package plotting owns lot's figures: line plots of run series, with a
// mean line and a min–max band over seeds, task boundaries, labelled axes
// and legends, written as PNG and SVG with gonum/plot.
package plotting

import (
	"fmt"
	"image/color"
	"io"
	"math"
	"os"
	"path/filepath"
	"strings"

	"github.com/lot-toolkit/lot/internal/thin"
	"gonum.org/v1/plot"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/plotutil"
	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"
	"gonum.org/v1/plot/vg/vgimg"
	"gonum.org/v1/plot/vg/vgsvg"
)

// Line is one curve: its label, X, and one Y slice per seed (all the same
// length as X). With several seeds the mean is drawn with a min–max band.
type Line struct {
	Label string
	X     []float64
	Ys    [][]float64
}

// Figure is one plot.
type Figure struct {
	Title, XLabel, YLabel string
	Lines                 []Line
	Boundaries            []float64 // vertical task boundaries, in X units
	LogY                  bool
	// YMin and YMax fix the y axis's range, so that panels meant to be
	// compared share one; with YMax ≤ YMin (the zero value) it is the
	// data's. Room for the legend is added above either.
	YMin, YMax float64
}

// Save writes the figure to path.png and path.svg (path without extension).
func (f Figure) Save(path string) error { return SaveStack(path, f) }

// SaveStack writes figures stacked top to bottom, their axes aligned, as one
// image at path.png and path.svg (path without extension): a metric above
// the accuracy it is meant to explain, for instance.
func SaveStack(path string, figs ...Figure) error {
	plots := make([][]*plot.Plot, len(figs))
	ranges := make([][2]float64, len(figs)) // each plot's data range in y
	for i, f := range figs {
		p, err := f.plot()
		if err != nil {
			return fmt.Errorf("%s: %v", path, err)
		}
		plots[i] = []*plot.Plot{p}
		ranges[i] = [2]float64{p.Y.Min, p.Y.Max}
	}
	w, h := 8*vg.Inch, 4.5*vg.Inch+3.5*vg.Inch*vg.Length(len(figs)-1)
	tiles := draw.Tiles{Rows: len(figs), Cols: 1, PadY: 4 * vg.Millimeter, PadTop: vg.Millimeter, PadBottom: vg.Millimeter, PadLeft: vg.Millimeter, PadRight: vg.Millimeter}
	base := strings.TrimSuffix(path, filepath.Ext(path))
	for _, out := range []struct {
		ext    string
		canvas interface {
			vg.CanvasSizer
			io.WriterTo
		}
	}{{".png", vgimg.PngCanvas{Canvas: vgimg.New(w, h)}}, {".svg", vgsvg.New(w, h)}} {
		canvases := plot.Align(plots, tiles, draw.New(out.canvas))
		for i := range plots {
			legendRoom(plots[i][0], canvases[i][0], ranges[i])
			plots[i][0].Draw(canvases[i][0])
		}
		if err := writeFile(base+out.ext, out.canvas); err != nil {
			return err
		}
	}
	return nil
}

func writeFile(path string, w io.WriterTo) error {
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	if _, err := w.WriteTo(f); err != nil {
		f.Close()
		return fmt.Errorf("%s: %v", path, err)
	}
	return f.Close()
}

// plot builds the figure's axes, lines, bands and boundaries.
func (f Figure) plot() (*plot.Plot, error) {
	p := plot.New()
	p.Title.Text, p.X.Label.Text, p.Y.Label.Text = f.Title, f.XLabel, f.YLabel
	p.Add(plotter.NewGrid())
	p.X.Tick.Marker, p.Y.Tick.Marker = linearTicks{}, linearTicks{}
	if f.LogY {
		p.Y.Scale = plot.LogScale{}
		p.Y.Tick.Marker = logTicks{}
	}
	lo, hi := math.Inf(1), math.Inf(-1)
	for i, l := range f.Lines {
		ys := l.Ys
		if f.LogY { // a log axis cannot show values ≤ 0
			ys = positive(ys)
		}
		mean, min, max := summarise(ys)
		for _, v := range append(min, max...) {
			lo, hi = math.Min(lo, v), math.Max(hi, v)
		}
		c, dashes := lineStyle(i)
		pts := thin.MinMax(finite(l.X, mean, min, max, len(ys) > 1), drawPoints)
		if pts.Lo != nil {
			band, err := bandPolygon(pts, c)
			if err != nil {
				return nil, err
			}
			p.Add(band)
		}
		line, err := plotter.NewLine(xys(pts.X, pts.Y))
		if err != nil {
			return nil, fmt.Errorf("%s: %v", l.Label, err)
		}
		line.Color = c
		line.Dashes = dashes
		line.Width = vg.Points(1.2)
		p.Add(line)
		p.Legend.Add(l.Label, line)
	}
	for _, b := range f.Boundaries {
		if math.IsInf(lo, 0) {
			break
		}
		v, err := plotter.NewLine(plotter.XYs{{X: b, Y: lo}, {X: b, Y: hi}})
		if err != nil {
			return nil, err
		}
		v.Color = color.Gray{Y: 200}
		v.Dashes = []vg.Length{vg.Points(2), vg.Points(2)}
		p.Add(v)
	}
	p.Legend.Top = true
	if f.YMax > f.YMin {
		p.Y.Min, p.Y.Max = f.YMin, f.YMax
	}
	return p, nil
}

// legendRoom sets p's y range to the data's, yr, raised at the top just
// enough that the legend, drawn in the top right corner of c, sits above
// every line rather than over them. A legend taller than half the data
// area is left where it is: the room would squash the lines.
func legendRoom(p *plot.Plot, c draw.Canvas, yr [2]float64) {
	p.Y.Min, p.Y.Max = yr[0], yr[1]
	lo, hi := yr[0], yr[1]
	_, logY := p.Y.Scale.(plot.LogScale)
	if logY {
		if lo <= 0 {
			return
		}
		lo, hi = math.Log(lo), math.Log(hi)
	}
	legend := p.Legend.Rectangle(c).Size().Y
	if legend == 0 || !(hi > lo) {
		return
	}
	// Plot.Draw puts the legend at the top of the area under the title;
	// the data area starts lower by the y axis's padding, which depends on
	// its tick labels and so on the range: settle it in a few rounds.
	top := c.Max.Y
	if p.Title.Text != "" {
		top -= p.Title.TextStyle.Rectangle(p.Title.Text).Size().Y + p.Title.Padding
	}
	for range 4 {
		dc := p.DataCanvas(c)
		area := dc.Size().Y
		room := legend - (top - dc.Max.Y) + vg.Points(2)
		if area <= 0 || room <= 0 || room >= area/2 {
			return
		}
		r := float64(room / area) // the share of the axis above the data
		max := (hi - r*lo) / (1 - r)
		if logY {
			max = math.Exp(max)
		}
		p.Y.Max = max
	}
}

// palette is Okabe and Ito's eight colours, told apart under the common
// colour-vision deficiencies, ordered so that the first lines contrast
// most (yellow, faint on white, last). gonum's default palette puts a
// second red sixth.
var palette = []color.Color{
	color.RGBA{0, 114, 178, 255},   // blue
	color.RGBA{213, 94, 0, 255},    // vermillion
	color.RGBA{0, 158, 115, 255},   // bluish green
	color.RGBA{204, 121, 167, 255}, // reddish purple
	color.RGBA{230, 159, 0, 255},   // orange
	color.RGBA{86, 180, 233, 255},  // sky blue
	color.RGBA{0, 0, 0, 255},       // black
	color.RGBA{240, 228, 66, 255},  // yellow
}

// lineStyle is line i's colour and dash pattern: past the palette's eight
// colours, lines that share a colour differ in dashes.
func lineStyle(i int) (color.Color, []vg.Length) {
	return palette[i%len(palette)], plotutil.Dashes(i / len(palette))
}

// positive copies ys with values ≤ 0 made NaN (skipped when drawn).
func positive(ys [][]float64) [][]float64 {
	out := make([][]float64, len(ys))
	for i, y := range ys {
		out[i] = make([]float64, len(y))
		for j, v := range y {
			out[i][j] = v
			if v <= 0 {
				out[i][j] = math.NaN()
			}
		}
	}
	return out
}

// summarise returns the pointwise mean, min and max over seeds, skipping
// non-finite values.
func summarise(ys [][]float64) (mean, lo, hi []float64) {
	n := len(ys[0])
	mean, lo, hi = make([]float64, n), make([]float64, n), make([]float64, n)
	for i := 0; i < n; i++ {
		var s float64
		var k int
		lo[i], hi[i] = math.Inf(1), math.Inf(-1)
		for _, y := range ys {
			if v := y[i]; !math.IsNaN(v) && !math.IsInf(v, 0) {
				s += v
				k++
				lo[i], hi[i] = math.Min(lo[i], v), math.Max(hi[i], v)
			}
		}
		mean[i] = s / float64(k)
		if k == 0 {
			mean[i], lo[i], hi[i] = math.NaN(), math.NaN(), math.NaN()
		}
	}
	return mean, lo, hi
}

// drawPoints is the most points a line is drawn with (see thin.MinMax):
// 4,095 buckets, more than five times the PNG's 768 pixels across, so the
// SVG can be zoomed a little. A per-update series at the paper's scale has
// 58,750 points, each about 18 bytes of SVG.
var drawPoints = 8192

// finite is the series at the x where the mean is finite, with the band
// lo–hi when band is set.
func finite(x, mean, lo, hi []float64, band bool) thin.Series {
	s := thin.Series{X: make([]float64, 0, len(mean)), Y: make([]float64, 0, len(mean))}
	if band {
		s.Lo, s.Hi = make([]float64, 0, len(mean)), make([]float64, 0, len(mean))
	}
	for i, m := range mean {
		if math.IsNaN(m) || math.IsInf(m, 0) {
			continue
		}
		s.X, s.Y = append(s.X, x[i]), append(s.Y, m)
		if s.Lo != nil {
			s.Lo, s.Hi = append(s.Lo, lo[i]), append(s.Hi, hi[i])
		}
	}
	return s
}

func xys(x, y []float64) plotter.XYs {
	pts := make(plotter.XYs, len(x))
	for i := range x {
		pts[i] = plotter.XY{X: x[i], Y: y[i]}
	}
	return pts
}

// bandPolygon is the min–max band: the lower edge left to right, then
// the upper edge back.
func bandPolygon(s thin.Series, c color.Color) (*plotter.Polygon, error) {
	pts := make(plotter.XYs, 0, 2*len(s.X))
	for i := range s.X {
		pts = append(pts, plotter.XY{X: s.X[i], Y: s.Lo[i]})
	}
	for i := len(s.X) - 1; i >= 0; i-- {
		pts = append(pts, plotter.XY{X: s.X[i], Y: s.Hi[i]})
	}
	poly, err := plotter.NewPolygon(pts)
	if err != nil {
		return nil, err
	}
	r, g, b, _ := c.RGBA()
	poly.Color = color.NRGBA{R: uint8(r >> 8), G: uint8(g >> 8), B: uint8(b >> 8), A: 60}
	poly.LineStyle.Width = 0
	return poly, nil
}
