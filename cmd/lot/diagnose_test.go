package main

import (
	"bytes"
	le "encoding/binary"
	"encoding/json"
	"math"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"

	"github.com/lot-toolkit/lot/checkpoint"
	"github.com/lot-toolkit/lot/diagnostics"
	"github.com/lot-toolkit/lot/internal/npytest"
)

const torchDir = "../../testdata/torch/diagnose"

// writeNpy writes an array as numpy.save does.
func writeNpy(t *testing.T, path, descr string, shape []int, payload []byte) {
	t.Helper()
	if err := os.WriteFile(path, npytest.Bytes(descr, false, shape, payload), 0o644); err != nil {
		t.Fatal(err)
	}
}

func randomInputs(rows int, seed uint64) []byte {
	rng := rand.New(rand.NewPCG(seed, 1))
	b := make([]byte, 0, 4*rows*784)
	for i := 0; i < rows*784; i++ {
		b = le.LittleEndian.AppendUint32(b, math.Float32bits(float32(rng.NormFloat64())))
	}
	return b
}

func int64s(v ...int64) []byte {
	var b []byte
	for _, x := range v {
		b = le.LittleEndian.AppendUint64(b, uint64(x))
	}
	return b
}

// runLot runs the binary and returns stdout, stderr and whether it exited 0.
func runLot(args ...string) (string, string, bool) {
	cmd := exec.Command(binary, args...)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	return stdout.String(), stderr.String(), err == nil
}

// reportKeys lists the keys of a JSON object in order, recursing into the
// objects of the "layers" array.
func reportKeys(t *testing.T, raw string) (top []string, layers [][]string) {
	t.Helper()
	dec := json.NewDecoder(strings.NewReader(raw))
	var walk func(depth int) []string
	walk = func(depth int) []string {
		var keys []string
		tok, err := dec.Token()
		if err != nil || tok != json.Delim('{') {
			t.Fatalf("not an object: %v %v", tok, err)
		}
		for dec.More() {
			k, _ := dec.Token()
			keys = append(keys, k.(string))
			if k == "layers" {
				dec.Token() // [
				for dec.More() {
					layers = append(layers, walk(depth+1))
				}
				dec.Token() // ]
				continue
			}
			var v json.RawMessage
			if err := dec.Decode(&v); err != nil {
				t.Fatal(err)
			}
		}
		dec.Token() // }
		return keys
	}
	return walk(0), layers
}

// torchExpected is testdata/torch/diagnose*/expected.json: PyTorch's values
// in the report's own shape; inputs and labels are relative to its folder.
type torchExpected struct {
	Inputs string `json:"inputs"`
	Labels string `json:"labels"`
	Cases  map[string]struct {
		Checkpoint string             `json:"checkpoint"`
		Activation string             `json:"activation"`
		BatchNorm  bool               `json:"batchnorm"`
		Expected   diagnostics.Report `json:"expected"`
	} `json:"cases"`
}

// TestDiagnoseMatchesPyTorch runs `lot diagnose --json` on PyTorch-trained
// models (scripts/torch_diagnose_fixture.py: state_dicts with BatchNorm's
// I64 counter, numpy-written inputs and labels) and compares every field
// with PyTorch's float64 autograd values.
func TestDiagnoseMatchesPyTorch(t *testing.T) {
	matchPyTorch(t, torchDir, []string{"crelu", "relu_bn"})
}

