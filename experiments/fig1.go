package experiments

import (
	"fmt"
	"math"
	"path/filepath"
	"strings"

	"github.com/lot-toolkit/lot/plotting"
)

// fig1Settings are Fig. 1's six settings beyond Fig. 5's. All are vanilla
// at the scale's base config; the paper does not give the deep linear net's
// depth, so it is three hidden layers of the base width.
var fig1Settings = []struct {
	name, activation, reg string
	batchnorm, deep       bool
}{
	{"bn+wd", "relu", "l2", true, false},
	{"leaky 0.3", "leaky_relu:0.3", "none", false, false},
	{"leaky 0.7", "leaky_relu:0.7", "none", false, false},
	{"deep linear", "linear", "none", false, true},
}

// fig1Panels are the six counterexamples: the metric, the pair of settings,
// and what the paper reports for them (the metric's direction over the
// stream in both, and which of the two lose trainability).
var fig1Panels = []struct {
	id, title, metric string
	of                func(float64) float64                       // applied to each logged value (nil: none)
	value             func(rd string) (x, y []float64, err error) // instead of metric, when set
	pair              [2]string
	trend             string
	loses             [2]bool
	paper             string
}{
	{"a", "Hessian rank (empirical Fisher, 99%)", "diag.fisher_rank", nil, nil, [2]string{"l2", "wasserstein"}, "flat", [2]bool{true, false},
		"rank stays high under L2 while accuracy collapses; Wasserstein stays trainable at a similar rank"},
	{"b", "unit-sign entropy of fc1 (bits)", "diag.layers.fc1.use", nil, nil, [2]string{"bn+wd", "leaky 0.3"}, "flat", [2]bool{true, true},
		"accuracy decays in both while USE stays stable (BatchNorm) or dips only slightly (LeakyReLU 0.3)"},
	{"c", "sharpness (top Hessian eigenvalue)", "diag.sharpness", nil, nil, [2]string{"leaky 0.7", "leaky 0.3"}, "rises", [2]bool{false, true},
		"sharpness rises in both, yet only LeakyReLU 0.3 loses trainability"},
	{"d", "weight norm", "diag.weight_norm", nil, nil, [2]string{"leaky 0.7", "leaky 0.3"}, "rises", [2]bool{false, true},
		"the weight norm grows alike in both, with different trainability"},
	{"e", "gradient norm", "diag.grad_norm_sq", math.Sqrt, nil, [2]string{"bn+wd", "wasserstein"}, "falls", [2]bool{true, false},
		"the gradient norm decays in both, and the faster-decaying one can stay trainable"},
	{"f", "gradient / parameter ratio", "", nil, gradParamRatio, [2]string{"deep linear", "leaky 0.3"}, "falls", [2]bool{false, true},
		"the ratio falls for both, but only LeakyReLU loses trainability"},
}

func init() {
	Figures["fig1"] = Figure{
		Name: "fig1",
		Claim: "No single metric explains loss of trainability: for each of Hessian rank, unit-sign entropy, sharpness, weight norm, " +
			"gradient norm and grad/param ratio there is a pair of settings where the metric behaves alike but trainability differs, or the reverse.",
		Runs:   fig1Runs,
		Report: func(dir string, _ Setup, runs []Run) (string, error) { return fig1Report(dir, runs) },
	}
}

func fig1Runs(su Setup) []Run {
	seeds := su.Seeds
	var runs []Run
	for _, r := range signalRuns(su) {
		if r.Group != "crelu" {
			runs = append(runs, r)
		}
	}
	base, _ := Base(su)
	for _, st := range fig1Settings {
		for s := 0; s < seeds; s++ {
			c := base
			c.Activation, c.Reg, c.BatchNorm, c.Method, c.Seed = st.activation, st.reg, st.batchnorm, "vanilla", uint64(s)
			if st.deep {
				w := c.Hidden[0]
				c.Hidden = []int{w, w, w}
			}
			// Only panel (c), the LeakyReLU pair, reads the whole network's
			// sharpness, which costs about as much again as the rest.
			c.Diagnostics.Level, c.Diagnostics.GlobalSharp = "full", strings.HasPrefix(st.name, "leaky")
			name := strings.NewReplacer(" ", "-", "+", "-").Replace(st.name)
			runs = append(runs, Run{Name: fmt.Sprintf("fig1-%s-s%d", name, s), Group: st.name, Config: c})
		}
	}
	return runs
}

