package data

import (
	"encoding/binary"
	"errors"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/lot-toolkit/lot/internal/npytest"
)

func f32Bytes(v []float32) []byte {
	b := make([]byte, 4*len(v))
	for i, x := range v {
		binary.LittleEndian.PutUint32(b[4*i:], math.Float32bits(x))
	}
	return b
}

func i64Bytes(v []int64) []byte {
	b := make([]byte, 8*len(v))
	for i, x := range v {
		binary.LittleEndian.PutUint64(b[8*i:], uint64(x))
	}
	return b
}

func i32Bytes(v []int32) []byte {
	b := make([]byte, 4*len(v))
	for i, x := range v {
		binary.LittleEndian.PutUint32(b[4*i:], uint32(x))
	}
	return b
}

func TestNpyHelperMatchesNumpy(t *testing.T) {
	// numpy.save("a.npy", numpy.arange(3, dtype="<i8")) writes exactly this.
	dict := "{'descr': '<i8', 'fortran_order': False, 'shape': (3,), }"
	want := "\x93NUMPY\x01\x00v\x00" + dict + strings.Repeat(" ", 0x76-1-len(dict)) + "\n"
	got := npytest.Bytes("<i8", false, []int{3}, nil)
	if string(got) != want {
		t.Fatalf("helper header\n%q\nwant\n%q", got, want)
	}
}

func TestReadNpyInputsShapes(t *testing.T) {
	const dim = 784
	x := make([]float32, 3*dim)
	for i := range x {
		x[i] = float32(i%97) - 48.5
	}
	dir := t.TempDir()
	for _, shape := range [][]int{{3, 784}, {3, 28, 28}, {3, 1, 28, 28}} {
		p := filepath.Join(dir, "x.npy")
		if err := os.WriteFile(p, npytest.Bytes("<f4", false, shape, f32Bytes(x)), 0o644); err != nil {
			t.Fatal(err)
		}
		got, n, err := ReadNpyInputs(p, dim)
		if err != nil {
			t.Fatalf("shape %v: %v", shape, err)
		}
		if n != 3 || len(got) != len(x) {
			t.Fatalf("shape %v: n=%d len=%d", shape, n, len(got))
		}
		for i := range x {
			if got[i] != x[i] {
				t.Fatalf("shape %v: value %d = %v want %v", shape, i, got[i], x[i])
			}
		}
	}
}

func TestReadNpyLabelsDtypes(t *testing.T) {
	dir := t.TempDir()
	want := []int32{0, 9, 3, 4}
	for _, c := range []struct {
		descr string
		data  []byte
	}{
		{"<i8", i64Bytes([]int64{0, 9, 3, 4})},
		{"<i4", i32Bytes(want)},
	} {
		p := filepath.Join(dir, "y.npy")
		os.WriteFile(p, npytest.Bytes(c.descr, false, []int{4}, c.data), 0o644)
		got, err := ReadNpyLabels(p, 4, 10)
		if err != nil {
			t.Fatalf("%s: %v", c.descr, err)
		}
		for i := range want {
			if got[i] != want[i] {
				t.Fatalf("%s: label %d = %d want %d", c.descr, i, got[i], want[i])
			}
		}
	}
}

