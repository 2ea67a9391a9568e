package model

import "github.com/lot-toolkit/lot/linalg"

// HVP computes exact Hessian-vector products of the mean cross-entropy of
// one batch, by Pearlmutter's R-operator: one forward-mode pass over the
// linearised network and one backward pass of the R-derivatives. No finite
// differences. Prepare caches the forward and backward pass at the current
// parameters, so each product afterwards costs about one gradient: two large
// matrix products for the first layer, as a gradient does.
//
// BatchNorm in training mode is differentiated through its batch statistics,
// exactly as the training loss uses them.
type HVP struct {
	m    *MLP
	ws   *Workspace
	Grad []float32 // the batch gradient at Prepare, laid out as Params

	rz, rxhat, rpre, rh [][]float32 // R-derivatives of the forward pass, per hidden layer
	rs                  [][]float32 // R(std) per BatchNorm feature
	rlog, rdlog         []float32
	rdh, rdz, rdpre     []float32 // scratch for the widest layer
	zeros               []float32 // a zero direction for the widest BatchNorm
	saved               []float32 // BatchNorm's running statistics during Prepare
}

// NewHVP sizes an HVP, with a workspace of its own, for batches of up to
// maxBatch rows; call Prepare before the products.
func (m *MLP) NewHVP(maxBatch int) *HVP {
	h := m.NewHVPOn(m.NewWorkspace(maxBatch))
	h.Grad = make([]float32, len(m.Params))
	return h
}

// NewHVPOn makes an HVP that reads the forward and backward pass already in
// ws (a training step's, say), so no pass is repeated: the caller must not
// change the parameters or ws between that pass and the products.
func (m *MLP) NewHVPOn(ws *Workspace) *HVP {
	maxBatch := ws.MaxBatch
	h := &HVP{m: m, ws: ws}
	wide := 0
	for _, w := range m.Spec.Hidden {
		f := m.Spec.Activation.widthFactor()
		h.rz = append(h.rz, make([]float32, maxBatch*w))
		h.rh = append(h.rh, make([]float32, maxBatch*w*f))
		if m.Spec.BatchNorm {
			h.rxhat = append(h.rxhat, make([]float32, maxBatch*w))
			h.rpre = append(h.rpre, make([]float32, maxBatch*w))
			h.rs = append(h.rs, make([]float32, w))
		}
		wide = max(wide, w*f)
	}
	h.rlog = make([]float32, maxBatch*m.Spec.Classes)
	h.rdlog = make([]float32, maxBatch*m.Spec.Classes)
	h.rdh = make([]float32, maxBatch*wide)
	h.rdz = make([]float32, maxBatch*wide)
	h.rdpre = make([]float32, maxBatch*wide)
	h.zeros = make([]float32, wide)
	return h
}

// Prepare runs the forward and backward pass on the batch (x, y) at the
// current parameters and returns the mean loss; it needs an HVP made by
// NewHVP. Products then use this
// batch until the next Prepare. BatchNorm's running statistics are left
// untouched: curvature probes must not change the model.
func (h *HVP) Prepare(x []float32, y []int32) float64 {
	h.saved = h.saved[:0]
	for _, b := range h.m.Buffers {
		h.saved = append(h.saved, b.Data...)
	}
	h.m.Forward(h.ws, x, len(y), true)
	loss, _ := h.m.CrossEntropy(h.ws, y)
	h.m.Backward(h.ws, h.Grad)
	off := 0
	for _, b := range h.m.Buffers {
		off += copy(b.Data, h.saved[off:])
	}
	return loss
}

// Workspace exposes the cached forward and backward pass of Prepare.
func (h *HVP) Workspace() *Workspace { return h.ws }

// Apply writes H·v into out for the whole network (both laid out as Params).
func (h *HVP) Apply(v, out []float32) { h.apply(v, out, 0, 0, false, nil, nil) }

// ApplyBlock writes H_gg·v into out, where H_gg is the diagonal block of
// parameter group g (m.Groups[g]) and v, out have that group's length.
func (h *HVP) ApplyBlock(g int, v, out []float32) {
	grp := h.m.Groups[g]
	h.apply(v[:grp.Len], out[:grp.Len], grp.Offset, h.m.groupLayer(g), true, nil, nil)
}

// ApplyOutputHessian writes M·r into out, where M is the Hessian of the mean
// loss with respect to linear layer i's output z (rows×out of fc_{i+1}) and
// r a direction for z, both rows×out row-major. The layer's weight and bias
// enter the loss only through z = X̃·W̃ᵀ (X̃ = [X 1] its input), so its
// diagonal block is AᵀMA with A: V ↦ X̃·Vᵀ, which lets curvature code work
// in the rows×out space instead of the out×(in+1) one.
func (h *HVP) ApplyOutputHessian(i int, r, out []float32) {
	h.apply(nil, nil, 0, i, true, r, out)
}