// TestDiagnoseAuthorsLayout: the same on the authors' layout
// (scripts/torch_authors_fixture.py: two hidden layers named fc1, fc2 and
// fc4, ReLU and CReLU, the hidden widths and CReLU's doubled inputs read
// from the shapes); the layers are reported under the checkpoint's names.
func TestDiagnoseAuthorsLayout(t *testing.T) {
	dir := "../../testdata/torch/diagnose-authors"
	matchPyTorch(t, dir, []string{"crelu", "relu"})
	x, y := filepath.Join(torchDir, "x.npy"), filepath.Join(torchDir, "y.npy")
	stdout, stderr, ok := runLot("diagnose", "--checkpoint", filepath.Join(dir, "crelu.safetensors"), "--inputs", x, "--labels", y, "--activation", "crelu", "--json")
	var rep diagnostics.Report
	if !ok || json.Unmarshal([]byte(stdout), &rep) != nil {
		t.Fatalf("crelu: %s", stderr)
	}
	var names []string
	for _, l := range rep.Layers {
		names = append(names, l.Name)
	}
	if !reflect.DeepEqual(names, []string{"fc1", "fc2", "fc4"}) {
		t.Fatalf("layers %v, want the checkpoint's fc1 fc2 fc4", names)
	}
	// Read as ReLU, the CReLU checkpoint's doubled widths are named.
	_, stderr, ok = runLot("diagnose", "--checkpoint", filepath.Join(dir, "crelu.safetensors"), "--inputs", x, "--labels", y, "--activation", "relu")
	if ok || !strings.Contains(stderr, "crelu.safetensors: fc2.weight has shape [16 32], but fc1 has 16 outputs") || !strings.Contains(stderr, "is the activation crelu?") {
		t.Fatalf("crelu read as relu: ok=%v %s", ok, stderr)
	}
}

// matchPyTorch runs `lot diagnose --json` on every case of dir's
// expected.json (which must be exactly cases) and compares every field with
// PyTorch's float64 autograd values.
func matchPyTorch(t *testing.T, dir string, cases []string) {
	t.Helper()
	raw, err := os.ReadFile(filepath.Join(dir, "expected.json"))
	if err != nil {
		t.Fatal(err)
	}
	var exp torchExpected
	if err := json.Unmarshal(raw, &exp); err != nil {
		t.Fatal(err)
	}
	var have []string
	for name := range exp.Cases {
		have = append(have, name)
	}
	if slices.Sort(have); !slices.Equal(have, cases) {
		t.Fatalf("cases %v in %s/expected.json, want %v", have, dir, cases)
	}
	x, y := filepath.Join(dir, exp.Inputs), filepath.Join(dir, exp.Labels)
	worst := map[string]float64{}
	for name, c := range exp.Cases {
		args := []string{"diagnose", "--checkpoint", filepath.Join(dir, c.Checkpoint), "--inputs", x, "--labels", y, "--activation", c.Activation, "--json"}
		stdout, stderr, ok := runLot(args...)
		if !ok || stderr != "" {
			t.Fatalf("%s: failed: %s", name, stderr)
		}
		if strings.Count(stdout, "\n") != 1 {
			t.Fatalf("%s: want one line of JSON, got %q", name, stdout)
		}
		top, layers := reportKeys(t, stdout)
		if want := []string{"loss", "grad_norm_sq", "grad_noise", "sharpness", "fisher_rank", "layers"}; !reflect.DeepEqual(top, want) {
			t.Fatalf("%s: keys %v, want %v", name, top, want)
		}
		for _, l := range layers {
			if want := []string{"name", "grad_norm_sq", "grad_noise", "sharpness", "use", "weight_norm"}; !reflect.DeepEqual(l, want) {
				t.Fatalf("%s: layer keys %v, want %v", name, l, want)
			}
		}
		var got diagnostics.Report
		if err := json.Unmarshal([]byte(stdout), &got); err != nil {
			t.Fatal(err)
		}
		e := c.Expected
		cmp := func(field string, gn, wn diagnostics.Num, tol float64) {
			t.Helper()
			g, w := float64(gn), float64(wn)
			d := math.Abs(g-w) / math.Abs(w)
			if w == 0 {
				d = math.Abs(g)
			}
			worst[field] = math.Max(worst[field], d)
			if !(d <= tol) {
				t.Errorf("%s %s: lot %.9g, PyTorch %.9g (rel. diff %.1e > %.0e)", name, field, g, w, d, tol)
			}
		}
		cmp("loss", got.Loss, e.Loss, 1e-5)
		cmp("grad_norm_sq", got.GradNormSq, e.GradNormSq, 1e-4)
		cmp("grad_noise", got.GradNoise, e.GradNoise, 1e-4)
		cmp("sharpness", got.Sharpness, e.Sharpness, 1e-4)
		cmp("fisher_rank", got.FisherRank, e.FisherRank, 0)
		if len(got.Layers) != len(e.Layers) {
			t.Fatalf("%s: %d layers, PyTorch %d", name, len(got.Layers), len(e.Layers))
		}
		for i, l := range got.Layers {
			el := e.Layers[i]
			if l.Name != el.Name {
				t.Fatalf("%s: layer %d is %s, PyTorch %s", name, i, l.Name, el.Name)
			}
			cmp("layer grad_norm_sq", l.GradNormSq, el.GradNormSq, 1e-4)
			cmp("layer grad_noise", l.GradNoise, el.GradNoise, 1e-4)
			cmp("layer sharpness", l.Sharpness, el.Sharpness, 1e-4)
			cmp("layer use", l.Use, el.Use, 1e-9)
			cmp("layer weight_norm", l.WeightNorm, el.WeightNorm, 1e-6)
		}

		// Without BatchNorm, --bn-mode eval is the same function; with it,
		// eval mode is refused rather than answered wrongly.
		evalOut, evalErr, ok := runLot(append(args, "--bn-mode", "eval")...)
		if c.BatchNorm {
			if ok || !strings.HasPrefix(evalErr, "lot: --bn-mode eval: ") || strings.Count(evalErr, "\n") != 1 {
				t.Errorf("%s: --bn-mode eval: ok=%v stderr %q", name, ok, evalErr)
			}
		} else if !ok || evalOut != stdout {
			t.Errorf("%s: --bn-mode eval differs without BatchNorm:\n%s\n%s%s", name, stdout, evalOut, evalErr)
		}
		// The table names every layer.
		table, _, ok := runLot(args[:len(args)-1]...)
		if !ok || !strings.Contains(table, "fc2") || !strings.Contains(table, "loss") {
			t.Errorf("%s: table output:\n%s", name, table)
		}
	}
	t.Logf("max relative difference from PyTorch per field: %v", worst)
}

