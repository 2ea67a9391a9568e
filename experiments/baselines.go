package experiments

import (
	"cmp"
	"fmt"
	"math"
	"path/filepath"
	"slices"
	"strings"

	"github.com/lot-toolkit/lot/plotting"
)

// The baselines comparison (`lot reproduce baselines`): every method on
// the random-label and the permuted-MNIST streams, in Fig. 5's L2 setting
// (ReLU, coupled L2 λ = 1e-3), where vanilla loses trainability at the
// quick scale (README, "The quick preset"). The spectral regulariser
// takes L2's place. Every run measures full diagnostics, so that the
// report can set each method's signals beside its accuracy.

// baselineMethod is one compared method: a --method and its regulariser.
type baselineMethod struct{ name, method, reg, strength string }

var baselineMethods = []baselineMethod{
	{"vanilla", "vanilla", "l2", "0.001"},
	{"reset-optimizer", "reset-optimizer", "l2", "0.001"},
	{"reset-model", "reset-model", "l2", "0.001"},
	{"scheduled", "scheduled", "l2", "0.001"},
	{"cbp", "cbp", "l2", "0.001"},
	{"redo", "redo", "l2", "0.001"},
	{"shrink-perturb", "shrink-perturb", "l2", "0.001"},
	// λ = 1e-4, the authors' public code's spectral_lambda.
	{"spectral", "vanilla", "spectral", "0.0001"},
}

var baselineStreams = []string{"random-label", "permuted"}

// baselineSignals are the paper's signals read per task: the name in the
// report, the metric, and whether it is per step (averaged per task).
var baselineSignals = []struct{ name, metric string }{
	{"ρ̂ (share of steps above the bound)", "rho_hat"},
	{"dead units (fc1)", "diag.layers.fc1.dead_units"},
	{"effective rank (fc1)", "diag.layers.fc1.effective_rank"},
	{"Fisher rank", "diag.fisher_rank"},
}

func init() {
	Figures["baselines"] = Figure{
		Name:   "baselines",
		Extra:  true,
		Claim:  "(lot's own comparison, not a figure of the paper) The field's remedies for lost plasticity, ranked on one engine, with the paper's signals beside each.",
		Runs:   baselineRuns,
		Report: func(dir string, _ Setup, runs []Run) (string, error) { return baselineReport(dir, runs) },
	}
}

func baselineRuns(su Setup) []Run {
	base, _ := Base(su)
	var runs []Run
	for _, stream := range baselineStreams {
		for _, m := range baselineMethods {
			for s := range su.Seeds {
				c := base
				for _, kv := range [][2]string{{"stream", stream}, {"activation", "relu"}, {"method", m.method}, {"reg", m.reg},
					{"reg_strength", m.strength}, {"diagnostics.level", "full"}, {"seed", fmt.Sprint(s)}} {
					if err := c.Set(kv[0], kv[1]); err != nil {
						panic("experiments: the baselines' table: " + err.Error()) // a bug in the table above
					}
				}
				runs = append(runs, Run{Name: fmt.Sprintf("baselines-%s-%s-s%d", stream, m.name, s), Group: stream + "/" + m.name, Config: c})
			}
		}
	}
	return runs
}

// tCrit is Student's t at 0.975 for n−1 degrees of freedom (n seeds), so
// that mean ± tCrit·sd/√n is a 95% interval; NaN for one seed.
func tCrit(n int) float64 {
	table := []float64{math.NaN(), math.NaN(), 12.706, 4.303, 3.182, 2.776, 2.571, 2.447, 2.365, 2.306, 2.262}
	if n < len(table) {
		return table[n]
	}
	return 1.96 + 2.5/float64(n) // within 0.01 of t beyond ten seeds
}

// meanCI is the mean of v and the half-width of its 95% interval.
func meanCI(v []float64) (mean, half float64) {
	for _, x := range v {
		mean += x / float64(len(v))
	}
	if len(v) < 2 {
		return mean, math.NaN()
	}
	var ss float64
	for _, x := range v {
		ss += (x - mean) * (x - mean)
	}
	return mean, tCrit(len(v)) * math.Sqrt(ss/float64(len(v)-1)) / math.Sqrt(float64(len(v)))
}

// seedMean is the mean over a line's seeds at each x (NaNs skipped).
func seedMean(l *plotting.Line) []float64 {
	out := make([]float64, len(l.X))
	for i := range l.X {
		var s, n float64
		for _, y := range l.Ys {
			if !math.IsNaN(y[i]) {
				s, n = s+y[i], n+1
			}
		}
		out[i] = s / n
	}
	return out
}

// Tracking thresholds: a signal tracked accuracy when their correlation
// over tasks is at least trackR in size; accuracy that moves less than
// flatAcc over the stream gives a signal nothing to track.
const (
	trackR  = 0.6
	flatAcc = 0.02
)

