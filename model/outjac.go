package model

import (
	"errors"

	"github.com/lot-toolkit/lot/linalg"
)

// OutputJacobian holds, for every row b of an HVP's pass, the Jacobian J_b
// of the row's logits with respect to linear layer i's output (classes×out),
// and applies the output Hessian of ApplyOutputHessian through it:
//
//	(M·r)_b = J_bᵀ S_b J_b r_b,  S_b = (diag(p_b) − p_b p_bᵀ)/B,
//
// S_b the softmax cross-entropy's Hessian of row b's share of the mean
// loss. That is the same M without the upper layers' matrix products: a
// product costs 2·classes·out multiply-adds a row, against two B×in×out
// products per hidden-to-hidden layer above, and the Jacobians cost one
// such product per layer above once per pass. It is exact because the rows
// do not couple (no BatchNorm) and the activations are piecewise linear, so
// the loss's curvature with respect to z is the logits' alone.
type OutputJacobian struct {
	h        *HVP
	layer    int
	jac      []float32 // rows·classes × out, row b·classes+k is ∂logit_k/∂z_b
	cur, nxt []float32 // the recursion's ping-pong, rows·classes × the widest layer
	y        []float32 // a row's J_b·r_b, classes
}

// ErrRowsCoupled is NewOutputJacobian's refusal under BatchNorm, whose
// batch statistics couple the rows: no row has a Jacobian of its own.
var ErrRowsCoupled = errors.New("model: BatchNorm couples the batch's rows; the output Hessian has no per-row factors")

// NewOutputJacobian sizes the Jacobians of linear layer i's output on h's
// workspace; call Update after each pass.
func (h *HVP) NewOutputJacobian(i int) (*OutputJacobian, error) {
	m := h.m
	if m.Spec.BatchNorm {
		return nil, ErrRowsCoupled
	}
	wide := 0
	for _, l := range m.fc[i+1:] {
		wide = max(wide, l.in)
	}
	n := h.ws.MaxBatch * m.Spec.Classes
	return &OutputJacobian{h: h, layer: i, jac: make([]float32, n*m.fc[i].out), cur: make([]float32, n*wide), nxt: make([]float32, n*wide),
		y: make([]float32, m.Spec.Classes)}, nil
}

// Update forms the Jacobians from the HVP's current pass: from the last
// layer down, the logits' Jacobian with respect to a layer's input is the
// one with respect to its output times W, and the activation's derivative
// at the row's z carries it through to the layer below's output.
func (o *OutputJacobian) Update() {
	m, ws := o.h.m, o.h.ws
	rows, c, L := ws.rows, m.Spec.Classes, len(m.fc)
	if o.layer == L-1 {
		// The logits are the layer's output: J_b = I.
		out := o.jac[:rows*c*c]
		clear(out)
		for b := range rows {
			for k := range c {
				out[(b*c+k)*c+k] = 1
			}
		}
		return
	}
	for j := L - 1; j > o.layer; j-- {
		l, below := m.fc[j], m.fc[j-1]
		// g: ∂logits/∂(layer j's input), rows·c × l.in.
		var g []float32
		if j == L-1 {
			g = l.W // the same for every row: the rows below read it in place
		} else {
			g = o.nxt[:rows*c*l.in]
			linalg.Gemm(false, false, rows*c, l.in, l.out, 1, o.cur, l.out, l.W, l.in, 0, g, l.in)
		}
		dst := o.cur
		if j-1 == o.layer {
			dst = o.jac
		}
		for b := range rows {
			zb := ws.z[j-1][b*below.out : (b+1)*below.out]
			for k := range c {
				src := g[k*l.in : (k+1)*l.in]
				if j < L-1 {
					src = g[(b*c+k)*l.in : (b*c+k+1)*l.in]
				}
				m.Spec.Activation.backward(zb, src, dst[(b*c+k)*below.out:(b*c+k+1)*below.out], 1, below.out)
			}
		}
	}
}

// Apply writes M·r into out (both rows×out, row-major), from the Jacobians
// of the last Update.
func (o *OutputJacobian) Apply(r, out []float32) {
	ws := o.h.ws
	rows, c, n := ws.rows, o.h.m.Spec.Classes, o.h.m.fc[o.layer].out
	outputHessianRows(o.jac[:rows*c*n], r[:rows*n], ws.prob[:rows*c], out[:rows*n], o.y, rows, c, n, 1/float32(rows))
}

// outputHessianRowsGo is Apply's pass, row by row: y = J_b r_b with each
// dot product summed in 16 interleaved lanes (lane l takes the columns
// o ≡ l mod 16, in order) that are then added in lane order, the softmax
// Hessian as the R-pass forms it, and out_b = Σ_k t_k J_b[k] with the
// classes added in order. The explicit float32 conversions keep each
// product rounded before its addition, as the C kernel's separate
// multiplies and adds do.
func outputHessianRowsGo(jac, r, p, out, y []float32, rows, c, n int, invB float32) {
	for b := range rows {
		rb, pb, ob := r[b*n:(b+1)*n], p[b*c:(b+1)*c], out[b*n:(b+1)*n]
		jb := jac[b*c*n : (b+1)*c*n]
		var dot float32
		for k := range c {
			var lanes [16]float32
			for o, x := range jb[k*n : (k+1)*n] {
				lanes[o%16] += float32(x * rb[o])
			}
			var s float32
			for _, v := range lanes {
				s += v
			}
			y[k] = s
			dot += float32(pb[k] * s)
		}
		for k := range c {
			y[k] = float32(pb[k]*(y[k]-dot)) * invB
		}
		for o := range ob {
			var s float32
			for k := range c {
				s += float32(y[k] * jb[k*n+o])
			}
			ob[o] = s
		}
	}
}