// TestDiagnoseBadInputs: each fault exits non-zero with one stderr line
// starting "lot: " that names the file or flag and the fault.
func TestDiagnoseBadInputs(t *testing.T) {
	dir := t.TempDir()
	bnCkpt := filepath.Join(torchDir, "relu_bn.safetensors")
	creluCkpt := filepath.Join(torchDir, "crelu.safetensors")
	x, y := filepath.Join(torchDir, "x.npy"), filepath.Join(torchDir, "y.npy")
	path := func(name string) string { return filepath.Join(dir, name) }

	x64 := make([]byte, 2*4*60*784)
	writeNpy(t, path("x64.npy"), "<f8", []int{60, 784}, x64)
	writeNpy(t, path("x783.npy"), "<f4", []int{60, 783}, make([]byte, 4*60*783))
	writeNpy(t, path("x28.npy"), "<f4", []int{60, 28, 28}, randomInputs(60, 3))
	labels := make([]int64, 60)
	labels[7] = 10
	writeNpy(t, path("y10.npy"), "<i8", []int{60}, int64s(labels...))
	writeNpy(t, path("y59.npy"), "<i8", []int{59}, int64s(labels[:59]...))
	writeNpy(t, path("yf.npy"), "<f4", []int{60}, make([]byte, 4*60))

	ck, err := checkpoint.Read(creluCkpt)
	if err != nil {
		t.Fatal(err)
	}
	extra := append(ck.Tensors, checkpoint.Tensor{Name: "head.weight", Shape: []int{2}, Data: []float32{1, 2}})
	if err := checkpoint.Write(path("extra.safetensors"), extra, map[string]string{"format": "pt"}); err != nil {
		t.Fatal(err)
	}
	rawBN, _ := os.ReadFile(bnCkpt)
	os.WriteFile(path("cut.safetensors"), rawBN[:len(rawBN)-100], 0o644)

	diag := func(ckpt, inputs, labels string, more ...string) []string {
		return append([]string{"diagnose", "--checkpoint", ckpt, "--inputs", inputs, "--labels", labels}, more...)
	}
	for _, c := range []struct {
		name string
		args []string
		want []string
	}{
		{"input dtype", diag(bnCkpt, path("x64.npy"), y, "--activation", "relu"), []string{"x64.npy", "dtype <f8"}},
		{"input shape", diag(bnCkpt, path("x783.npy"), y, "--activation", "relu"), []string{"x783.npy", "shape [60 783]", "want [N 784]"}},
		{"label dtype", diag(bnCkpt, x, path("yf.npy"), "--activation", "relu"), []string{"yf.npy", "dtype <f4"}},
		{"label range", diag(bnCkpt, x, path("y10.npy"), "--activation", "relu"), []string{"y10.npy", "label 10 at index 7 is outside 0..9"}},
		{"label count", diag(bnCkpt, x, path("y59.npy"), "--activation", "relu"), []string{"y59.npy", "59 labels but 60 inputs"}},
		{"unknown tensor", diag(path("extra.safetensors"), x, y, "--activation", "crelu"), []string{"extra.safetensors", "unknown tensor head.weight"}},
		{"truncated checkpoint", diag(path("cut.safetensors"), x, y, "--activation", "relu"), []string{"cut.safetensors", "not a valid safetensors file"}},
		{"no activation", diag(bnCkpt, x, y), []string{"--activation", "relu_bn.safetensors", "does not record its activation"}},
		{"wrong activation", diag(creluCkpt, x, y, "--activation", "relu"), []string{"crelu.safetensors", "fc2.weight has shape [10 64]", "crelu"}},
		{"bad activation", diag(creluCkpt, x, y, "--activation", "swish"), []string{"--activation", "swish"}},
		{"absent checkpoint", diag(path("absent.safetensors"), x, y, "--activation", "relu"), []string{"absent.safetensors", "no such file"}},
		{"absent inputs", diag(bnCkpt, path("absent.npy"), y, "--activation", "relu"), []string{"absent.npy", "no such file"}},
		{"eval with BatchNorm", diag(bnCkpt, x, y, "--activation", "relu", "--bn-mode", "eval"), []string{"--bn-mode eval", "BatchNorm"}},
		{"bad bn mode", diag(bnCkpt, x, y, "--activation", "relu", "--bn-mode", "test"), []string{"--bn-mode", "test"}},
		{"threads", diag(bnCkpt, x, y, "--activation", "relu", "--threads", "0"), []string{"--threads"}},
		{"no checkpoint", []string{"diagnose", "--inputs", x, "--labels", y}, []string{"--checkpoint", "required"}},
		{"no inputs", []string{"diagnose", "--checkpoint", bnCkpt, "--labels", y}, []string{"--inputs", "required"}},
		{"no labels", []string{"diagnose", "--checkpoint", bnCkpt, "--inputs", x}, []string{"--labels", "required"}},
	} {
		_, stderr, ok := runLot(c.args...)
		msg := strings.TrimSuffix(stderr, "\n")
		t.Logf("%s: %s", c.name, msg)
		if ok {
			t.Errorf("%s: exited 0", c.name)
			continue
		}
		if strings.Contains(msg, "\n") || !strings.HasPrefix(msg, "lot: ") {
			t.Errorf("%s: want one line starting with 'lot: ', got:\n%s", c.name, stderr)
		}
		for _, w := range c.want {
			if !strings.Contains(msg, w) {
				t.Errorf("%s: message %q does not mention %q", c.name, msg, w)
			}
		}
	}
	// [N, 28, 28] inputs are accepted.
	if _, stderr, ok := runLot(diag(bnCkpt, path("x28.npy"), y, "--activation", "relu", "--json")...); !ok {
		t.Errorf("[N 28 28] inputs: %s", stderr)
	}
}

