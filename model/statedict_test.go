package model

import (
	"errors"
	"math/rand/v2"
	"reflect"
	"strings"
	"testing"
)

func shapesOf(ts []Tensor) map[string][]int {
	s := make(map[string][]int, len(ts))
	for _, t := range ts {
		s[t.Name] = t.Shape
	}
	return s
}

func cloneTensors(ts []Tensor) []Tensor {
	out := make([]Tensor, len(ts))
	for i, t := range ts {
		out[i] = Tensor{Name: t.Name, Shape: append([]int(nil), t.Shape...), Data: append([]float32(nil), t.Data...)}
	}
	return out
}

// TestInferSpecAndLoadRoundTrip: the spec inferred from a model's own
// state_dict is the model's, and loading copies every value, running
// statistics included, into a fresh model.
func TestInferSpecAndLoadRoundTrip(t *testing.T) {
	for _, a := range []string{"relu", "crelu", "leaky_relu:0.2", "linear"} {
		for _, bn := range []bool{false, true} {
			for _, hidden := range [][]int{{5, 4}, {7}, nil} {
				act, _ := ParseActivation(a)
				spec := Spec{Input: 6, Hidden: hidden, Classes: 3, Activation: act, BatchNorm: bn && len(hidden) > 0}
				src, err := New(spec)
				if err != nil {
					t.Fatal(err)
				}
				src.Initialize(InitTorch, rand.New(rand.NewPCG(1, 2)))
				for _, b := range src.Buffers {
					for i := range b.Data {
						b.Data[i] = float32(i) + 0.5
					}
				}
				sd := cloneTensors(src.StateDict())
				got, err := InferSpec(shapesOf(sd), act)
				if err != nil {
					t.Fatalf("%s bn=%v %v: %v", a, bn, hidden, err)
				}
				if !reflect.DeepEqual(got, spec) {
					t.Fatalf("%s bn=%v %v: inferred %+v want %+v", a, bn, hidden, got, spec)
				}
				dst, _ := New(got)
				if err := dst.LoadStateDict(sd); err != nil {
					t.Fatal(err)
				}
				if !reflect.DeepEqual(dst.Params, src.Params) {
					t.Fatalf("%s: parameters not copied", a)
				}
				for i := range src.Buffers {
					if !reflect.DeepEqual(dst.Buffers[i].Data, src.Buffers[i].Data) {
						t.Fatalf("%s: buffer %s not copied", a, src.Buffers[i].Name)
					}
				}
			}
		}
	}
}

func TestInferSpecErrors(t *testing.T) {
	relu, _ := ParseActivation("relu")
	crelu, _ := ParseActivation("crelu")
	base := func() map[string][]int {
		return map[string][]int{
			"fc1.weight": {8, 6}, "fc1.bias": {8},
			"bn1.weight": {8}, "bn1.bias": {8}, "bn1.running_mean": {8}, "bn1.running_var": {8},
			"fc2.weight": {3, 8}, "fc2.bias": {3},
		}
	}
	for _, c := range []struct {
		name string
		edit func(map[string][]int)
		act  Activation
		want string
	}{
		{"crelu read as relu", func(s map[string][]int) { s["fc2.weight"] = []int{3, 16} }, relu,
			"fc2.weight has shape [3 16], but fc1 has 8 outputs, which relu feeds forward as 8 inputs; its input is twice fc1's width: is the activation crelu?"},
		{"relu read as crelu", func(s map[string][]int) {}, crelu,
			"fc2.weight has shape [3 8], but fc1 has 8 outputs, which crelu feeds forward as 16 inputs; its input equals fc1's width: the activation is not crelu"},
		{"bias without weight", func(s map[string][]int) { s["fc3.bias"] = []int{3} }, relu, "fc3.weight missing"},
		{"renumbered crelu read as relu", func(s map[string][]int) {
			s["fc7.weight"], s["fc7.bias"] = s["fc2.weight"], s["fc2.bias"]
			delete(s, "fc2.weight")
			delete(s, "fc2.bias")
			s["fc7.weight"] = []int{3, 16}
		}, relu, "fc7.weight has shape [3 16], but fc1 has 8 outputs, which relu feeds forward as 8 inputs; its input is twice fc1's width"},
		{"partial bn", func(s map[string][]int) { delete(s, "bn1.running_var") }, relu, "bn1.weight present but bn1.running_var missing"},
		{"no fc", func(s map[string][]int) {
			for _, k := range []string{"fc1.weight", "fc1.bias", "fc2.weight", "fc2.bias"} {
				delete(s, k)
			}
		}, relu, "no fc1.weight"},
		{"rank", func(s map[string][]int) { s["fc1.weight"] = []int{48} }, relu, "fc1.weight has shape [48], want [out in]"},
		{"one class", func(s map[string][]int) { s["fc2.weight"] = []int{1, 8} }, relu, "classes >= 2"},
	} {
		s := base()
		c.edit(s)
		_, err := InferSpec(s, c.act)
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: got %v, want %q", c.name, err, c.want)
		}
		checkModelError(t, c.name, err)
	}
}

// checkModelError: a fault is an *Error whose message is the package's
// name before its cause, which callers naming a file word alone.
func checkModelError(t *testing.T, name string, err error) {
	t.Helper()
	var me *Error
	if !errors.As(err, &me) || err.Error() != "model: "+me.Err.Error() || strings.HasPrefix(me.Err.Error(), "model") {
		t.Errorf("%s: want a *model.Error, got %#v", name, err)
	}
}

