package serve

import (
	"encoding/json"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"
)

// reference flattens a JSON-lines file with encoding/json: each dotted
// path's (x, y) over the lines that decode to an object with a numeric
// xKey, as the index should.
func reference(t *testing.T, path, xKey string, xAdd float64) (cols map[string][2][]float64, bad int) {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	cols = map[string][2][]float64{}
	text := string(b)
	if i := strings.LastIndexByte(text, '\n'); i != len(text)-1 {
		text = text[:i+1] // a partial last line is not read yet
	}
	for _, line := range strings.Split(text, "\n") {
		if strings.TrimSpace(line) == "" {
			continue
		}
		var row map[string]any
		if json.Unmarshal([]byte(line), &row) != nil {
			bad++
			continue
		}
		x, ok := row[xKey].(float64)
		if !ok {
			bad++
			continue
		}
		var walk func(prefix string, v any)
		walk = func(prefix string, v any) {
			switch v := v.(type) {
			case map[string]any:
				for k, w := range v {
					if prefix != "" {
						k = prefix + "." + k
					}
					walk(k, w)
				}
			case float64, bool:
				y := 0.0
				if f, ok := v.(float64); ok {
					y = f
				} else if v.(bool) {
					y = 1
				}
				c := cols[prefix]
				c[0], c[1] = append(c[0], x+xAdd), append(c[1], y)
				cols[prefix] = c
			}
		}
		walk("", row)
	}
	return cols, bad
}

func indexOf(t *testing.T, path, xKey string, xAdd float64) *logIndex {
	t.Helper()
	ix := newLogIndex(xKey, xAdd)
	if err := ix.refresh(func() (*os.File, error) { return os.Open(path) }); err != nil {
		t.Fatal(err)
	}
	return ix
}

func sameAsReference(t *testing.T, ix *logIndex, path string) {
	t.Helper()
	want, bad := reference(t, path, ix.xKey, ix.xAdd)
	if ix.malformed != bad {
		t.Errorf("%d malformed lines counted, want %d", ix.malformed, bad)
	}
	names := ix.names()
	wantNames := make([]string, 0, len(want))
	for k := range want {
		wantNames = append(wantNames, k)
	}
	slices.Sort(wantNames)
	if !reflect.DeepEqual(names, wantNames) {
		t.Fatalf("paths %v, want %v", names, wantNames)
	}
	for _, n := range names {
		x, y, _ := ix.series(n)
		if !reflect.DeepEqual(x, want[n][0]) || !reflect.DeepEqual(y, want[n][1]) {
			t.Fatalf("%s differs from encoding/json's reading", n)
		}
	}
}

// TestIndexReadsAsEncodingJSON: every number and boolean of every line,
// by dotted path, as encoding/json reads them; strings, nulls and arrays
// dropped; malformed lines (bad JSON, no step, not an object) skipped and
// counted; a partial last line left for later.
func TestIndexReadsAsEncodingJSON(t *testing.T) {
	dir := t.TempDir()
	writeRun(t, dir, 3, 300, 50, false)
	path := filepath.Join(dir, "metrics.jsonl")
	f, _ := os.OpenFile(path, os.O_APPEND|os.O_WRONLY, 0)
	f.WriteString(`{"step":12001,"acc":0.5,"nested":{"list":[1,2,{"a":3}],"s":"x\"y}","e":-1.5e-3}}` + "\n")
	f.WriteString("{\"step\":12002,\"acc\":0.25,\"lr\"\n")    // torn
	f.WriteString("[1,2,3]\n")                                // not an object
	f.WriteString(`{"acc":0.3}` + "\n")                       // no step
	f.WriteString(`{"step":12003,"acc":0.1} trailing` + "\n") // junk after
	f.WriteString("\n")                                       // blank: neither
	f.WriteString(`{"step":12004,"acc":0.7,"lr":{"fc1":`)     // being written
	f.Close()
	ix := indexOf(t, path, "step", 0)
	sameAsReference(t, ix, path)
	if ix.malformed != 4 || !ix.partial {
		t.Errorf("malformed %d, partial %v; want 4, true", ix.malformed, ix.partial)
	}
	if _, y, _ := ix.series("nested.e"); len(y) != 1 || y[0] != -1.5e-3 {
		t.Errorf("nested.e = %v", y)
	}
	// encoding/json refuses a number out of float64's range; the index
	// drops that value only, as it drops a null.
	big := filepath.Join(dir, "big.jsonl")
	os.WriteFile(big, []byte(`{"step":1,"big":1e999,"acc":0.5}`+"\n"), 0o644)
	if bx := indexOf(t, big, "step", 0); bx.malformed != 0 || len(bx.names()) != 2 {
		t.Errorf("out of range: malformed %d, paths %v; want 0, [acc step]", bx.malformed, bx.names())
	}
	if _, _, ok := ix.series("nested.list"); ok {
		t.Error("an array's numbers were kept")
	}
}

