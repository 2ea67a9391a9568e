package experiments

import (
	"fmt"
	"math"
	"path/filepath"
	"strings"

	"github.com/lot-toolkit/lot/plotting"
	"github.com/lot-toolkit/lot/train"
)

func init() {
	Figures["fig4"] = Figure{
		Authors: true,
		Name:    "fig4",
		Claim: "Threshold crossings predict per-task accuracy: the share of steps at which some layer's effective step exceeds " +
			"the combined bound α̃* (ρ̂) tracks task accuracy most consistently, better than α_g* or α_vol* alone.",
		Runs:   signalRuns,
		Report: func(dir string, _ Setup, runs []Run) (string, error) { return fig4Report(dir, runs) },
	}
}

// crossings returns, per task, the share of logged steps at which some
// layer's effective step (at path alpha or alpha_code) exceeds the bound at
// path (alpha_g, alpha_vol or alpha_tilde).
func crossings(rd string, layers []string, alpha, bound string) ([]float64, error) {
	var ends []float64
	exceeded := map[float64]bool{}
	logged := map[float64]bool{}
	for _, l := range layers {
		a, err := train.ReadSeries(rd, "diag.layers."+l+"."+alpha)
		if err != nil {
			return nil, err
		}
		b, err := train.ReadSeries(rd, "diag.layers."+l+"."+bound)
		if err != nil {
			return nil, err
		}
		ends = a.TaskEnds
		bs := stepIndex(b)
		for i, x := range a.X {
			logged[x] = true
			if a.Y[i] > valueAt(bs, x) {
				exceeded[x] = true
			}
		}
	}
	share := make([]float64, len(ends))
	counts := make([]float64, len(ends))
	for x := range logged {
		t := 0
		for t < len(ends)-1 && x > ends[t] {
			t++
		}
		counts[t]++
		if exceeded[x] {
			share[t]++
		}
	}
	for t := range share {
		share[t] /= math.Max(counts[t], 1)
	}
	return share, nil
}

// fitted scales a predictor to the accuracy by least squares (the paper
// "scales ρ̂ to fit the range of the actual trainability curve") and returns
// the fitted curve and Pearson's correlation.
func fitted(pred, acc []float64) ([]float64, float64) {
	n := float64(len(pred))
	var mp, ma float64
	for i := range pred {
		mp, ma = mp+pred[i]/n, ma+acc[i]/n
	}
	var spp, spa, saa float64
	for i := range pred {
		spp += (pred[i] - mp) * (pred[i] - mp)
		spa += (pred[i] - mp) * (acc[i] - ma)
		saa += (acc[i] - ma) * (acc[i] - ma)
	}
	if spp < 1e-12 {
		// A constant predictor (every step over the bound, say) carries no
		// information: no fit, no correlation.
		out := make([]float64, len(pred))
		for i := range out {
			out[i] = math.NaN()
		}
		return out, math.NaN()
	}
	slope := spa / spp
	out := make([]float64, len(pred))
	for i := range pred {
		out[i] = ma + slope*(pred[i]-mp)
	}
	return out, spa / math.Sqrt(spp*saa)
}