// groupLayer is the index of the linear layer a parameter group belongs to
// (bn_i belongs to fc_i's layer).
func (m *MLP) groupLayer(g int) int {
	off := m.Groups[g].Offset
	for i := len(m.fc) - 1; i >= 0; i-- {
		if off >= m.fc[i].wOff {
			return i
		}
	}
	return 0
}

// part is the piece [off, off+n) of the parameter layout inside x, a vector
// that holds the parameters from base on (all of them, or one group's), or
// nil where x does not cover it.
func part(x []float32, base, off, n int) []float32 {
	if off < base || off+n > base+len(x) {
		return nil
	}
	return x[off-base : off-base+n]
}

// apply computes the R-derivative of the gradient. v and out hold the
// parameters from offset base on (the whole layout, or one group's); v is
// zero outside them and, with only, outside layer `from`, which lets the
// forward pass start at `from` and the backward pass stop there. Products
// whose results fall outside out are skipped: a block product forms only
// its own layer's R(g_W), and the upper layers' backward pass only carries
// R(δ) down. With rz0 set, layer `from`'s R(z) is rz0 instead of coming
// from v (v is then nil), and with dzOut set the backward pass stops at
// R(dL/dz) of layer `from`, written there.
func (h *HVP) apply(v, out []float32, base, from int, only bool, rz0, dzOut []float32) {
	m, ws := h.m, h.ws
	hasV := func(i int) bool { return rz0 == nil && (i == from || (!only && i > from)) }
	rows, L := ws.rows, len(m.fc)
	f := m.Spec.Activation.widthFactor()

	// Forward: R(z) = R(in)·Wᵀ + in·V_Wᵀ + V_b, layer by layer.
	var rIn []float32 // R(input of layer i); nil means zero
	for i := from; i < L; i++ {
		l := m.fc[i]
		in, inW := ws.x, m.Spec.Input
		if i > 0 {
			in, inW = ws.h[i-1], l.in
		}
		var rz []float32
		if i < L-1 {
			rz = h.rz[i][:rows*l.out]
		} else {
			rz = h.rlog[:rows*l.out]
		}
		if i == from && rz0 != nil {
			copy(rz, rz0)
		}
		beta := float32(0)
		if rIn != nil {
			linalg.Gemm(false, true, rows, l.out, l.in, 1, rIn, l.in, l.W, l.in, 0, rz, l.out)
			beta = 1
		}
		var vW []float32
		if hasV(i) {
			vW = part(v, base, l.wOff, l.out*l.in)
		}
		if vW != nil {
			linalg.Gemm(false, true, rows, l.out, l.in, 1, in, inW, vW, l.in, beta, rz, l.out)
			addBias(rz, part(v, base, l.bOff, l.out), rows)
		} else if rIn == nil && !(i == from && rz0 != nil) {
			// Zero, as X·0ᵀ + 0 is (a BatchNorm group's block lands here).
			clear(rz)
		}
		if i == L-1 {
			break
		}
		pre, rpre := ws.z[i], rz
		if m.Spec.BatchNorm {
			pre, rpre = ws.bnOut[i], h.rpre[i][:rows*l.out]
			b := &m.bn[i]
			var vg, vb []float32
			if hasV(i) {
				vg, vb = part(v, base, b.gOff, b.n), part(v, base, b.bOff, b.n)
			}
			b.jvp(rz, ws.xhat[i], ws.invStd[i], vg, vb, h.rxhat[i], h.rs[i], rpre, rows)
		}
		m.Spec.Activation.jvp(pre, rpre, h.rh[i], rows, l.out)
		rIn = h.rh[i][:rows*l.out*f]
	}

	// The loss: R(dL/dlogits) = R(p)/B with R(p) = p ⊙ (R(logits) − ⟨p, R(logits)⟩).
	c := m.Spec.Classes
	invB := 1 / float32(rows)
	for r := 0; r < rows; r++ {
		p, rl, rd := ws.prob[r*c:(r+1)*c], h.rlog[r*c:(r+1)*c], h.rdlog[r*c:(r+1)*c]
		var dot float32
		for j := range p {
			dot += p[j] * rl[j]
		}
		for j := range p {
			rd[j] = p[j] * (rl[j] - dot) * invB
		}
	}

	// Backward: R(g_W) = R(δ)ᵀ·in + δᵀ·R(in); R(δ_in) = R(δ)·W + δ·V_W.
	d, rd := ws.dlog[:rows*c], h.rdlog[:rows*c]
	for i := L - 1; i >= from; i-- {
		l := m.fc[i]
		if i == from && dzOut != nil {
			copy(dzOut, rd)
			return
		}
		if gw := part(out, base, l.wOff, l.out*l.in); gw != nil {
			in, inW := ws.x, m.Spec.Input
			var rin []float32
			if i > 0 {
				in, inW = ws.h[i-1], l.in
				if i > from {
					rin = h.rh[i-1][:rows*l.in]
				}
			}
			// A hidden layer's dead units have R(δ) = 0 too (ReLU masks it
			// as it masks δ), so SparseGrad skips their rows here as well.
			if !(ws.SparseGrad && rin == nil && i < L-1 && ws.sparseWeightGrad(rd, in, inW, gw, rows, l.out, l.in)) {
				linalg.Gemm(true, false, l.out, l.in, rows, 1, rd, l.out, in, inW, 0, gw, l.in)
			}
			if rin != nil {
				linalg.Gemm(true, false, l.out, l.in, rows, 1, d, l.out, rin, l.in, 1, gw, l.in)
			}
			columnSums(rd, part(out, base, l.bOff, l.out), rows)
		}
		if i == from {
			break
		}
		prev := m.fc[i-1]
		rdh := h.rdh[:rows*l.in]
		linalg.Gemm(false, false, rows, l.in, l.out, 1, rd, l.out, l.W, l.in, 0, rdh, l.in)
		if hasV(i) {
			linalg.Gemm(false, false, rows, l.in, l.out, 1, d, l.out, v[l.wOff-base:l.wOff-base+l.out*l.in], l.in, 1, rdh, l.in)
		}
		rdz := h.rdz[:rows*prev.out]
		if m.Spec.BatchNorm {
			rdpre := h.rdpre[:rows*prev.out]
			m.Spec.Activation.backward(ws.bnOut[i-1], rdh, rdpre, rows, prev.out)
			b := &m.bn[i-1]
			var vg []float32
			if hasV(i - 1) {
				if vg = part(v, base, b.gOff, b.n); vg == nil {
					vg = h.zeros[:b.n] // as the old full-length zero-padded direction
				}
			}
			b.backwardR(ws.dpre[i-1], rdpre, ws.xhat[i-1], h.rxhat[i-1], ws.invStd[i-1], h.rs[i-1], vg, rdz,
				part(out, base, b.gOff, 2*b.n), rows)
		} else {
			m.Spec.Activation.backward(ws.z[i-1], rdh, rdz, rows, prev.out)
		}
		d, rd = ws.dz[i-1][:rows*prev.out], rdz
	}
}

