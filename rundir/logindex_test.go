package rundir

import (
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"
)

// writeLog writes rows of a metrics.jsonl shaped as lot's: a step, nested
// per-layer numbers, a null, a boolean and strings.
func writeLog(t *testing.T, path string, seed uint64, rows int) {
	t.Helper()
	rng := rand.New(rand.NewPCG(seed, 1))
	var b strings.Builder
	for i := range rows {
		fmt.Fprintf(&b, `{"step":%d,"task":%d,"acc":%v,"lr":{"fc1":%v,"fc2":%v},"diag":{"alpha":%v,"exceed":%v,"layers":{`,
			40*(i+1), i/50, rng.Float64(), 1e-3*rng.Float64(), 1e-3, rng.Float64()*20, rng.IntN(2) == 1)
		for l, name := range []string{"fc1", "fc2"} {
			if l > 0 {
				b.WriteString(",")
			}
			fmt.Fprintf(&b, `"%s":{"alpha":%v,"alpha_vol":null,"alpha_tilde":%v,"sharpness":%v,"power_iters":6}`,
				name, rng.Float64()*19, rng.NormFloat64(), rng.ExpFloat64()*1e-7)
		}
		b.WriteString("}},\"sched\":{\"fc1\":\"hold\",\"fc2\":\"warm\"}}\n")
	}
	if err := os.WriteFile(path, []byte(b.String()), 0o644); err != nil {
		t.Fatal(err)
	}
}

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

func indexOf(t *testing.T, path, xKey string, xAdd float64) *LogIndex {
	t.Helper()
	ix := NewLogIndex(xKey, xAdd)
	if err := ix.Refresh(func() (*os.File, error) { return os.Open(path) }); err != nil {
		t.Fatal(err)
	}
	return ix
}

func sameAsReference(t *testing.T, ix *LogIndex, path string) {
	t.Helper()
	want, bad := reference(t, path, ix.xKey, ix.xAdd)
	if ix.Malformed() != bad {
		t.Errorf("%d malformed lines counted, want %d", ix.Malformed(), bad)
	}
	names := ix.Names()
	wantNames := make([]string, 0, len(want))
	for k := range want {
		wantNames = append(wantNames, k)
	}
	slices.Sort(wantNames)
	if !reflect.DeepEqual(names, wantNames) {
		t.Fatalf("paths %v, want %v", names, wantNames)
	}
	for _, n := range names {
		x, y, _ := ix.Series(n)
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
	path := filepath.Join(dir, "metrics.jsonl")
	writeLog(t, path, 3, 300)
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
	if ix.Malformed() != 4 || !ix.Partial() || ix.FirstMalformed() != 302 {
		t.Errorf("malformed %d (first at line %d), partial %v; want 4 (302), true", ix.Malformed(), ix.FirstMalformed(), ix.Partial())
	}
	if _, y, _ := ix.Series("nested.e"); len(y) != 1 || y[0] != -1.5e-3 {
		t.Errorf("nested.e = %v", y)
	}
	// encoding/json refuses a number out of float64's range; the index
	// drops that value only, as it drops a null.
	big := filepath.Join(dir, "big.jsonl")
	os.WriteFile(big, []byte(`{"step":1,"big":1e999,"acc":0.5}`+"\n"), 0o644)
	if bx := indexOf(t, big, "step", 0); bx.Malformed() != 0 || len(bx.Names()) != 2 {
		t.Errorf("out of range: malformed %d, paths %v; want 0, [acc step]", bx.Malformed(), bx.Names())
	}
	if _, _, ok := ix.Series("nested.list"); ok {
		t.Error("an array's numbers were kept")
	}
}

// TestIndexReadsAppends: appended rows (a partial line completed later
// included) are read on refresh, giving what a fresh read gives; a log
// cut back and rewritten (a resumed run) is read again from the start.
func TestIndexReadsAppends(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "metrics.jsonl")
	writeLog(t, path, 4, 200)
	all, _ := os.ReadFile(path)
	lines := strings.SplitAfter(string(all), "\n")
	write := func(s string) { os.WriteFile(path, []byte(s), 0o644) }
	write(strings.Join(lines[:100], "") + lines[100][:40])
	ix := indexOf(t, path, "step", 0)
	if ix.Rows() != 100 || !ix.Partial() {
		t.Fatalf("%d rows, partial %v; want 100, true", ix.Rows(), ix.Partial())
	}
	write(strings.Join(lines, ""))
	ix.Refresh(func() (*os.File, error) { return os.Open(path) })
	if ix.Partial() || ix.Malformed() != 0 {
		t.Errorf("partial %v, malformed %d after the line was completed", ix.Partial(), ix.Malformed())
	}
	sameAsReference(t, ix, path)

	// Resume cut the log back to row 150 and wrote other rows after it.
	other := filepath.Join(t.TempDir(), "metrics.jsonl")
	writeLog(t, other, 5, 200)
	b, _ := os.ReadFile(other)
	write(strings.Join(lines[:150], "") + strings.Join(strings.SplitAfter(string(b), "\n")[150:], ""))
	ix.Refresh(func() (*os.File, error) { return os.Open(path) })
	sameAsReference(t, ix, path)
	// The same, to a log shorter than what was read.
	write(strings.Join(lines[:120], ""))
	ix.Refresh(func() (*os.File, error) { return os.Open(path) })
	sameAsReference(t, ix, path)
	if ix.Rows() != 120 {
		t.Errorf("%d rows after the cut, want 120", ix.Rows())
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
	if x, _, _ := ix.Series("acc"); !reflect.DeepEqual(x, []float64{1, 2, 3}) {
		t.Errorf("acc at %v", x)
	}
}

// TestIndexSeesARewriteWithinAClockTick: a log rewritten to the same size
// with the same modification time (within one tick of the file clock) is
// read again, not taken as unchanged.
func TestIndexSeesARewriteWithinAClockTick(t *testing.T) {
	path := filepath.Join(t.TempDir(), "m.jsonl")
	os.WriteFile(path, []byte(`{"step":1,"acc":0.5}`+"\n"+`{"step":2,"acc":0.6}`+"\n"), 0o644)
	st, _ := os.Stat(path)
	ix := indexOf(t, path, "step", 0)
	os.WriteFile(path, []byte(`{"step":1,"acc":0.5}`+"\n"+`{"step":2,"acc":0.7}`+"\n"), 0o644)
	os.Chtimes(path, st.ModTime(), st.ModTime())
	if err := ix.Refresh(func() (*os.File, error) { return os.Open(path) }); err != nil {
		t.Fatal(err)
	}
	if _, y, _ := ix.Series("acc"); !reflect.DeepEqual(y, []float64{0.5, 0.7}) {
		t.Errorf("acc %v after the rewrite, want [0.5 0.7]", y)
	}
}
