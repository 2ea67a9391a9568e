package diagnostics

import (
	"math"
	"strings"

	"github.com/lot-toolkit/lot/model"
	"github.com/lot-toolkit/lot/optim"
)

// steps are the optimiser's effective steps after an update.
type steps struct {
	alpha, alphaCode, agg              []float64 // per group
	globalAlpha, globalCode, globalAgg float64
	// codeDen is the denominator of the authors' single normaliser
	// (NormGlobal), √(mean v + 1e-16)+ε over every parameter's raw second
	// moment; 1 before any update. Zero under SGD, whose λ̄ is λ.
	codeDen float64
}

// codeAgg is the authors' single normaliser at group 0's rate lr0:
// lr₀/(√(mean v + 1e-16)+ε) under Adam, 1 under SGD. The rate is a
// parameter because their code reads it when it normalises each layer,
// after the controller may have changed it for an earlier layer.
func (s steps) codeAgg(lr0 float64) float64 {
	if s.codeDen == 0 {
		return 1
	}
	return lr0 / s.codeDen
}

// effectiveSteps reads the effective step from the optimiser's state.
//
// Adam, paper (App. C.1): the mean over the group's parameters of
// η/((1−β1^t)(√v̂+ε)), v̂ = v/(1−β2^t).
// Adam, public code: per weight tensor η/((1−β1^t)(√(mean v/(1−β2^t))+ε)),
// biases excluded, averaged over the group's weight tensors.
// The sharpness normaliser α_agg = η/(RMS(√v̂)+ε) = η/(√mean(v̂)+ε), and
// the authors' global one, lr₀/(√(mean v + 1e-16)+ε) with v raw.
// SGD has no preconditioner: α = η and, as the notes fix, λ̄ = λ (α_agg = 1).
// A group Adam has not yet stepped (no state in torch) has no paper α
// (NaN) and the code's fallback, group 0's rate; the global values are
// over the stepped groups only, with the same two values when there are none.
func effectiveSteps(opt optim.Optimizer, m *model.MLP) steps {
	groups := opt.Groups()
	s := steps{alpha: make([]float64, len(groups)), alphaCode: make([]float64, len(groups)), agg: make([]float64, len(groups))}
	adam, ok := opt.(*optim.Adam)
	if !ok {
		var n, lrSum float64
		for g, grp := range groups {
			s.alpha[g], s.alphaCode[g], s.agg[g] = grp.LR, grp.LR, 1
			lrSum += grp.LR * float64(grp.Len)
			n += float64(grp.Len)
		}
		s.globalAlpha, s.globalCode, s.globalAgg = lrSum/n, lrSum/n, 1
		return s
	}
	_, v := adam.Moments()
	var sumAlpha, nStepped, sumVhat, sumV, nV, sumLR, n float64
	var codeSum float64
	var codeN int
	for g, grp := range groups {
		t := float64(max(grp.Steps, 1))
		beta1, beta2 := adam.Betas(g) // a group's own, as torch's bias correction
		bc1, bc2 := 1-math.Pow(beta1, t), 1-math.Pow(beta2, t)
		var a, vh, raw float64
		for _, x := range v[grp.Offset : grp.Offset+grp.Len] {
			vhat := float64(x) / bc2
			a += 1 / (math.Sqrt(vhat) + adam.Eps)
			vh += vhat
			raw += float64(x)
		}
		ln := float64(grp.Len)
		if grp.Steps > 0 { // the authors' code sees only moments that exist
			sumV += raw
			nV += ln
		}
		if grp.Steps == 0 {
			// Before a group's first update Adam has no second moment for
			// it and App. C.1's 1−β1^t is 0: the paper's α is undefined
			// (logged null), not η/(1−β1)ε, which would read 1e6 at η 1e-3.
			s.alpha[g] = math.NaN()
		} else {
			s.alpha[g] = grp.LR / bc1 * a / ln
			sumAlpha += grp.LR / bc1 * a
			nStepped += ln
		}
		s.agg[g] = grp.LR / (math.Sqrt(vh/ln) + adam.Eps)
		sumVhat += vh
		sumLR += grp.LR * ln
		n += ln

		var c float64
		var k int
		for _, tn := range m.Tensors {
			if tn.Offset < grp.Offset || tn.Offset >= grp.Offset+grp.Len || !strings.HasSuffix(tn.Name, ".weight") {
				continue
			}
			var mv float64
			for _, x := range v[tn.Offset : tn.Offset+len(tn.Data)] {
				mv += float64(x)
			}
			mv /= float64(len(tn.Data))
			c += grp.LR / (bc1 * (math.Sqrt(mv/bc2) + adam.Eps))
			k++
		}
		s.alphaCode[g] = c / float64(k)
		if grp.Steps == 0 {
			// Before a group's first update torch.optim.Adam has no state
			// for it, and the authors' code skips it, falling back to group
			// 0's rate when nothing is left.
			s.alphaCode[g] = groups[0].LR
		} else {
			codeSum += c
			codeN += k
		}
	}
	s.globalAlpha, s.globalCode = math.NaN(), groups[0].LR
	if nStepped > 0 {
		s.globalAlpha = sumAlpha / nStepped
	}
	if codeN > 0 {
		s.globalCode = codeSum / float64(codeN)
	}
	s.globalAgg = (sumLR / n) / (math.Sqrt(sumVhat/n) + adam.Eps)
	// The authors' torch.sqrt(v.mean() + 1e-16): the 1e-16 keeps a zero
	// second moment finite. Before any update (no state) their factor is lr₀.
	s.codeDen = 1
	if nV > 0 {
		s.codeDen = math.Sqrt(sumV/nV+1e-16) + adam.Eps
	}
	return s
}