// jvp is BatchNorm's forward-mode derivative in training mode: given R(z),
// it writes R(x̂), R(std) and R(output). vg and vb are the direction's
// gamma and beta parts (nil when zero).
func (b *batchNorm) jvp(rz, xhat, invStd, vg, vb, rxhat, rs, rout []float32, rows int) {
	n := b.n
	invB := 1 / float64(rows)
	for j := 0; j < n; j++ {
		var s1, s2 float64
		for r := 0; r < rows; r++ {
			s1 += float64(rz[r*n+j])
			s2 += float64(xhat[r*n+j]) * float64(rz[r*n+j])
		}
		mean, mx := float32(s1*invB), float32(s2*invB)
		rs[j] = mx // R(std) = mean(x̂·R(z))
		g, is := b.Gamma[j], invStd[j]
		var vgj, vbj float32
		if vg != nil {
			vgj, vbj = vg[j], vb[j]
		}
		for r := 0; r < rows; r++ {
			k := r*n + j
			rx := is * (rz[k] - mean - xhat[k]*mx)
			rxhat[k] = rx
			rout[k] = g*rx + vgj*xhat[k] + vbj
		}
	}
}

// backwardR differentiates BatchNorm's backward pass (see backward) along
// the direction: from dy = dL/d(output), its R-derivative rdy and the
// forward R-quantities, it writes R(dL/dz) into rdz and the R-derivatives
// of the gamma and beta gradients into gb (gamma's n, then beta's n; nil
// when not wanted).
func (b *batchNorm) backwardR(dy, rdy, xhat, rxhat, invStd, rs, vg, rdz, gb []float32, rows int) {
	n := b.n
	invB := 1 / float64(rows)
	for j := 0; j < n; j++ {
		var c1, c2, rc1, rc2 float64
		for r := 0; r < rows; r++ {
			k := r*n + j
			c1 += float64(dy[k])
			c2 += float64(dy[k]) * float64(xhat[k])
			rc1 += float64(rdy[k])
			rc2 += float64(rdy[k])*float64(xhat[k]) + float64(dy[k])*float64(rxhat[k])
		}
		if gb != nil {
			gb[j], gb[n+j] = float32(rc2), float32(rc1)
		}
		c1, c2, rc1, rc2 = c1*invB, c2*invB, rc1*invB, rc2*invB
		is := invStd[j]
		a := b.Gamma[j] * is
		ra := -b.Gamma[j] * is * is * rs[j]
		if vg != nil {
			ra += vg[j] * is
		}
		f1, f2, g1, g2 := float32(c1), float32(c2), float32(rc1), float32(rc2)
		for r := 0; r < rows; r++ {
			k := r*n + j
			rdz[k] = ra*(dy[k]-f1-xhat[k]*f2) + a*(rdy[k]-g1-rxhat[k]*f2-xhat[k]*g2)
		}
	}
}