// TestNpyErrors: every fault is one line naming the file and the fault.
func TestNpyErrors(t *testing.T) {
	x := f32Bytes(make([]float32, 2*4))
	good := npytest.Bytes("<f4", false, []int{2, 4}, x)
	hugeHeader := append([]byte("\x93NUMPY\x02\x00"), 0xff, 0xff, 0xff, 0x7f)
	hugeShape := npytest.Bytes("<f4", false, []int{1 << 20, 1 << 20, 1 << 20}, x)
	overflowShape := npytest.Bytes("<f4", false, []int{1 << 62, 1 << 62, 4}, x)
	nan := f32Bytes([]float32{0, 0, 0, 0, 0, float32(math.NaN()), 0, 0})
	for _, c := range []struct {
		name string
		raw  []byte
		want string
	}{
		{"dtype", npytest.Bytes("<f8", false, []int{2, 4}, append(x, x...)), "inputs have dtype <f8, want float32"},
		{"bigendian", npytest.Bytes(">f4", false, []int{2, 4}, x), "dtype >f4"},
		{"shape", npytest.Bytes("<f4", false, []int{4, 2}, x), "shape [4 2], want [N 4]"},
		{"rank1", npytest.Bytes("<f4", false, []int{8}, x), "shape [8], want [N 4]"},
		{"fortran", npytest.Bytes("<f4", true, []int{2, 4}, x), "Fortran order"},
		{"truncated", good[:len(good)-3], "truncated"},
		{"trailing", append(append([]byte{}, good...), 0), "trailing data: shape [2 4] needs 32 bytes of data, the file has 33"},
		{"header truncated", good[:40], "truncated"},
		{"magic", append([]byte("NOTNPY"), good[6:]...), "not a .npy file"},
		{"empty", nil, "not a .npy file"},
		{"huge header", hugeHeader, "malformed .npy header"},
		{"huge shape", hugeShape, "truncated"},
		{"overflow shape", overflowShape, "truncated"},
		{"negative", npytest.Bytes("<f4", false, []int{-2, 4}, x), "negative dimension"},
		{"no samples", npytest.Bytes("<f4", false, []int{0, 4}, nil), "no samples"},
		{"nan", npytest.Bytes("<f4", false, []int{2, 4}, nan), "input 1 of sample 1 is NaN"},
		{"version", append([]byte("\x93NUMPY\x03\x00"), good[8:]...), "version 3.0"},
		{"garbage header", append([]byte("\x93NUMPY\x01\x00\x09\x00"), "{'x': 1}\n"...), "malformed .npy header"},
		{"no newline", append([]byte("\x93NUMPY\x01\x00\x08\x00"), "{'x': 1}\n"...), "malformed .npy header"},
		{"shuffled keys", append([]byte("\x93NUMPY\x01\x00\x3c\x00"), "{'shape': (2, 4), 'fortran_order': False, 'descr': '<f4', }\n"...), "malformed .npy header"},
	} {
		_, _, err := parseNpyInputs("x.npy", c.raw, 4)
		checkErr(t, c.name, err, "data: x.npy: ", c.want)
	}
	labels := i64Bytes([]int64{1, 2, 3, 11})
	for _, c := range []struct {
		name string
		raw  []byte
		n    int
		want string
	}{
		{"dtype", npytest.Bytes("<f4", false, []int{4}, x[:16]), 4, "labels have dtype <f4, want int64 or int32"},
		{"uint8", npytest.Bytes("|u1", false, []int{4}, []byte{1, 2, 3, 4}), 4, "labels have dtype |u1"},
		{"count", npytest.Bytes("<i8", false, []int{4}, labels), 3, "4 labels but 3 inputs"},
		{"range", npytest.Bytes("<i8", false, []int{4}, labels), 4, "label 11 at index 3 is outside 0..9"},
		{"negative label", npytest.Bytes("<i4", false, []int{2}, i32Bytes([]int32{0, -1})), 2, "label -1 at index 1 is outside 0..9"},
		{"rank2", npytest.Bytes("<i8", false, []int{4, 1}, labels), 4, "shape [4 1], want [4]"},
		{"truncated", npytest.Bytes("<i8", false, []int{4}, labels[:30]), 4, "truncated"},
		{"trailing", npytest.Bytes("<i4", false, []int{4}, labels), 4, "trailing data"},
		{"fortran", npytest.Bytes("<i8", true, []int{4}, labels), 4, "Fortran order"},
	} {
		_, err := parseNpyLabels("y.npy", c.raw, c.n, 10)
		checkErr(t, "labels "+c.name, err, "data: y.npy: ", c.want)
	}
	// The decoder's own fault is kept as the cause, in its words.
	garbage := append([]byte("\x93NUMPY\x01\x00\x09\x00"), "{'x': 1}\n"...)
	if _, _, err := parseNpyInputs("x.npy", garbage, 4); err == nil || errors.Unwrap(err) == nil ||
		err.Error() != "data: x.npy: malformed .npy header ("+errors.Unwrap(err).Error()+")" {
		t.Errorf("garbage header: want the decoder's error wrapped, got %v", err)
	}
	if _, _, err := ReadNpyInputs(filepath.Join(t.TempDir(), "absent.npy"), 4); err == nil || !strings.Contains(err.Error(), "absent.npy: no such file") {
		t.Errorf("missing file: %v", err)
	}
}

func checkErr(t *testing.T, name string, err error, prefix, want string) {
	t.Helper()
	if err == nil {
		t.Errorf("%s: accepted", name)
		return
	}
	msg := err.Error()
	t.Logf("%s: %s", name, msg)
	if !strings.HasPrefix(msg, prefix) || !strings.Contains(msg, want) || strings.Contains(msg, "\n") {
		t.Errorf("%s: error %q, want one line starting %q containing %q", name, msg, prefix, want)
	}
}

func FuzzReadNpyInputs(f *testing.F) {
	f.Add(npytest.Bytes("<f4", false, []int{2, 4}, f32Bytes(make([]float32, 8))))
	f.Add(npytest.Bytes("<f4", false, []int{1, 2, 2}, f32Bytes([]float32{1, 2, 3, 4})))
	f.Add(npytest.Bytes("<i8", false, []int{2}, i64Bytes([]int64{1, 2})))
	f.Add([]byte{})
	f.Fuzz(func(t *testing.T, raw []byte) {
		x, n, err := parseNpyInputs("fuzz.npy", raw, 4)
		if err != nil {
			if !strings.HasPrefix(err.Error(), "data: fuzz.npy: ") || strings.Contains(err.Error(), "\n") {
				t.Fatalf("error not one line naming the file: %q", err)
			}
			return
		}
		if n < 1 || len(x) != 4*n || 4*len(x) > len(raw) {
			t.Fatalf("accepted %d rows, %d values from %d bytes", n, len(x), len(raw))
		}
	})
}

func FuzzReadNpyLabels(f *testing.F) {
	f.Add(npytest.Bytes("<i8", false, []int{3}, i64Bytes([]int64{0, 1, 2})))
	f.Add(npytest.Bytes("<i4", false, []int{3}, i32Bytes([]int32{0, 1, 2})))
	f.Add(npytest.Bytes("<f4", false, []int{3}, f32Bytes([]float32{0, 1, 2})))
	f.Add([]byte{})
	f.Fuzz(func(t *testing.T, raw []byte) {
		y, err := parseNpyLabels("fuzz.npy", raw, 3, 3)
		if err != nil {
			if !strings.HasPrefix(err.Error(), "data: fuzz.npy: ") || strings.Contains(err.Error(), "\n") {
				t.Fatalf("error not one line naming the file: %q", err)
			}
			return
		}
		if len(y) != 3 {
			t.Fatalf("accepted %d labels", len(y))
		}
		for _, l := range y {
			if l < 0 || l >= 3 {
				t.Fatalf("accepted label %d", l)
			}
		}
	})
}
