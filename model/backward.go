package model

import (
	"github.com/lot-toolkit/lot/linalg"
)

// Backward writes the gradient of the last CrossEntropy's mean loss with
// respect to every parameter into grad (laid out as Params; overwritten).
// The input's own gradient is never formed: nothing needs it.
func (m *MLP) Backward(ws *Workspace, grad []float32) {
	rows := ws.rows
	L := len(m.fc)
	d := ws.dlog[:rows*m.Spec.Classes] // gradient w.r.t. the current layer's output
	summed := false                    // whether d's column sums are already in grad
	for i := L - 1; i >= 0; i-- {
		l := m.fc[i]
		in, inW := ws.x, m.Spec.Input
		if i > 0 {
			in, inW = ws.h[i-1], l.in
		}
		gw := grad[l.wOff : l.wOff+l.out*l.in]
		if !(ws.SparseGrad && i < L-1 && ws.sparseWeightGrad(d, in, inW, gw, rows, l.out, l.in)) {
			linalg.Gemm(true, false, l.out, l.in, rows, 1, d, l.out, in, inW, 0, gw, l.in)
		}
		if !summed {
			columnSums(d, grad[l.bOff:l.bOff+l.out], rows)
		}
		if i == 0 {
			break
		}
		// Gradient w.r.t. the previous hidden layer's activation output.
		prev := m.fc[i-1]
		dh := ws.dh[:rows*l.in]
		linalg.Gemm(false, false, rows, l.in, l.out, 1, d, l.out, l.W, l.in, 0, dh, l.in)
		dz := ws.dz[i-1][:rows*prev.out]
		if m.Spec.BatchNorm {
			dpre := ws.dpre[i-1][:rows*prev.out]
			m.Spec.Activation.backward(ws.bnOut[i-1], dh, dpre, rows, prev.out)
			m.bn[i-1].backward(dpre, dz, ws.xhat[i-1], ws.invStd[i-1], grad, rows, ws.train)
			summed = false
		} else {
			// The bias gradient of the layer below is dz's column sums:
			// formed in the same pass.
			m.Spec.Activation.backwardSum(ws.z[i-1], dh, dz, grad[prev.bOff:prev.bOff+prev.out], rows, prev.out)
			summed = true
		}
		d = dz
	}
}

// backwardSum is backward followed by columnSums(dz, colSum, rows), in one
// pass over memory for ReLU: the same arithmetic, rows summed in order.
func (a Activation) backwardSum(z, dh, dz, colSum []float32, rows, n int) {
	if a.Kind != ReLU {
		a.backward(z, dh, dz, rows, n)
		columnSums(dz, colSum, rows)
		return
	}
	reluBackSum(z, dh, dz, colSum, rows, n)
}

// backward takes dy = dLoss/d(BatchNorm output) and writes dLoss/dz into dz
// and the gamma and beta gradients into grad. In training mode the batch
// statistics depend on every row, which the full formula accounts for.
func (b *batchNorm) backward(dy, dz, xhat, invStd, grad []float32, rows int, train bool) {
	n := b.n
	dGamma, dBeta := grad[b.gOff:b.gOff+n], grad[b.bOff:b.bOff+n]
	for j := 0; j < n; j++ {
		var sg, sb float64
		for r := 0; r < rows; r++ {
			g := float64(dy[r*n+j])
			sg += g * float64(xhat[r*n+j])
			sb += g
		}
		dGamma[j], dBeta[j] = float32(sg), float32(sb)
		scale := b.Gamma[j] * invStd[j]
		if !train {
			for r := 0; r < rows; r++ {
				dz[r*n+j] = dy[r*n+j] * scale
			}
			continue
		}
		invB := 1 / float32(rows)
		fg, fb := float32(sg), float32(sb)
		for r := 0; r < rows; r++ {
			dz[r*n+j] = scale * (dy[r*n+j] - invB*(fb+xhat[r*n+j]*fg))
		}
	}
}

// sparseWeightGrad writes the weight gradient gw = dᵀ·in (out×inN) of a
// hidden layer whose units may be dead: a unit whose δ column d[:, j] is
// zero for every row of the batch has a zero gradient row, so the product
// runs on the live units only, gathered into a compact δ, and the rows are
// put back in place. It returns false, having done nothing, when too few
// units are dead to pay for the gather.
//
// Rows of live units sum the same products in the same order as the dense
// call, but OpenBLAS does not promise the same rounding for a different row
// count (its edge kernels differ), so this is an option (Workspace.SparseGrad).
// A dead row is +0 where the dense product gives Σ0·x, which is also +0 for
// finite inputs.
func (ws *Workspace) sparseWeightGrad(d, in []float32, inW int, gw []float32, rows, out, inN int) bool {
	if len(ws.live) < out {
		ws.live, ws.liveIdx = make([]bool, out), make([]int, 0, out)
	}
	if len(ws.dCompact) < ws.MaxBatch*out {
		ws.dCompact = make([]float32, ws.MaxBatch*out)
	}
	if len(ws.gCompact) < out*inN {
		ws.gCompact = make([]float32, out*inN)
	}
	live := ws.live[:out]
	clear(live)
	for r := 0; r < rows; r++ {
		for j, v := range d[r*out : (r+1)*out] {
			if v != 0 {
				live[j] = true
			}
		}
	}
	idx := ws.liveIdx[:0]
	for j, ok := range live {
		if ok {
			idx = append(idx, j)
		}
	}
	ws.liveIdx = idx
	n := len(idx)
	if 8*n > 7*out { // under 1/8 dead: the dense product is as fast
		return false
	}
	dc := ws.dCompact[:rows*n]
	for r := 0; r < rows; r++ {
		dr, cr := d[r*out:(r+1)*out], dc[r*n:(r+1)*n]
		for k, j := range idx {
			cr[k] = dr[j]
		}
	}
	gc := ws.gCompact[:n*inN]
	linalg.Gemm(true, false, n, inN, rows, 1, dc, n, in, inW, 0, gc, inN)
	k := 0
	for j := 0; j < out; j++ {
		row := gw[j*inN : (j+1)*inN]
		if k < n && idx[k] == j {
			copy(row, gc[k*inN:(k+1)*inN])
			k++
		} else {
			clear(row)
		}
	}
	return true
}
