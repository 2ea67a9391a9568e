package model

import (
	"github.com/lot-toolkit/lot/internal/finitediff"
	"math"
	"math/rand/v2"
	"testing"
)

// refLoss is an independent float64 implementation of the mean cross-entropy
// in training mode (batch statistics for BatchNorm), with naive loops and no
// BLAS. params is laid out as MLP.Params.
func refLoss(spec Spec, params []float64, x []float64, y []int32, rows int) float64 {
	off := 0
	next := func(n int) []float64 { v := params[off : off+n]; off += n; return v }
	h, width := x, spec.Input
	act := func(v float64) []float64 {
		switch spec.Activation.Kind {
		case ReLU:
			return []float64{math.Max(v, 0)}
		case CReLU:
			return []float64{math.Max(v, 0), math.Max(-v, 0)}
		case LeakyReLU:
			if v < 0 {
				return []float64{v * float64(spec.Activation.Slope)}
			}
			return []float64{v}
		}
		return []float64{v}
	}
	dense := func(in []float64, nin, nout int) []float64 {
		w, b := next(nout*nin), next(nout)
		z := make([]float64, rows*nout)
		for r := 0; r < rows; r++ {
			for o := 0; o < nout; o++ {
				s := b[o]
				for k := 0; k < nin; k++ {
					s += w[o*nin+k] * in[r*nin+k]
				}
				z[r*nout+o] = s
			}
		}
		return z
	}
	for _, hid := range spec.Hidden {
		z := dense(h, width, hid)
		if spec.BatchNorm {
			g, be := next(hid), next(hid)
			for j := 0; j < hid; j++ {
				var mean, v float64
				for r := 0; r < rows; r++ {
					mean += z[r*hid+j]
				}
				mean /= float64(rows)
				for r := 0; r < rows; r++ {
					v += (z[r*hid+j] - mean) * (z[r*hid+j] - mean)
				}
				v /= float64(rows)
				for r := 0; r < rows; r++ {
					z[r*hid+j] = (z[r*hid+j]-mean)/math.Sqrt(v+bnEps)*g[j] + be[j]
				}
			}
		}
		f := spec.Activation.widthFactor()
		nh := make([]float64, rows*hid*f)
		for r := 0; r < rows; r++ {
			for j := 0; j < hid; j++ {
				a := act(z[r*hid+j])
				nh[r*hid*f+j] = a[0]
				if f == 2 {
					nh[r*hid*f+hid+j] = a[1]
				}
			}
		}
		h, width = nh, hid*f
	}
	lg := dense(h, width, spec.Classes)
	var loss float64
	for r := 0; r < rows; r++ {
		row := lg[r*spec.Classes : (r+1)*spec.Classes]
		mx := row[0]
		for _, v := range row {
			mx = math.Max(mx, v)
		}
		var s float64
		for _, v := range row {
			s += math.Exp(v - mx)
		}
		loss += math.Log(s) + mx - row[y[r]]
	}
	return loss / float64(rows)
}

func randomProblem(t *testing.T, spec Spec, rows int, seed uint64) (*MLP, []float32, []int32) {
	t.Helper()
	m, err := New(spec)
	if err != nil {
		t.Fatal(err)
	}
	rng := rand.New(rand.NewPCG(seed, 7))
	if err := m.Initialize(InitTorch, rng); err != nil {
		t.Fatal(err)
	}
	// Move BatchNorm's affine parameters off their trivial initial values so
	// that their gradients are exercised.
	for _, tn := range m.Tensors {
		if tn.Name[:2] == "bn" {
			for i := range tn.Data {
				tn.Data[i] += float32(0.3 * rng.NormFloat64())
			}
		}
	}
	x := make([]float32, rows*spec.Input)
	for i := range x {
		x[i] = float32(rng.NormFloat64())
	}
	y := make([]int32, rows)
	for i := range y {
		y[i] = int32(rng.IntN(spec.Classes))
	}
	return m, x, y
}

func toFloat64(v []float32) []float64 {
	out := make([]float64, len(v))
	for i, x := range v {
		out[i] = float64(x)
	}
	return out
}

// TestGradientAgainstFloat64CentralDifferences checks Backward for every
// activation, with and without BatchNorm, against central differences of the
// independent float64 loss.
func TestGradientAgainstFloat64CentralDifferences(t *testing.T) {
	acts := []string{"relu", "crelu", "leaky_relu:0.3", "linear"}
	for _, a := range acts {
		for _, bn := range []bool{false, true} {
			act, _ := ParseActivation(a)
			spec := Spec{Input: 6, Hidden: []int{5, 4}, Classes: 3, Activation: act, BatchNorm: bn}
			const rows = 9
			m, x, y := randomProblem(t, spec, rows, 3)
			ws := m.NewWorkspace(rows)
			m.Forward(ws, x, rows, true)
			loss, _ := m.CrossEntropy(ws, y)
			grad := make([]float32, len(m.Params))
			m.Backward(ws, grad)

			p64, x64 := toFloat64(m.Params), toFloat64(x)
			if ref := refLoss(spec, p64, x64, y, rows); math.Abs(ref-loss) > 1e-5*(1+math.Abs(ref)) {
				t.Fatalf("%s bn=%v: loss %v, float64 reference %v", a, bn, loss, ref)
			}
			fds := finitediff.Gradient(func(q []float64) float64 { return refLoss(spec, q, x64, y, rows) }, p64, 1e-6)
			var maxErr float64
			for i, fd := range fds {
				err := math.Abs(fd-float64(grad[i])) / (1e-3 + math.Abs(fd))
				maxErr = math.Max(maxErr, err)
				if err > 2e-4 {
					t.Errorf("%s bn=%v: param %d: backward %.7g, central difference %.7g", a, bn, i, grad[i], fd)
				}
			}
			t.Logf("%s bn=%v: max relative gradient error %.2g", a, bn, maxErr)
		}
	}
}