// TestIndexReadsAppends: appended rows (a partial line completed later
// included) are read on refresh, giving what a fresh read gives; a log
// cut back and rewritten (a resumed run) is read again from the start.
func TestIndexReadsAppends(t *testing.T) {
	dir := t.TempDir()
	writeRun(t, dir, 4, 200, 50, false)
	path := filepath.Join(dir, "metrics.jsonl")
	all, _ := os.ReadFile(path)
	lines := strings.SplitAfter(string(all), "\n")
	write := func(s string) { os.WriteFile(path, []byte(s), 0o644) }
	write(strings.Join(lines[:100], "") + lines[100][:40])
	ix := indexOf(t, path, "step", 0)
	if len(ix.x) != 100 || !ix.partial {
		t.Fatalf("%d rows, partial %v; want 100, true", len(ix.x), ix.partial)
	}
	write(strings.Join(lines, ""))
	ix.refresh(func() (*os.File, error) { return os.Open(path) })
	if ix.partial || ix.malformed != 0 {
		t.Errorf("partial %v, malformed %d after the line was completed", ix.partial, ix.malformed)
	}
	sameAsReference(t, ix, path)

	// Resume cut the log back to row 150 and wrote other rows after it.
	other := t.TempDir()
	writeRun(t, other, 5, 200, 50, false)
	b, _ := os.ReadFile(filepath.Join(other, "metrics.jsonl"))
	write(strings.Join(lines[:150], "") + strings.Join(strings.SplitAfter(string(b), "\n")[150:], ""))
	ix.refresh(func() (*os.File, error) { return os.Open(path) })
	sameAsReference(t, ix, path)
	// The same, to a log shorter than what was read.
	write(strings.Join(lines[:120], ""))
	ix.refresh(func() (*os.File, error) { return os.Open(path) })
	sameAsReference(t, ix, path)
	if len(ix.x) != 120 {
		t.Errorf("%d rows after the cut, want 120", len(ix.x))
	}
}

// TestIndexLongLines: lines longer than the read buffer are read whole.
func TestIndexLongLines(t *testing.T) {
	path := filepath.Join(t.TempDir(), "m.jsonl")
	var b strings.Builder
	for i := range 3 {
		b.WriteString(`{"step":` + string(rune('1'+i)) + `,"pad":"` + strings.Repeat("x", 3<<20) + `","acc":0.5}` + "\n")
	}
	os.WriteFile(path, []byte(b.String()), 0o644)
	ix := indexOf(t, path, "step", 0)
	if x, _, _ := ix.series("acc"); !reflect.DeepEqual(x, []float64{1, 2, 3}) {
		t.Errorf("acc at %v", x)
	}
}

