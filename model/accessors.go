package model

// LinearOutput returns linear layer i's output from the last forward pass,
// rows×out: z = x·Wᵀ + b of hidden layer i (before BatchNorm), or the
// logits for the last layer (i = Layers()−1).
func (ws *Workspace) LinearOutput(i int) []float32 {
	if i == len(ws.z) {
		return ws.Logits()
	}
	return ws.z[i][:ws.rows*len(ws.z[i])/ws.MaxBatch]
}

// BatchNormOutput returns hidden layer i's BatchNorm output (γ·x̂ + β, the
// nonlinearity's input) from the last forward pass, rows×width; nil for a
// model without BatchNorm.
func (ws *Workspace) BatchNormOutput(i int) []float32 {
	if ws.bnOut == nil {
		return nil
	}
	return ws.bnOut[i][:ws.rows*len(ws.bnOut[i])/ws.MaxBatch]
}

// Input returns the input rows of the last forward pass (not a copy).
func (ws *Workspace) Input() []float32 { return ws.x }

// LayerInput returns linear layer i's input rows from the last forward
// pass, rows×in: the batch for i = 0, hidden layer i−1's activation output
// after it (not a copy).
func (ws *Workspace) LayerInput(i int) []float32 {
	if i == 0 {
		return ws.x
	}
	return ws.h[i-1][:ws.rows*len(ws.h[i-1])/ws.MaxBatch]
}
