package model

import (
	"math"

	"github.com/lot-toolkit/lot/linalg"
)

// Workspace holds the activations of one forward pass and the scratch of its
// backward pass, sized for up to MaxBatch rows, so that training allocates
// nothing per step. A Workspace belongs to one model and one goroutine.
type Workspace struct {
	MaxBatch int
	rows     int  // rows of the last forward pass
	train    bool // whether the last forward pass used batch statistics

	x      []float32   // the input of the last forward pass (not owned)
	z      [][]float32 // per hidden layer: linear output, B×h
	bnOut  [][]float32 // per hidden layer with BatchNorm: normalised and scaled, B×h
	xhat   [][]float32 // BatchNorm's normalised input, B×h
	invStd [][]float32 // BatchNorm's 1/sqrt(var+eps), h
	h      [][]float32 // per hidden layer: activation output, B×(h·widthFactor)
	logits []float32   // B×classes
	prob   []float32   // B×classes: softmax of the logits
	dlog   []float32   // B×classes: dLoss/dlogits
	dz     [][]float32 // per hidden layer: dLoss/dz, kept for curvature and noise
	dpre   [][]float32 // per hidden layer with BatchNorm: dLoss/d(BatchNorm output)
	dh     []float32   // scratch for the widest hidden layer

	// SparseGrad computes hidden layers' weight gradients, and their
	// Hessian block products' rows (HVP on this workspace), on their live
	// units only (see sparseWeightGrad): exact in value, but not promised
	// bit-identical to the dense product, so off unless asked for.
	SparseGrad bool
	// Its scratch, grown on first use to the largest layer seen.
	live               []bool    // per unit: δ column not all zero
	liveIdx            []int     // the live units
	dCompact, gCompact []float32 // δ of the live units, and their gradient rows
}

// NewWorkspace sizes a workspace for batches of up to maxBatch rows.
func (m *MLP) NewWorkspace(maxBatch int) *Workspace {
	ws := &Workspace{MaxBatch: maxBatch}
	wide := 0
	for _, h := range m.Spec.Hidden {
		f := m.Spec.Activation.widthFactor()
		ws.z = append(ws.z, make([]float32, maxBatch*h))
		if m.Spec.BatchNorm {
			ws.bnOut = append(ws.bnOut, make([]float32, maxBatch*h))
			ws.xhat = append(ws.xhat, make([]float32, maxBatch*h))
			ws.invStd = append(ws.invStd, make([]float32, h))
		}
		ws.h = append(ws.h, make([]float32, maxBatch*h*f))
		ws.dz = append(ws.dz, make([]float32, maxBatch*h))
		if m.Spec.BatchNorm {
			ws.dpre = append(ws.dpre, make([]float32, maxBatch*h))
		}
		wide = max(wide, h*f)
	}
	ws.logits = make([]float32, maxBatch*m.Spec.Classes)
	ws.prob = make([]float32, maxBatch*m.Spec.Classes)
	ws.dlog = make([]float32, maxBatch*m.Spec.Classes)
	ws.dh = make([]float32, maxBatch*wide)
	return ws
}

// Logits returns the last forward pass's logits, rows×classes.
func (ws *Workspace) Logits() []float32 { return ws.logits[:ws.rows*len(ws.logits)/ws.MaxBatch] }

// Hidden returns hidden layer i's activation output of the last forward pass.
func (ws *Workspace) Hidden(i int) []float32 { return ws.h[i][:ws.rows*len(ws.h[i])/ws.MaxBatch] }

// PreActivation returns the input of hidden layer i's nonlinearity (after
// BatchNorm where present) from the last forward pass.
func (ws *Workspace) PreActivation(i int) []float32 {
	src := ws.z[i]
	if ws.bnOut != nil {
		src = ws.bnOut[i]
	}
	return src[:ws.rows*len(src)/ws.MaxBatch]
}

