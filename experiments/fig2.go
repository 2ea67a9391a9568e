package experiments

import (
	"fmt"
	"math"
	"path/filepath"
	"strings"

	"github.com/lot-toolkit/lot/plotting"
)

// fig2LRs are the learning rates of Fig. 2 per scale (the paper does not
// list its own): the scale's base rate with one below and one above it.
var fig2LRs = map[string][]float64{"smoke": {5e-3, 1e-2, 2e-2}, "quick": {1e-2, 2e-2, 4e-2}, "paper": {1e-3, 3e-3, 1e-2}}

func init() {
	Figures["fig2"] = Figure{
		Name:   "fig2",
		Claim:  "The curvature volatility Vol_λ grows before accuracy collapses, for L2 at several learning rates.",
		Runs:   fig2Runs,
		Report: func(dir string, _ Setup, runs []Run) (string, error) { return fig2Report(dir, runs) },
	}
}

func fig2Runs(su Setup) []Run {
	scale, seeds := su.Scale, su.Seeds
	var runs []Run
	base, _ := Base(su)
	for _, lr := range fig2LRs[scale] {
		group := fmt.Sprintf("lr %g", lr)
		if lr == base.LR { // Fig. 5's vanilla L2 run is this one
			for _, r := range signalRuns(su) {
				if r.Group == "l2" {
					r.Group = group
					runs = append(runs, r)
				}
			}
			continue
		}
		for s := 0; s < seeds; s++ {
			c := base
			c.Activation, c.Reg, c.Method, c.LR, c.Seed = "relu", "l2", "vanilla", lr, uint64(s)
			c.Diagnostics.Level = "full"
			runs = append(runs, Run{Name: fmt.Sprintf("fig2-l2-lr%g-s%d", lr, s), Group: group, Config: c})
		}
	}
	return runs
}

// fig2Report draws fc1's per-task mean volatility over the online accuracy
// and, per learning rate, compares the task at which the volatility first
// doubles its task-1 level with the task at which accuracy collapses.
func fig2Report(dir string, runs []Run) (string, error) {
	vol, err := groupTaskMeans(dir, runs, "diag.layers.fc1.vol", nil)
	if err != nil {
		return "", err
	}
	acc, err := groupSeries(dir, runs, "online_acc")
	if err != nil {
		return "", err
	}
	top := plotting.Figure{Title: "Fig. 2: L2, volatility of fc1's normalised sharpness", XLabel: "task", YLabel: "Vol (task mean)", LogY: true}
	bottom := plotting.Figure{XLabel: "task", YLabel: "online task accuracy"}
	var b strings.Builder
	b.WriteString("Per learning rate: fc1's Vol (mean over each task's logged steps) and the online accuracy. *Vol doubles* is the first task whose mean Vol is at least twice task 1's; " +
		"*collapse* is the first task after the best one whose accuracy is below 0.8 of the best (0: none). Pearson's r is between the per-task Vol and accuracy.\n\n")
	b.WriteString("| learning rate | Vol task 1 | Vol last task | online acc first / last | Vol doubles at task | collapse at task | r(Vol, acc) | Vol first |\n|---|---|---|---|---|---|---|---|\n")
	precede, collapsed := 0, 0
	for _, g := range groupOrder(runs) {
		v, a := vol[g], acc[g]
		top.Lines, bottom.Lines = append(top.Lines, *v), append(bottom.Lines, *a)
		vm, am := meanLine(v), meanLine(a)
		doubles := 0
		for t, x := range vm {
			if x >= 2*vm[0] {
				doubles = t + 1
				break
			}
		}
		_, fall := collapse(am)
		first := "—"
		if fall > 0 {
			collapsed++
			first = yesNo(doubles > 0 && doubles <= fall)
			if doubles > 0 && doubles <= fall {
				precede++
			}
		}
		fmt.Fprintf(&b, "| %s | %.3g | %.3g | %.2f / %.2f | %d | %d | %.2f | %s |\n", strings.TrimPrefix(g, "lr "), vm[0], vm[len(vm)-1], am[0], am[len(am)-1], doubles, fall, pearson(vm, am), first)
	}
	if err := plotting.SaveStack(filepath.Join(dir, "fig2"), top, bottom); err != nil {
		return "", err
	}
	b.WriteString("\n![fig2](fig2.png)\n\n")
	if collapsed == 0 {
		b.WriteString("Does the claim hold at this scale? It cannot be tested: accuracy collapsed at none of the learning rates.\n")
	} else {
		fmt.Fprintf(&b, "Does the claim hold at this scale? Vol doubled at or before the collapse in %d of the %d learning rates whose accuracy collapsed.\n", precede, collapsed)
	}
	return b.String(), nil
}

// pearson is the correlation of x and y over the points finite in both.
func pearson(x, y []float64) float64 {
	var xs, ys []float64
	for i := range x {
		if !math.IsNaN(x[i]+y[i]) && !math.IsInf(x[i]+y[i], 0) {
			xs, ys = append(xs, x[i]), append(ys, y[i])
		}
	}
	_, r := fitted(xs, ys)
	return r
}
