package experiments

import (
	"fmt"
	"math"
	"path/filepath"
	"strings"

	"github.com/lot-toolkit/lot/plotting"
)

func init() {
	Figures["fig9"] = Figure{
		Authors: true,
		Name:    "fig9",
		Claim: "Hessian rank of vanilla and scheduled runs (App. A.2): rank decay goes with loss of trainability only when the noise and volatility " +
			"signals agree, so rank alone need not separate the run that stays trainable.",
		Runs: func(su Setup) []Run {
			runs := fig5Subset(su, "vanilla", "scheduled")
			for i := range runs {
				runs[i].Group += "/" + runs[i].Config.Method
			}
			return runs
		},
		Report: func(dir string, _ Setup, runs []Run) (string, error) { return fig9Report(dir, runs) },
	}
}

func fig9Report(dir string, runs []Run) (string, error) {
	rank, err := groupTaskMeans(dir, runs, "diag.fisher_rank", nil)
	if err != nil {
		return "", err
	}
	acc, err := groupSeries(dir, runs, "online_acc")
	if err != nil {
		return "", err
	}
	var b strings.Builder
	b.WriteString("Hessian rank as the public code measures it (empirical Fisher of up to 100 samples of the batch, 99% of the spectrum, divided by 100), averaged over each task's logged steps.\n\n")
	b.WriteString("| setting | method | rank, task 1 | rank, last task | online acc, last task |\n|---|---|---|---|---|\n")
	var agree []string
	for _, m := range fig5Methods {
		fig := plotting.Figure{Title: "Fig. 9: " + m.name, XLabel: "task", YLabel: "Hessian rank (empirical Fisher)"}
		last := map[string][2]float64{}
		for _, v := range []string{"vanilla", "scheduled"} {
			g := m.name + "/" + v
			r, a := rank[g], acc[g]
			fig.Lines = append(fig.Lines, *r)
			rm, am := meanLine(r), meanLine(a)
			last[v] = [2]float64{rm[len(rm)-1], am[len(am)-1]}
			fmt.Fprintf(&b, "| %s | %s | %.3f | %.3f | %.2f |\n", m.name, v, rm[0], rm[len(rm)-1], am[len(am)-1])
		}
		if err := fig.Save(filepath.Join(dir, filePrefix(runs[0])+"fig9-"+m.name)); err != nil {
			return "", err
		}
		s, v := last["scheduled"], last["vanilla"]
		switch {
		case math.Abs(s[0]-v[0]) < 0.01:
			agree = append(agree, m.name+": the final ranks are within 0.01, so rank does not separate the runs")
		case (s[0] > v[0]) == (s[1] > v[1]):
			agree = append(agree, m.name+": the run with the higher final rank is the more trainable one")
		default:
			agree = append(agree, m.name+": the run with the higher final rank is the less trainable one")
		}
	}
	fmt.Fprintf(&b, "\n![crelu](%[1]sfig9-crelu.png) ![l2](%[1]sfig9-l2.png) ![wasserstein](%[1]sfig9-wasserstein.png)\n\n", filePrefix(runs[0]))
	b.WriteString("Does the claim hold at this scale? " + strings.Join(agree, "; ") + ".\n")
	return b.String(), nil
}
