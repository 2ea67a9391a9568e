package experiments

import (
	"fmt"
	"math"
	"path/filepath"
	"strings"

	"github.com/lot-toolkit/lot/train"
)

// schedVariants are the controller settings compared by the "scheduler"
// experiment, which chose the defaults: the paper's effective step (App.
// C.1) and the public code's, with the paper's 0.12 floor, and the code's
// without it (the public code found the floor kept its controller idle).
// The first is lot's default, so its runs are Fig. 5's scheduled runs.
var schedVariants = []struct {
	name, alpha string
	floor       float64
}{
	{"code α, floor 0.12 (default)", "code", 0.12},
	{"paper α, floor 0.12", "paper", 0.12},
	{"code α, no floor", "code", 0},
}

func init() {
	Figures["scheduler"] = Figure{
		Name:  "scheduler",
		Extra: true,
		Claim: "(lot's own experiment, not a figure of the paper) One controller setting for every method, chosen by the mean accuracy of the last five tasks over CReLU, L2 and Wasserstein, with no per-task or per-method tuning.",
		Runs:  schedRuns,
		Report: func(dir string, _ Setup, runs []Run) (string, error) {
			return schedReport(dir, runs)
		},
	}
}

func schedRuns(su Setup) []Run {
	var runs []Run
	for i, v := range schedVariants {
		for _, r := range fig5Subset(su, "scheduled") {
			setting := r.Group
			r.Group = setting + "/" + v.name
			if i > 0 { // the first is Fig. 5's run
				r.Config.Schedule.Alpha, r.Config.Schedule.Floor = v.alpha, v.floor
				r.Name = fmt.Sprintf("sched-%s-%s-floor%g-s%d", setting, v.alpha, v.floor, r.Config.Seed)
			}
			runs = append(runs, r)
		}
	}
	return runs
}

// schedReport tabulates, per variant and setting, the last tasks' accuracy,
// fc1's decisions, the smallest compared α, and how often the floor alone
// stopped a cooling that the bound called for.
func schedReport(dir string, runs []Run) (string, error) {
	acc, err := groupSeries(dir, runs, "online_acc")
	if err != nil {
		return "", err
	}
	var b strings.Builder
	b.WriteString("Per controller setting and method (seed 0 for the decision columns): mean online accuracy over the last five tasks (mean over seeds); fc1's decisions; the smallest compared effective step; and *floor holds*, the logged steps at which fc1's α exceeded γ·bound but not the floor, so that only the floor held it.\n\n")
	b.WriteString("| setting | controller | acc, last 5 tasks | fc1 cool / warm / hold | min α of fc1 | floor holds |\n|---|---|---|---|---|---|\n")
	score := map[string]float64{}
	for _, m := range fig5Methods {
		for _, v := range schedVariants {
			g := m.name + "/" + v.name
			am := meanLine(acc[g])
			var last float64
			for _, a := range am[len(am)-min(5, len(am)):] {
				last += a / float64(min(5, len(am)))
			}
			score[v.name] += last / float64(len(fig5Methods))
			var run Run
			for _, r := range runs {
				if r.Group == g && r.Config.Seed == 0 {
					run = r
				}
			}
			rd := filepath.Join(dir, "runs", run.Name)
			decisions, err := train.CountValues(rd, "sched.fc1")
			if err != nil {
				return "", err
			}
			counts := decisions[0]
			minAlpha, floorHolds, err := floorStats(rd, run.Config)
			if err != nil {
				return "", err
			}
			fmt.Fprintf(&b, "| %s | %s | %.3f | %d / %d / %d | %.3g | %d |\n", m.name, v.name, last, counts["cool"], counts["warm"], counts["hold"], minAlpha, floorHolds)
		}
	}
	best := schedVariants[0].name
	b.WriteString("\nMean over the three methods of the last five tasks' accuracy: ")
	var parts []string
	for _, v := range schedVariants {
		parts = append(parts, fmt.Sprintf("%s %.3f", v.name, score[v.name]))
		if score[v.name] > score[best] {
			best = v.name
		}
	}
	fmt.Fprintf(&b, "%s. The best setting here is **%s**.\n", strings.Join(parts, "; "), best)
	return b.String(), nil
}

// floorStats reads fc1's compared α and bound of a scheduled run and returns
// the smallest α and the number of logged steps at which only the floor
// kept the controller from cooling.
func floorStats(rd string, cfg train.Config) (minAlpha float64, holds int, err error) {
	alphaPath := map[string]string{"code": "alpha_code"}[cfg.Schedule.Alpha]
	if alphaPath == "" {
		alphaPath = "alpha"
	}
	a, err := train.ReadSeries(rd, "diag.layers.fc1."+alphaPath)
	if err != nil {
		return 0, 0, err
	}
	bound, err := train.ReadSeries(rd, "diag.layers.fc1.alpha_tilde")
	if err != nil {
		return 0, 0, err
	}
	bs := stepIndex(bound)
	gamma := cfg.Schedule.Gamma
	minAlpha = math.Inf(1)
	for i, x := range a.X {
		minAlpha = math.Min(minAlpha, a.Y[i])
		if a.Y[i] > gamma*valueAt(bs, x) && a.Y[i] <= cfg.Schedule.Floor {
			holds++
		}
	}
	return minAlpha, holds, nil
}
