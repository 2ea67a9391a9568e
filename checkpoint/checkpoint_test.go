package checkpoint

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestRoundTripAndCorruption(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "c.safetensors")
	in := []Tensor{
		{Name: "fc1.weight", Shape: []int{2, 3}, Data: []float32{1, -2, 3.5, 4, 5, 6e-8}},
		{Name: "fc1.bias", Shape: []int{2}, Data: []float32{0.25, -0}},
	}
	if err := Write(path, in, map[string]string{"k": "v"}); err != nil {
		t.Fatal(err)
	}
	f, err := Read(path)
	if err != nil {
		t.Fatal(err)
	}
	if f.Meta["k"] != "v" || len(f.Tensors) != 2 {
		t.Fatalf("metadata or tensors lost: %+v", f)
	}
	for _, want := range in {
		got, ok := f.Get(want.Name)
		if !ok || len(got.Data) != len(want.Data) {
			t.Fatalf("%s missing", want.Name)
		}
		for i := range got.Data {
			if got.Data[i] != want.Data[i] {
				t.Fatalf("%s[%d] = %v want %v", want.Name, i, got.Data[i], want.Data[i])
			}
		}
	}
	raw, _ := os.ReadFile(path)
	for name, bad := range map[string][]byte{
		"truncated": raw[:len(raw)-3],
		"short":     raw[:5],
		"header":    append([]byte{0xff, 0xff, 0xff, 0xff, 0, 0, 0, 0}, raw[8:]...),
		"json":      append(append([]byte{}, raw[:8]...), []byte(strings.Repeat("x", len(raw)-8))...),
	} {
		p := filepath.Join(dir, name)
		os.WriteFile(p, bad, 0o644)
		_, err := Read(p)
		var ce *Error
		if !errors.As(err, &ce) || ce.Path != p || err.Error() != "checkpoint: "+p+": "+ce.Err.Error() || strings.Contains(ce.Err.Error(), p) {
			t.Errorf("%s: want an *Error naming the file once, got %#v", name, err)
		}
	}
	if _, err := Read(filepath.Join(dir, "absent")); err == nil || !strings.Contains(err.Error(), "no such file") {
		t.Errorf("missing file: %v", err)
	}
	if err := Write(path, []Tensor{{Name: "x", Shape: []int{3}, Data: []float32{1}}}, nil); err == nil {
		t.Error("shape/length mismatch accepted")
	}
}

func FuzzParse(f *testing.F) {
	dir := f.TempDir()
	path := filepath.Join(dir, "seed.safetensors")
	if err := Write(path, []Tensor{{Name: "a", Shape: []int{2}, Data: []float32{1, 2}}}, map[string]string{"m": "1"}); err != nil {
		f.Fatal(err)
	}
	seed, _ := os.ReadFile(path)
	f.Add(seed)
	f.Add([]byte{})
	f.Fuzz(func(t *testing.T, raw []byte) {
		file, err := Parse("fuzz", raw)
		if err != nil {
			return
		}
		for _, tn := range file.Tensors {
			n := 1
			for _, d := range tn.Shape {
				n *= d
			}
			if n != len(tn.Data) {
				t.Fatalf("tensor %s: shape %v but %d values", tn.Name, tn.Shape, len(tn.Data))
			}
		}
	})
}