func baselineReport(dir string, runs []Run) (string, error) {
	acc, err := groupSeries(dir, runs, "online_acc")
	if err != nil {
		return "", err
	}
	signals := make([]map[string]*plotting.Line, len(baselineSignals))
	for i, sg := range baselineSignals {
		if sg.metric == "rho_hat" {
			signals[i], err = groupSeries(dir, runs, sg.metric)
		} else {
			signals[i], err = groupTaskMeans(dir, runs, sg.metric, nil)
		}
		if err != nil {
			return "", err
		}
	}
	var b strings.Builder
	b.WriteString("Every method in Fig. 5's L2 setting (ReLU, coupled L2 λ = 1e-3; spectral regularisation, λ = 1e-4, in L2's place), with full diagnostics. " +
		"Online accuracy is the mean minibatch accuracy within a task; \"all tasks\" averages it over the stream, \"last task\" is the final task's. " +
		"Each cell is the mean over seeds ± the half-width of its 95% Student-t interval.\n")
	for _, stream := range baselineStreams {
		type rowT struct {
			name               string
			all, allH, lst, lH float64
			n                  int
		}
		var rows []rowT
		fig := plotting.Figure{Title: "baselines: " + stream, XLabel: "task", YLabel: "online task accuracy"}
		for _, m := range baselineMethods {
			l, ok := acc[stream+"/"+m.name]
			if !ok {
				continue
			}
			fig.Lines = append(fig.Lines, *l)
			var alls, lasts []float64
			for _, y := range l.Ys {
				var s float64
				for _, v := range y {
					s += v / float64(len(y))
				}
				alls, lasts = append(alls, s), append(lasts, y[len(y)-1])
			}
			r := rowT{name: m.name, n: len(l.Ys)}
			r.all, r.allH = meanCI(alls)
			r.lst, r.lH = meanCI(lasts)
			rows = append(rows, r)
		}
		slices.SortStableFunc(rows, func(a, b rowT) int { return cmp.Compare(b.all, a.all) })
		fmt.Fprintf(&b, "\n### %s\n\n| rank | method | seeds | online acc, all tasks | online acc, last task |\n|---|---|---|---|---|\n", stream)
		for i, r := range rows {
			fmt.Fprintf(&b, "| %d | %s | %d | %.3f ± %s | %.3f ± %s |\n", i+1, r.name, r.n, r.all, ci(r.allH), r.lst, ci(r.lH))
		}
		accPath := "baselines-" + stream + "-acc"
		if err := fig.Save(filepath.Join(dir, accPath)); err != nil {
			return "", err
		}
		fmt.Fprintf(&b, "\n![%s accuracy](%s.png)\n\n", stream, accPath)
		// The signals, one stacked figure per method, and the verdicts.
		b.WriteString("Which of the paper's signals tracked each method's accuracy over the stream: the correlation r over tasks of the signal's per-task value (seed mean) with the online accuracy (seed mean); " +
			fmt.Sprintf("|r| ≥ %.1f counts as tracking. Accuracy that moves less than %.2f over the stream leaves nothing to track.\n\n", trackR, flatAcc))
		b.WriteString("| method |")
		for _, sg := range baselineSignals {
			b.WriteString(" " + sg.name + " |")
		}
		b.WriteString(" tracked | did not track |\n|---|" + strings.Repeat("---|", len(baselineSignals)+2) + "\n")
		for _, m := range baselineMethods {
			group := stream + "/" + m.name
			l, ok := acc[group]
			if !ok {
				continue
			}
			a := seedMean(l)
			lo, hi := slices.Min(a), slices.Max(a)
			stack := []plotting.Figure{{Title: fmt.Sprintf("%s, %s", stream, m.name), XLabel: "task", YLabel: "online accuracy", Lines: []plotting.Line{*l}}}
			var tracked, not []string
			fmt.Fprintf(&b, "| %s |", m.name)
			for i, sg := range baselineSignals {
				sl, ok := signals[i][group]
				if !ok {
					b.WriteString(" not measured |")
					continue
				}
				stack = append(stack, plotting.Figure{XLabel: "task", YLabel: sg.name, Lines: []plotting.Line{*sl}})
				cell, tracks := trackCell(seedMean(sl), a)
				fmt.Fprintf(&b, " %s |", cell)
				switch {
				case hi-lo < flatAcc:
				case tracks:
					tracked = append(tracked, sg.name)
				default:
					not = append(not, sg.name)
				}
			}
			if hi-lo < flatAcc {
				fmt.Fprintf(&b, " — (accuracy flat, %.3f–%.3f) | — |\n", lo, hi)
			} else {
				fmt.Fprintf(&b, " %s | %s |\n", orNone(tracked), orNone(not))
			}
			if err := plotting.SaveStack(filepath.Join(dir, "baselines-"+stream+"-"+m.name+"-signals"), stack...); err != nil {
				return "", err
			}
		}
		fmt.Fprintf(&b, "\nSignals over the stream, per method: %s.\n", signalLinks(stream))
	}
	return b.String(), nil
}

// trackCell is a signal's cell in the tracking table, its correlation r
// with the accuracy over tasks, and whether |r| ≥ trackR. A signal that
// never moves (ρ̂ at 1 on every task, say) has no correlation; the cell
// says so and gives its value.
func trackCell(signal, acc []float64) (string, bool) {
	lo, hi := math.Inf(1), math.Inf(-1)
	for _, v := range signal {
		if !math.IsNaN(v) {
			lo, hi = min(lo, v), max(hi, v)
		}
	}
	if lo == hi {
		return fmt.Sprintf("constant, %.2f", lo), false
	}
	r := pearson(signal, acc)
	return "r = " + num(r), !math.IsNaN(r) && math.Abs(r) >= trackR
}

func signalLinks(stream string) string {
	var links []string
	for _, m := range baselineMethods {
		links = append(links, fmt.Sprintf("[%s](baselines-%s-%s-signals.png)", m.name, stream, m.name))
	}
	return strings.Join(links, ", ")
}

func ci(h float64) string {
	if math.IsNaN(h) {
		return "n/a (one seed)"
	}
	return fmt.Sprintf("%.3f", h)
}

func num(v float64) string {
	if math.IsNaN(v) {
		return "n/a"
	}
	return fmt.Sprintf("%+.2f", v)
}

func orNone(s []string) string {
	if len(s) == 0 {
		return "none"
	}
	return strings.Join(s, ", ")
}
