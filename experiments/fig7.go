package experiments

import (
	"fmt"
	"path/filepath"
	"strings"

	"github.com/lot-toolkit/lot/plotting"
)

// taskLengths are the epochs per task of Figs. 7–8: the paper's 100/250/500
// and, at smaller scales, the same ratios (0.4, 1, 2) to the base epochs.
var taskLengths = map[string][]int{"smoke": {1, 2, 4}, "quick": {40, 100, 200}, "paper": {100, 250, 500}}

func init() {
	claim := "The per-layer controller keeps training alive across task lengths (100, 250 and 500 epochs per task) for CReLU, L2 and Wasserstein."
	Figures["fig7"] = Figure{Name: "fig7", Claim: claim + " Fig. 7: task accuracy; Fig. 8: the learned learning rates.", Runs: fig7Runs, Report: func(dir string, _ Setup, runs []Run) (string, error) { return fig7Report(dir, runs) }}
}

func fig7Runs(su Setup) []Run {
	scale := su.Scale
	base, _ := Base(su)
	var runs []Run
	for _, e := range taskLengths[scale] {
		for _, r := range fig5Subset(su, "scheduled") {
			setting := r.Group
			r.Group = fmt.Sprintf("%s/%d epochs", setting, e)
			if e != base.Epochs { // else Fig. 5's scheduled run is this one
				r.Config.Epochs = e
				r.Name = fmt.Sprintf("fig7-%s-e%d-s%d", setting, e, r.Config.Seed)
			}
			runs = append(runs, r)
		}
	}
	return runs
}

func fig7Report(dir string, runs []Run) (string, error) {
	acc, err := groupSeries(dir, runs, "online_acc")
	if err != nil {
		return "", err
	}
	lr, err := groupTaskMeans(dir, runs, "lr.fc1", nil)
	if err != nil {
		return "", err
	}
	var b strings.Builder
	b.WriteString("Scheduled runs at three task lengths. Online accuracy (mean over seeds) at the first, middle and last task, and fc1's learning rate averaged over the first and the last task. " +
		"A run *loses trainability* when its last task's accuracy is below 0.8 of its best task's.\n\n")
	b.WriteString("| setting | epochs per task | online acc first / middle / last | fc1 lr, task 1 | fc1 lr, last task | loses trainability |\n|---|---|---|---|---|---|\n")
	alive, total := 0, 0
	for _, m := range fig5Methods {
		fa := plotting.Figure{Title: "Fig. 7: " + m.name + ", scheduled", XLabel: "task", YLabel: "online task accuracy"}
		fl := plotting.Figure{Title: "Fig. 8: " + m.name + ", scheduled", XLabel: "task", YLabel: "fc1 learning rate (task mean)", LogY: true}
		for _, g := range groupOrder(runs) {
			if !strings.HasPrefix(g, m.name+"/") {
				continue
			}
			a, l := acc[g], lr[g]
			fa.Lines, fl.Lines = append(fa.Lines, *a), append(fl.Lines, *l)
			am, lm := meanLine(a), meanLine(l)
			lost, _ := collapse(am)
			total++
			if !lost {
				alive++
			}
			n := len(am)
			fmt.Fprintf(&b, "| %s | %s | %.2f / %.2f / %.2f | %.3g | %.3g | %s |\n", m.name, strings.TrimSuffix(strings.TrimPrefix(g, m.name+"/"), " epochs"),
				am[0], am[n/2], am[n-1], lm[0], lm[len(lm)-1], yesNo(lost))
		}
		if err := fa.Save(filepath.Join(dir, "fig7-"+m.name)); err != nil {
			return "", err
		}
		if err := fl.Save(filepath.Join(dir, "fig8-"+m.name)); err != nil {
			return "", err
		}
	}
	b.WriteString("\n![crelu](fig7-crelu.png) ![l2](fig7-l2.png) ![wasserstein](fig7-wasserstein.png)\n\n")
	b.WriteString("![crelu](fig8-crelu.png) ![l2](fig8-l2.png) ![wasserstein](fig8-wasserstein.png)\n\n")
	fmt.Fprintf(&b, "Does the claim hold at this scale? %d of %d scheduled runs kept their trainability by this test.\n", alive, total)
	return b.String(), nil
}