// Forward runs x (rows×Input, row-major) through the network. train selects
// BatchNorm's batch statistics (and updates its running statistics) rather
// than the running statistics. The logits stay in ws.
func (m *MLP) Forward(ws *Workspace, x []float32, rows int, train bool) {
	if rows > ws.MaxBatch {
		panic("model: batch larger than the workspace") // a programming error, not bad input
	}
	ws.rows, ws.x, ws.train = rows, x, train
	in, inW := x, m.Spec.Input
	for i, l := range m.fc[:len(m.fc)-1] {
		z := ws.z[i][:rows*l.out]
		linalg.Gemm(false, true, rows, l.out, l.in, 1, in, inW, l.W, l.in, 0, z, l.out)
		if m.Spec.BatchNorm {
			addBias(z, l.B, rows)
			pre := ws.bnOut[i][:rows*l.out]
			m.bn[i].forward(z, pre, ws.xhat[i], ws.invStd[i], rows, train)
			m.Spec.Activation.apply(pre, ws.h[i], rows, l.out)
		} else {
			m.Spec.Activation.applyBias(z, l.B, ws.h[i], rows, l.out)
		}
		in, inW = ws.h[i], l.out*m.Spec.Activation.widthFactor()
	}
	last := m.fc[len(m.fc)-1]
	lg := ws.logits[:rows*last.out]
	linalg.Gemm(false, true, rows, last.out, last.in, 1, in, inW, last.W, last.in, 0, lg, last.out)
	addBias(lg, last.B, rows)
}

// applyBias adds the bias b to each row of z (rows×n) and writes the
// activation into h, in one pass over memory for ReLU and CReLU: the same
// arithmetic as addBias followed by apply.
func (a Activation) applyBias(z, b, h []float32, rows, n int) {
	switch a.Kind {
	case ReLU:
		reluBias(z, b, h, rows, n)
	case CReLU:
		creluBias(z, b, h, rows, n)
	default:
		addBias(z, b, rows)
		a.apply(z, h, rows, n)
	}
}

// forward normalises z (rows×n) into out. In training it uses the batch's
// mean and biased variance and updates the running statistics with the
// unbiased variance, exactly as torch.nn.BatchNorm1d.
func (b *batchNorm) forward(z, out, xhat, invStd []float32, rows int, train bool) {
	n := b.n
	if !train {
		for j := 0; j < n; j++ {
			invStd[j] = float32(1 / math.Sqrt(float64(b.RunningVar[j])+bnEps))
		}
		for r := 0; r < rows; r++ {
			for j := 0; j < n; j++ {
				xh := (z[r*n+j] - b.RunningMean[j]) * invStd[j]
				xhat[r*n+j] = xh
				out[r*n+j] = xh*b.Gamma[j] + b.Beta[j]
			}
		}
		return
	}
	for j := 0; j < n; j++ {
		var s, ss float64
		for r := 0; r < rows; r++ {
			s += float64(z[r*n+j])
		}
		mean := s / float64(rows)
		for r := 0; r < rows; r++ {
			d := float64(z[r*n+j]) - mean
			ss += d * d
		}
		varB := ss / float64(rows)
		is := 1 / math.Sqrt(varB+bnEps)
		invStd[j] = float32(is)
		unbiased := varB
		if rows > 1 {
			unbiased = ss / float64(rows-1)
		}
		b.RunningMean[j] = float32((1-bnMomentum)*float64(b.RunningMean[j]) + bnMomentum*mean)
		b.RunningVar[j] = float32((1-bnMomentum)*float64(b.RunningVar[j]) + bnMomentum*unbiased)
		m32, g, be := float32(mean), b.Gamma[j], b.Beta[j]
		for r := 0; r < rows; r++ {
			xh := (z[r*n+j] - m32) * float32(is)
			xhat[r*n+j] = xh
			out[r*n+j] = xh*g + be
		}
	}
}

// CrossEntropy returns the mean softmax cross-entropy of the last forward
// pass against labels y, the number of correct argmax predictions, and, in
// ws, dLoss/dlogits for Backward. It is computed stably via log-sum-exp and
// accumulated in float64.
func (m *MLP) CrossEntropy(ws *Workspace, y []int32) (loss float64, correct int) {
	c, rows := m.Spec.Classes, ws.rows
	invB := 1 / float32(rows)
	for r := 0; r < rows; r++ {
		lg := ws.logits[r*c : (r+1)*c]
		p := ws.prob[r*c : (r+1)*c]
		d := ws.dlog[r*c : (r+1)*c]
		best, arg := lg[0], 0
		for j, v := range lg {
			if v > best {
				best, arg = v, j
			}
		}
		var sum float64
		for j, v := range lg {
			e := math.Exp(float64(v - best))
			d[j] = float32(e)
			sum += e
		}
		label := int(y[r])
		loss += math.Log(sum) - float64(lg[label]-best)
		if arg == label {
			correct++
		}
		inv := float32(1 / sum)
		for j := range d {
			p[j] = d[j] * inv
			d[j] = p[j] * invB
		}
		d[label] -= invB
	}
	return loss / float64(rows), correct
}

// Rows is the batch size of the last forward pass.
func (ws *Workspace) Rows() int { return ws.rows }
