package model

import "math"

// The step's memory-bound passes over B×n blocks, as Go loops: the passes
// themselves where the C kernels are not built (elementwise_purego.go) or
// the CPU lacks AVX-512, and the reference the kernels are tested against
// (elementwise_c.go). Each output element is one IEEE operation or
// selection, and each column sum adds its rows in order, so the kernels give
// the same bits.

// reluBiasGo adds b to each row of z (rows×n) and writes max(z, 0) into h.
func reluBiasGo(z, b, h []float32, rows, n int) {
	for r := 0; r < rows; r++ {
		zr, hr := z[r*n:(r+1)*n], h[r*n:(r+1)*n]
		for j, v := range b {
			v += zr[j]
			zr[j], hr[j] = v, max(v, 0)
		}
	}
}

// creluBiasGo adds b to each row of z (rows×n) and writes [max(z, 0),
// max(−z, 0)] into h (rows×2n).
func creluBiasGo(z, b, h []float32, rows, n int) {
	for r := 0; r < rows; r++ {
		zr, hr := z[r*n:(r+1)*n], h[r*2*n:(r+1)*2*n]
		pos, neg := hr[:n], hr[n:]
		for j, v := range b {
			v += zr[j]
			zr[j], pos[j], neg[j] = v, max(v, 0), max(-v, 0)
		}
	}
}

// reluBackGo writes dz = dh where z > 0, else +0, over len(z) elements.
// Branch-free: with random signs a branch mispredicts half the time, which
// made this loop cost a third of a GEMM.
func reluBackGo(z, dh, dz []float32) {
	dh, dz = dh[:len(z)], dz[:len(z)]
	for i, v := range z {
		dz[i] = math.Float32frombits(math.Float32bits(dh[i]) & positiveMask(v))
	}
}

// reluBackSumGo is reluBackGo on a rows×n block followed by dz's column
// sums into colSum, in one pass.
func reluBackSumGo(z, dh, dz, colSum []float32, rows, n int) {
	clear(colSum)
	for r := 0; r < rows; r++ {
		zr, hr, dr := z[r*n:(r+1)*n], dh[r*n:(r+1)*n], dz[r*n:(r+1)*n]
		for j, s := range colSum {
			v := math.Float32frombits(math.Float32bits(hr[j]) & positiveMask(zr[j]))
			dr[j], colSum[j] = v, s+v
		}
	}
}

// creluBackGo writes dz (rows×n) from dh (rows×2n, the [relu(z), relu(−z)]
// halves): the first half's gradient where z > 0, minus the second's where
// z < 0, else +0.
func creluBackGo(z, dh, dz []float32, rows, n int) {
	for r := 0; r < rows; r++ {
		zr, dr := z[r*n:(r+1)*n], dz[r*n:(r+1)*n]
		pos, neg := dh[r*2*n:r*2*n+n], dh[r*2*n+n:(r+1)*2*n]
		for j, v := range zr {
			dr[j] = math.Float32frombits(math.Float32bits(pos[j])&positiveMask(v) | math.Float32bits(-neg[j])&positiveMask(-v))
		}
	}
}

// addBiasGo adds b to each row of z (rows×len(b)).
func addBiasGo(z, b []float32, rows int) {
	n := len(b)
	for r := 0; r < rows; r++ {
		zr := z[r*n : (r+1)*n]
		for j, v := range b {
			zr[j] += v
		}
	}
}

// columnSumsGo writes the column sums of the rows×len(out) matrix d into
// out, adding the rows in order.
func columnSumsGo(d, out []float32, rows int) {
	n := len(out)
	clear(out)
	for r := 0; r < rows; r++ {
		dr := d[r*n : (r+1)*n]
		for j, v := range dr {
			out[j] += v
		}
	}
}

// positiveMask is all ones when v > 0 and zero otherwise (NaN included);
// the compiler turns the conditional into a CMOV, not a branch.
func positiveMask(v float32) uint32 {
	var k uint32
	if v > 0 {
		k = ^uint32(0)
	}
	return k
}