// gradParamRatio is ‖ĝ‖/‖θ‖ of the whole network, per task.
func gradParamRatio(rd string) (x, y []float64, err error) {
	x, g, err := taskMeans(rd, "diag.grad_norm_sq", math.Sqrt)
	if err != nil {
		return nil, nil, err
	}
	_, w, err := taskMeans(rd, "diag.weight_norm", nil)
	if err != nil {
		return nil, nil, err
	}
	for i := range g {
		y = append(y, g[i]/w[i])
	}
	return x, y, nil
}

func fig1Report(dir string, runs []Run) (string, error) {
	acc, err := groupSeries(dir, runs, "online_acc")
	if err != nil {
		return "", err
	}
	var b strings.Builder
	b.WriteString("Each panel: the metric's mean over each task's logged steps (top) and the online task accuracy (bottom) for a pair of vanilla settings. " +
		"A setting *loses trainability* when its last task's accuracy is below 0.8 of its best task's; a metric *rises* or *falls* when its last task's mean differs from its first task's by more than 10%, else it is *flat*. " +
		"A panel reproduces when both the paper's trainability outcome and the metric's direction in both settings match.\n\n")
	b.WriteString("| panel | metric | setting | metric, task 1 | metric, last task | direction (paper) | online acc first / best / last | loses trainability (paper) | reproduces |\n|---|---|---|---|---|---|---|---|---|\n")
	var held []string
	for _, p := range fig1Panels {
		top := plotting.Figure{Title: fmt.Sprintf("Fig. 1(%s): %s", p.id, p.title), XLabel: "task", YLabel: p.title}
		bottom := plotting.Figure{XLabel: "task", YLabel: "online task accuracy"}
		ok := true
		var rows []string
		for k, setting := range p.pair {
			var sel []Run
			for _, r := range runs {
				if r.Group == setting {
					sel = append(sel, r)
				}
			}
			read := p.value
			if read == nil {
				metric, of := p.metric, p.of
				read = func(rd string) ([]float64, []float64, error) { return taskMeans(rd, metric, of) }
			}
			lines := map[string]*plotting.Line{}
			for _, r := range sel {
				x, y, err := read(filepath.Join(dir, "runs", r.Name))
				if err != nil {
					return "", err
				}
				if err := addSeed(lines, r, x, y); err != nil {
					return "", err
				}
			}
			m, a := lines[setting], acc[setting]
			top.Lines, bottom.Lines = append(top.Lines, *m), append(bottom.Lines, *a)
			mean := meanLine(m)
			accMean := meanLine(a)
			lost, _ := collapse(accMean)
			direction := trend(mean)
			match := lost == p.loses[k] && direction == p.trend
			ok = ok && match
			best := accMean[0]
			for _, v := range accMean {
				best = math.Max(best, v)
			}
			rows = append(rows, fmt.Sprintf("| %s | %s | %s | %.3g | %.3g | %s (%s) | %.2f / %.2f / %.2f | %s (%s) |",
				p.id, p.title, setting, mean[0], mean[len(mean)-1], direction, p.trend, accMean[0], best, accMean[len(accMean)-1],
				yesNo(lost), yesNo(p.loses[k])))
		}
		for _, r := range rows {
			fmt.Fprintf(&b, "%s %s |\n", r, yesNo(ok))
		}
		if err := plotting.SaveStack(filepath.Join(dir, "fig1"+p.id), top, bottom); err != nil {
			return "", err
		}
		if ok {
			held = append(held, p.id)
		}
	}
	b.WriteString("\n")
	for _, p := range fig1Panels {
		fmt.Fprintf(&b, "![fig1%s](fig1%s.png) ", p.id, p.id)
	}
	fmt.Fprintf(&b, "\n\nPaper, per panel: %s.\n\n", panelClaims())
	fmt.Fprintf(&b, "Does the claim hold at this scale? %d of 6 panels reproduce as the paper describes them", len(held))
	if len(held) > 0 {
		fmt.Fprintf(&b, " (%s)", strings.Join(held, ", "))
	}
	b.WriteString(". ")
	b.WriteString("A panel that does not reproduce can still be a counterexample of another shape (the table shows each metric and outcome); the check above is only against the paper's own description.\n")
	return b.String(), nil
}

func panelClaims() string {
	var s []string
	for _, p := range fig1Panels {
		s = append(s, fmt.Sprintf("(%s) %s", p.id, p.paper))
	}
	return strings.Join(s, "; ")
}

// meanLine is a line's mean over seeds, per point.
func meanLine(l *plotting.Line) []float64 {
	out := make([]float64, len(l.X))
	for i := range out {
		out[i], _ = at(l, i)
	}
	return out
}

func yesNo(b bool) string { return map[bool]string{true: "yes", false: "no"}[b] }