func TestLoadStateDictErrors(t *testing.T) {
	spec := Spec{Input: 4, Hidden: []int{3}, Classes: 2, BatchNorm: true}
	m, _ := New(spec)
	good := cloneTensors(m.StateDict())
	for _, c := range []struct {
		name string
		edit func([]Tensor) []Tensor
		want string
	}{
		{"unknown", func(ts []Tensor) []Tensor {
			return append(ts, Tensor{Name: "fc3.weight", Shape: []int{1}, Data: []float32{1}})
		}, "unknown tensor fc3.weight"},
		{"missing", func(ts []Tensor) []Tensor { return ts[1:] }, "tensor fc1.weight missing"},
		{"shape", func(ts []Tensor) []Tensor { ts[0].Shape = []int{4, 3}; return ts }, "tensor fc1.weight has shape [4 3], the model needs [3 4]"},
		{"values", func(ts []Tensor) []Tensor { ts[1].Data = ts[1].Data[:2]; return ts }, "tensor fc1.bias has shape [3] but 2 values"},
		{"twice", func(ts []Tensor) []Tensor { return append(ts, ts[0]) }, "tensor fc1.weight given twice"},
	} {
		before := append([]float32(nil), m.Params...)
		err := m.LoadStateDict(c.edit(cloneTensors(good)))
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: got %v, want %q", c.name, err, c.want)
		}
		checkModelError(t, c.name, err)
		if !reflect.DeepEqual(before, m.Params) {
			t.Errorf("%s: a failed load changed the model", c.name)
		}
	}
}

// TestAccessors: LinearOutput and BatchNormOutput are the tensors the
// forward pass computed, checked by hand for one unit.
func TestAccessors(t *testing.T) {
	spec := Spec{Input: 3, Hidden: []int{2}, Classes: 2, BatchNorm: true}
	m, x, y := randomProblem(t, spec, 4, 9)
	_ = y
	ws := m.NewWorkspace(8)
	m.Forward(ws, x, 4, true)
	w, b, _, _ := m.Linear(0)
	z := ws.LinearOutput(0)
	if len(z) != 4*2 {
		t.Fatalf("LinearOutput(0) has %d values", len(z))
	}
	for r := 0; r < 4; r++ {
		want := b[1] + w[3]*x[r*3] + w[4]*x[r*3+1] + w[5]*x[r*3+2]
		if d := z[r*2+1] - want; d > 1e-5 || d < -1e-5 {
			t.Fatalf("z[%d,1] = %v want %v", r, z[r*2+1], want)
		}
	}
	if got := ws.LinearOutput(1); len(got) != 8 || &got[0] != &ws.Logits()[0] {
		t.Fatal("LinearOutput(last) is not the logits")
	}
	if got := ws.BatchNormOutput(0); len(got) != 8 || &got[0] != &ws.PreActivation(0)[0] {
		t.Fatal("BatchNormOutput is not the nonlinearity's input")
	}
}

// TestInferLayoutAuthors: the authors' MLP names its linear layers fc1,
// fc2, fc4 (784-256-256-10; with CReLU fc2 and fc4 read 512 inputs). The
// spec comes from the shapes, the layout maps their names to lot's fc1,
// fc2, fc3 and back, and the state_dict loads under the mapped names.
func TestInferLayoutAuthors(t *testing.T) {
	for _, c := range []struct {
		act  string
		wide int
	}{{"relu", 256}, {"crelu", 512}} {
		act, _ := ParseActivation(c.act)
		shapes := map[string][]int{
			"fc1.weight": {256, 784}, "fc1.bias": {256},
			"fc2.weight": {256, c.wide}, "fc2.bias": {256},
			"fc4.weight": {10, c.wide}, "fc4.bias": {10},
		}
		spec, lay, err := InferLayout(shapes, act)
		if err != nil {
			t.Fatalf("%s: %v", c.act, err)
		}
		want := Spec{Input: 784, Hidden: []int{256, 256}, Classes: 10, Activation: act}
		if !reflect.DeepEqual(spec, want) || !reflect.DeepEqual(lay.FC, []string{"fc1", "fc2", "fc4"}) {
			t.Fatalf("%s: %+v %v", c.act, spec, lay.FC)
		}
		for from, to := range map[string]string{"fc4.weight": "fc3.weight", "fc4.bias": "fc3.bias", "fc2.bias": "fc2.bias", "bn1.weight": "bn1.weight"} {
			if got := lay.ToLot(from); got != to {
				t.Errorf("ToLot(%s) = %s, want %s", from, got, to)
			}
		}
		for from, to := range map[string]string{"fc3": "fc4", "fc1": "fc1", "fc9": "fc9", "bn2": "bn2"} {
			if got := lay.Name(from); got != to {
				t.Errorf("Name(%s) = %s, want %s", from, got, to)
			}
		}
		m, _ := New(spec)
		var sd []Tensor
		for name, shape := range shapes {
			n := shape[0]
			if len(shape) == 2 {
				n *= shape[1]
			}
			data := make([]float32, n)
			data[n-1] = float32(len(name)) // tells the tensors apart
			sd = append(sd, Tensor{Name: lay.ToLot(name), Shape: shape, Data: data})
		}
		if err := m.LoadStateDict(sd); err != nil {
			t.Fatalf("%s: %v", c.act, err)
		}
		if w, b, _, _ := m.Linear(2); w[len(w)-1] != float32(len("fc4.weight")) || b[len(b)-1] != float32(len("fc4.bias")) {
			t.Fatalf("%s: fc4 did not load into lot's fc3", c.act)
		}
	}
	// Non-canonical numbers are not layers (fc01 would alias fc1).
	relu, _ := ParseActivation("relu")
	if _, lay, err := InferLayout(map[string][]int{"fc1.weight": {3, 4}, "fc1.bias": {3}, "fc01.weight": {2, 3}}, relu); err != nil || len(lay.FC) != 1 {
		t.Fatalf("fc01: %v %v", lay.FC, err)
	}
}