func fig4Report(dir string, runs []Run) (string, error) {
	var b strings.Builder
	b.WriteString("Per task (seed 0): the share of logged steps at which some layer's α exceeds each bound, scaled by least squares to the online task accuracy; r is Pearson's correlation with that accuracy (a good predictor of loss of trainability has r near −1). " +
		"The first three columns use the paper's effective step (App. C.1), the last two the public code's per-tensor variant (`--alpha-variant code`); the last compares it with the public code's own bound α_crit, the one its controller uses.\n\n")
	b.WriteString("| setting | r, α_g* | r, α_vol* | r, α̃* (ρ̂) | r, α̃*, code α | r, α_crit, code α | mean ρ̂ first 5 tasks | mean ρ̂ last 5 tasks |\n|---|---|---|---|---|---|---|---|\n")
	var verdicts []settingVerdict
	for _, r := range runs {
		if r.Config.Seed != 0 {
			continue
		}
		rd := filepath.Join(dir, "runs", r.Name)
		acc, err := train.ReadSeries(rd, "online_acc")
		if err != nil {
			return "", err
		}
		fig := plotting.Figure{Title: "Fig. 4: " + r.Group, XLabel: "task", YLabel: "online task accuracy"}
		fig.Lines = append(fig.Lines, plotting.Line{Label: "accuracy", X: acc.X, Ys: [][]float64{acc.Y}})
		rs := map[string]float64{}
		var rho []float64
		for _, c := range []struct{ alpha, bound, label string }{
			{"alpha", "alpha_g", "α_g*"}, {"alpha", "alpha_vol", "α_vol*"}, {"alpha", "alpha_tilde", "α̃*"}, {"alpha_code", "alpha_tilde", "α̃*, code α"},
			{"alpha_code", "alpha_crit", "α_crit, code α"},
		} {
			share, err := crossings(rd, linearLayers(r.Config), c.alpha, c.bound)
			if err != nil {
				return "", err
			}
			fit, corr := fitted(share, acc.Y)
			rs[c.label] = corr
			fig.Lines = append(fig.Lines, plotting.Line{Label: "fitted from " + c.label, X: acc.X, Ys: [][]float64{fit}})
			if c.label == "α̃*" {
				rho = share
			}
		}
		if err := fig.Save(filepath.Join(dir, filePrefix(runs[0])+"fig4-"+r.Group)); err != nil {
			return "", err
		}
		mean := func(v []float64) float64 {
			var s float64
			for _, x := range v {
				s += x / float64(len(v))
			}
			return s
		}
		k := min(5, len(rho))
		cell := func(r float64) string {
			if math.IsNaN(r) {
				return "saturated"
			}
			return fmt.Sprintf("%.2f", r)
		}
		fmt.Fprintf(&b, "| %s | %s | %s | %s | %s | %s | %.2f | %.2f |\n", r.Group, cell(rs["α_g*"]), cell(rs["α_vol*"]), cell(rs["α̃*"]), cell(rs["α̃*, code α"]), cell(rs["α_crit, code α"]), mean(rho[:k]), mean(rho[len(rho)-k:]))
		verdicts = append(verdicts, rhoVerdict(r.Group, rs["α̃*"], rs["α_g*"], rs["α_vol*"]))
	}
	fmt.Fprintf(&b, "\n![crelu](%[1]sfig4-crelu.png) ![l2](%[1]sfig4-l2.png) ![wasserstein](%[1]sfig4-wasserstein.png)\n\n", filePrefix(runs[0]))
	b.WriteString("\"saturated\": α exceeded that bound at (nearly) every logged step of every task, so the share is constant and predicts nothing.\n\n")
	held, said := tally(verdicts)
	fmt.Fprintf(&b, "Does the claim hold at this scale? In %d of %d settings. Test: ρ̂'s r must be negative and below both α_g*'s and α_vol*'s by more than %.2f (a smaller gap is within what one seed can tell apart). %s.\n",
		held, len(verdicts), rhoMargin, said)
	return b.String(), nil
}

// rhoMargin is how much more negative ρ̂'s correlation must be than each
// single bound's for Fig. 4's claim to count as holding in a setting.
const rhoMargin = 0.05

// settingVerdict says whether a figure's claim holds in one setting, and
// the numbers that decided it.
type settingVerdict struct {
	holds bool
	text  string
}

// tally counts the settings in which the claim holds and joins their texts.
func tally(verdicts []settingVerdict) (held int, said string) {
	texts := make([]string, len(verdicts))
	for i, v := range verdicts {
		if v.holds {
			held++
		}
		texts[i] = v.text
	}
	return held, strings.Join(texts, "; ")
}

// rhoVerdict tests Fig. 4's claim in one setting from the Pearson
// correlations of the crossing shares with accuracy; NaN means saturated.
func rhoVerdict(setting string, rho, g, vol float64) settingVerdict {
	if math.IsNaN(rho) {
		return settingVerdict{false, setting + ": ρ̂ saturated"}
	}
	best, bestName := math.Inf(1), ""
	for _, c := range []struct {
		name string
		r    float64
	}{{"α_g*", g}, {"α_vol*", vol}} {
		if !math.IsNaN(c.r) && c.r < best {
			best, bestName = c.r, c.name
		}
	}
	holds := rho < 0 && rho < best-rhoMargin
	switch {
	case holds:
		return settingVerdict{true, fmt.Sprintf("%s: ρ̂ best (r = %.2f)", setting, rho)}
	case bestName == "":
		return settingVerdict{false, fmt.Sprintf("%s: ρ̂ r = %.2f, not negative enough", setting, rho)}
	default:
		return settingVerdict{false, fmt.Sprintf("%s: ρ̂ r = %.2f against %s's %.2f", setting, rho, bestName, best)}
	}
}
