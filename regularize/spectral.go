package regularize

import (
	"fmt"
	"math"

	"github.com/lot-toolkit/lot/model"
)

// Spectral is λ·Σ_W (σ1(W)^k − 1)² over every linear layer's weight
// matrix W (biases and BatchNorm excluded), σ1 the top singular value
// (Lewandowski et al., 2024; the authors' public code uses k = 2 and
// λ = 1e-4). σ1 comes from power iteration on WᵀW warm-started at the
// last step's right singular vector (Iters products per step; the first
// start is the all-ones vector), so the value and gradient are those at
// the iterate: with v the unit iterate, σ = ‖Wv‖, u = Wv/σ, the gradient
// is λ·2(σ^k − 1)·kσ^(k−1)·u vᵀ, exact at a converged v.
//
// Its Hessian is not c·I, so HessianScale is 0 and the diagnostics add it
// through SpectralHessian instead.
type Spectral struct {
	Strength float64 // λ
	K        float64 // k
	Iters    int     // power iterations per step
	layers   []specLayer
	v        []float32 // the right singular vectors, concatenated (checkpointed)
	wv       []float64 // scratch: W·v
	x        []float64 // scratch: v in float64
}

type specLayer struct {
	off, rows, cols int // W at params[off:], rows×cols row-major
	vOff            int // its vector at v[vOff:vOff+cols]
}

// linearWeights lists m's linear layers' weight matrices, the only
// matrices among its tensors, with each one's place in the concatenated
// warm-start vectors.
func linearWeights(m *model.MLP) []specLayer {
	var ls []specLayer
	vOff := 0
	for _, t := range m.Tensors {
		if len(t.Shape) == 2 {
			ls = append(ls, specLayer{off: t.Offset, rows: t.Shape[0], cols: t.Shape[1], vOff: vOff})
			vOff += t.Shape[1]
		}
	}
	return ls
}

// NewSpectral builds the spectral regulariser over m's linear layers.
func NewSpectral(strength, k float64, iters int, m *model.MLP) (*Spectral, error) {
	if !(k > 0) || math.IsInf(k, 0) || iters < 1 {
		return nil, fmt.Errorf("spectral: need k > 0 and at least one power iteration, got k %v and %d iterations", k, iters)
	}
	s := &Spectral{Strength: strength, K: k, Iters: iters, layers: linearWeights(m)}
	maxR, maxC := 0, 0
	for _, L := range s.layers {
		for range L.cols {
			s.v = append(s.v, float32(1/math.Sqrt(float64(L.cols))))
		}
		maxR, maxC = max(maxR, L.rows), max(maxC, L.cols)
	}
	s.wv, s.x = make([]float64, maxR), make([]float64, maxC)
	return s, nil
}

func (s *Spectral) Name() string          { return "spectral" }
func (s *Spectral) HessianScale() float64 { return 0 }

// State returns the warm-start vectors; Restore puts them back.
func (s *Spectral) State() map[string][]float32 { return map[string][]float32{"spectral.v": s.v} }

func (s *Spectral) Restore(vecs map[string][]float32) error {
	v, ok := vecs["spectral.v"]
	if !ok || len(v) != len(s.v) {
		return fmt.Errorf("spectral: saved vectors missing or of the wrong length")
	}
	copy(s.v, v)
	return nil
}

// Sigma runs the power iterations on layer l's W and returns σ = ‖Wv‖ at
// the final unit iterate v, with u = Wv/σ in s.wv and v in s.x.
func (s *Spectral) sigma(params []float32, L specLayer) float64 {
	w := params[L.off : L.off+L.rows*L.cols]
	x, wv := s.x[:L.cols], s.wv[:L.rows]
	for c := range x {
		x[c] = float64(s.v[L.vOff+c])
	}
	mulW := func() float64 { // wv = W x; returns ‖wv‖
		var n2 float64
		for r := range L.rows {
			var d float64
			for c, wc := range w[r*L.cols : (r+1)*L.cols] {
				d += float64(wc) * x[c]
			}
			wv[r] = d
			n2 += d * d
		}
		return math.Sqrt(n2)
	}
	for range s.Iters {
		mulW()
		clear(x)
		for r := range L.rows { // x = Wᵀ wv
			for c, wc := range w[r*L.cols : (r+1)*L.cols] {
				x[c] += float64(wc) * wv[r]
			}
		}
		var n2 float64
		for _, xc := range x {
			n2 += xc * xc
		}
		n := math.Sqrt(n2) + 1e-30
		for c := range x {
			x[c] /= n
			s.v[L.vOff+c] = float32(x[c])
		}
		for c := range x { // continue from the stored (rounded) vector, as a resumed run does
			x[c] = float64(s.v[L.vOff+c])
		}
	}
	sigma := mulW()
	if sigma > 0 {
		for r := range wv {
			wv[r] /= sigma
		}
	}
	return sigma
}

func (s *Spectral) AddGrad(params, grad []float32) float64 {
	var sum float64
	for _, L := range s.layers {
		sigma := s.sigma(params, L)
		d := math.Pow(sigma, s.K) - 1
		sum += d * d
		c := s.Strength * 2 * d * s.K * math.Pow(sigma, s.K-1)
		g := grad[L.off : L.off+L.rows*L.cols]
		for r := range L.rows {
			cu := c * s.wv[r]
			for col := range L.cols {
				g[r*L.cols+col] += float32(cu * s.x[col])
			}
		}
	}
	return s.Strength * sum
}