// TestDownsampleKeepsEachBucketsMinAndMax recomputes the buckets naively.
func TestDownsampleKeepsEachBucketsMinAndMax(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	for _, n := range []int{0, 1, 7, 200, 201, 10007} {
		p := Points{}
		for i := range n {
			p.X = append(p.X, float64(3*i))
			p.Y = append(p.Y, rng.NormFloat64())
			p.Lo = append(p.Lo, -rng.Float64())
			p.Hi = append(p.Hi, rng.Float64())
		}
		const maxPoints = 200
		d := downsample(p, maxPoints)
		if n <= maxPoints {
			if !reflect.DeepEqual(d, p) {
				t.Errorf("n=%d: a series that fits was changed", n)
			}
			continue
		}
		if len(d.X) > maxPoints || len(d.Y) != len(d.X) || len(d.Lo) != len(d.X) || len(d.Hi) != len(d.X) {
			t.Fatalf("n=%d: %d points (max %d)", n, len(d.X), maxPoints)
		}
		if !slices.IsSorted(d.X) {
			t.Errorf("n=%d: x out of order", n)
		}
		kept := map[float64]float64{}
		for i, x := range d.X {
			kept[x] = d.Y[i]
		}
		if d.X[0] != p.X[0] || d.X[len(d.X)-1] != p.X[n-1] {
			t.Errorf("n=%d: x from %v to %v, want the first and last %v, %v", n, d.X[0], d.X[len(d.X)-1], p.X[0], p.X[n-1])
		}
		// Every bucket's extremes, found naively, are among the kept points.
		buckets := (maxPoints - 2) / 2
		for b := range buckets {
			s, e := b*n/buckets, (b+1)*n/buckets
			lo, hi, bl, bh := math.Inf(1), math.Inf(-1), math.Inf(1), math.Inf(-1)
			var xlo, xhi float64
			for i := s; i < e; i++ {
				if p.Y[i] < lo {
					lo, xlo = p.Y[i], p.X[i]
				}
				if p.Y[i] > hi {
					hi, xhi = p.Y[i], p.X[i]
				}
				bl, bh = min(bl, p.Lo[i]), max(bh, p.Hi[i])
			}
			if kept[xlo] != lo || kept[xhi] != hi {
				t.Fatalf("n=%d bucket %d: min %v at %v or max %v at %v lost", n, b, lo, xlo, hi, xhi)
			}
			i := slices.Index(d.X, xlo)
			if d.Lo[i] != bl || d.Hi[i] != bh {
				t.Fatalf("n=%d bucket %d: band %v–%v, want %v–%v", n, b, d.Lo[i], d.Hi[i], bl, bh)
			}
		}
	}
}

// TestDownsampleFlatSeries: a constant series (every bucket's min and max
// one point) still spans its whole x range.
func TestDownsampleFlatSeries(t *testing.T) {
	p := Points{X: make([]float64, 5000), Y: make([]float64, 5000)}
	for i := range p.X {
		p.X[i] = float64(i)
	}
	d := downsample(p, 100)
	if len(d.X) > 100 || d.X[0] != 0 || d.X[len(d.X)-1] != 4999 {
		t.Errorf("%d points from %v to %v", len(d.X), d.X[0], d.X[len(d.X)-1])
	}
}

// TestMeanBand: seeds are joined on the x all of them logged.
func TestMeanBand(t *testing.T) {
	xs := [][]float64{{1, 2, 3, 4}, {2, 3, 4, 5}, {0, 2, 4}}
	ys := [][]float64{{10, 20, 30, 40}, {21, 31, 41, 51}, {0, 23, 43}}
	got := meanBand(xs, ys)
	want := Points{X: []float64{2, 4}, Y: []float64{(20 + 21 + 23) / 3.0, (40 + 41 + 43) / 3.0}, Lo: []float64{20, 40}, Hi: []float64{23, 43}}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("got %+v, want %+v", got, want)
	}
}

func TestWindow(t *testing.T) {
	x, y := []float64{1, 2, 3, 4, 5}, []float64{10, 20, 30, 40, 50}
	if wx, wy := window(x, y, 2, 4); !reflect.DeepEqual(wx, []float64{2, 3, 4}) || !reflect.DeepEqual(wy, []float64{20, 30, 40}) {
		t.Errorf("[2,4]: %v %v", wx, wy)
	}
	if wx, _ := window(x, y, math.NaN(), 1.5); !reflect.DeepEqual(wx, []float64{1}) {
		t.Errorf("[,1.5]: %v", wx)
	}
	if wx, _ := window(x, y, 9, math.NaN()); len(wx) != 0 {
		t.Errorf("[9,]: %v", wx)
	}
}
