package model

import "github.com/lot-toolkit/lot/linalg"

// SampleGradSqNorms writes, for each parameter group, Σ_i ‖g_i‖² into
// sumSq, where g_i is the gradient of sample i's own (unreduced) loss with
// respect to that group, from the last Forward/CrossEntropy/Backward in ws.
// No per-sample loop over the network is run: for a linear layer
// g_i = δ_i ⊗ [x_i, 1], so ‖g_i‖² = ‖δ_i‖²·(‖x_i‖² + 1) (Goodfellow's
// identity, as BackPACK uses).
//
// The per-sample gradient noise is then σ² = (1/B)·Σ_i ‖g_i‖² − ‖ḡ‖², ḡ
// being the batch gradient. Both terms are float32 computations, so where
// the per-sample gradients (nearly) agree the difference is rounding and
// may be negative; diagnostics clamps it (see its gradNoise).
//
// BatchNorm in training mode couples the samples through the batch
// statistics, so "sample i's own gradient" is not defined. lot uses sample
// i's term of the batch gradient: g_i = B·∂L̄/∂θ restricted to the path
// through row i, the batch statistics held as the batch computed them.
// These terms average exactly to the batch gradient; for a network without
// BatchNorm they are the per-sample gradients themselves.
func (m *MLP) SampleGradSqNorms(ws *Workspace, sumSq []float64) {
	rows := ws.rows
	B := float64(rows)
	for i := range sumSq {
		sumSq[i] = 0
	}
	for i, l := range m.fc {
		in, inW := ws.x, m.Spec.Input
		if i > 0 {
			in, inW = ws.h[i-1], l.in
		}
		var d []float32
		if i == len(m.fc)-1 {
			d = ws.dlog
		} else {
			d = ws.dz[i]
		}
		var s float64
		for r := 0; r < rows; r++ {
			dr, xr := d[r*l.out:(r+1)*l.out], in[r*inW:(r+1)*inW]
			s += float64(linalg.Dot(dr, dr)) * (float64(linalg.Dot(xr, xr)) + 1)
		}
		sumSq[m.groupOf(l.wOff)] = s * B * B // d carries the mean's 1/B
		if m.Spec.BatchNorm && i < len(m.bn) {
			b := m.bn[i]
			dy, xh := ws.dpre[i], ws.xhat[i]
			var t float64
			for k := 0; k < rows*b.n; k++ {
				g := float64(dy[k])
				t += g * g * (float64(xh[k])*float64(xh[k]) + 1)
			}
			sumSq[m.groupOf(b.gOff)] = t * B * B
		}
	}
}

// groupOf is the index of the group holding the parameter at offset off.
func (m *MLP) groupOf(off int) int {
	for g, grp := range m.Groups {
		if off >= grp.Offset && off < grp.Offset+grp.Len {
			return g
		}
	}
	panic("model: offset outside the parameters")
}

// SampleGradGram writes into gram (n×n, row-major) the Gram matrix
// ⟨g_i, g_j⟩ of the first n samples' per-sample gradients (all parameters,
// g_i as in SampleGradSqNorms) from the last pass in ws, via the same
// identity: for a linear layer ⟨g_i, g_j⟩ = ⟨δ_i, δ_j⟩·(⟨x_i, x_j⟩ + 1).
// scratch must hold 2·n·n values.
func (m *MLP) SampleGradGram(ws *Workspace, n int, gram, scratch []float64) {
	B := float64(ws.rows)
	clear(gram[:n*n])
	dd, xx := scratch[:n*n], scratch[n*n:2*n*n]
	for i, l := range m.fc {
		in, inW := ws.x, m.Spec.Input
		if i > 0 {
			in, inW = ws.h[i-1], l.in
		}
		d := ws.dlog
		if i < len(m.fc)-1 {
			d = ws.dz[i]
		}
		linalg.Gram64(d, l.out, n, dd)
		linalg.Gram64(in, inW, n, xx)
		for k := range dd {
			gram[k] += B * B * dd[k] * (xx[k] + 1)
		}
		if m.Spec.BatchNorm && i < len(m.bn) {
			b := m.bn[i]
			dy, xh := ws.dpre[i], ws.xhat[i]
			for r := 0; r < n; r++ {
				for c := r; c < n; c++ {
					var s float64
					for j := 0; j < b.n; j++ {
						a, e := float64(dy[r*b.n+j]), float64(dy[c*b.n+j])
						s += a * e * (float64(xh[r*b.n+j])*float64(xh[c*b.n+j]) + 1)
					}
					gram[r*n+c] += B * B * s
					if c != r {
						gram[c*n+r] += B * B * s
					}
				}
			}
		}
	}
}