// TestDiagnoseLotRunCheckpoint: a checkpoint of `lot run` is diagnosed
// without --activation (its spec is in the metadata), its optimiser, anchor
// and diagnostics tensors ignored; a contradicting --activation is refused.
func TestDiagnoseLotRunCheckpoint(t *testing.T) {
	dir := t.TempDir()
	x, y := filepath.Join(dir, "x.npy"), filepath.Join(dir, "y.npy")
	writeNpy(t, x, "<f4", []int{20, 784}, randomInputs(20, 5))
	labels := make([]int64, 20)
	for i := range labels {
		labels[i] = int64(i % 10)
	}
	writeNpy(t, y, "<i8", []int{20}, int64s(labels...))
	for _, c := range []struct {
		name   string
		extra  []string
		layers []string
		act    string
	}{
		{"plain", nil, []string{"fc1", "fc2"}, "relu"},
		{"bn-crelu-l2init-full", []string{"--batchnorm", "--activation", "crelu", "--reg", "l2init", "--diagnostics", "full", "--log-every", "2"},
			[]string{"fc1", "bn1", "fc2"}, "crelu"},
	} {
		out := filepath.Join(dir, c.name)
		args := append([]string{"run", "--samples", "300", "--tasks", "1", "--epochs", "1", "--batch", "50", "--hidden", "16", "--out", out}, c.extra...)
		if o, err := exec.Command(binary, args...).CombinedOutput(); err != nil {
			t.Fatalf("%s: lot run: %v\n%s", c.name, err, o)
		}
		ckpt := filepath.Join(out, "checkpoint.safetensors")
		stdout, stderr, ok := runLot("diagnose", "--checkpoint", ckpt, "--inputs", x, "--labels", y, "--json")
		if !ok {
			t.Fatalf("%s: diagnose: %s", c.name, stderr)
		}
		var got diagnostics.Report
		if err := json.Unmarshal([]byte(stdout), &got); err != nil {
			t.Fatalf("%s: %v\n%s", c.name, err, stdout)
		}
		var names []string
		for _, l := range got.Layers {
			names = append(names, l.Name)
		}
		if !reflect.DeepEqual(names, c.layers) {
			t.Fatalf("%s: layers %v, want %v", c.name, names, c.layers)
		}
		// Weight norms straight from the checkpoint's tensors: the model
		// loaded is the one saved.
		f, err := checkpoint.Read(ckpt)
		if err != nil {
			t.Fatal(err)
		}
		for _, l := range got.Layers {
			var s float64
			for _, suffix := range []string{".weight", ".bias"} {
				tn, ok := f.Get(l.Name + suffix)
				if !ok {
					t.Fatalf("%s: %s%s not in the checkpoint", c.name, l.Name, suffix)
				}
				for _, v := range tn.Data {
					s += float64(v) * float64(v)
				}
			}
			if math.Abs(float64(l.WeightNorm)-math.Sqrt(s)) > 1e-9*math.Sqrt(s) {
				t.Errorf("%s: %s weight_norm %v, checkpoint %v", c.name, l.Name, l.WeightNorm, math.Sqrt(s))
			}
		}
		for _, n := range []diagnostics.Num{got.Loss, got.GradNormSq, got.GradNoise, got.Sharpness, got.FisherRank} {
			if v := float64(n); math.IsNaN(v) || math.IsInf(v, 0) || v <= 0 {
				t.Fatalf("%s: implausible report %s", c.name, stdout)
			}
		}
		if _, stderr, ok := runLot("diagnose", "--checkpoint", ckpt, "--inputs", x, "--labels", y, "--activation", c.act); !ok {
			t.Errorf("%s: the matching --activation refused: %s", c.name, stderr)
		}
		_, stderr, ok = runLot("diagnose", "--checkpoint", ckpt, "--inputs", x, "--labels", y, "--activation", "linear")
		if ok || !strings.HasPrefix(stderr, "lot: --activation linear: ") || !strings.Contains(stderr, "was trained with "+c.act) {
			t.Errorf("%s: contradicting --activation: ok=%v %q", c.name, ok, stderr)
		}
	}
}
