package experiments

import (
	"fmt"
	"path/filepath"
	"strings"

	"github.com/lot-toolkit/lot/plotting"
	"github.com/lot-toolkit/lot/train"
)

// signalRuns are Fig. 5's vanilla runs, logged with full diagnostics: Figs.
// 3, 10–12 and 4 read their bounds. Group is the setting's name.
func signalRuns(su Setup) []Run { return fig5Subset(su, "vanilla") }

func init() {
	for _, f := range []struct{ name, setting, paper string }{
		{"fig3", "l2", "Fig. 3 (and Fig. 10)"}, {"fig11", "crelu", "Fig. 11"}, {"fig12", "wasserstein", "Fig. 12"},
	} {
		setting := f.setting
		Figures[f.name] = Figure{
			Name:    f.name,
			Authors: true,
			Claim: f.paper + ": the first layer's effective step drifts upward across tasks and increasingly crosses the " +
				"noise bound α_g* and the combined bound α̃* (" + setting + ").",
			Runs: func(su Setup) []Run {
				var out []Run
				for _, r := range signalRuns(su) {
					if r.Group == setting {
						out = append(out, r)
					}
				}
				return out
			},
			Report: func(dir string, _ Setup, runs []Run) (string, error) { return boundsReport(dir, f.name, runs[0]) },
		}
	}
}

// boundsReport draws fc1's effective step against α_g*, α_vol* and α̃* over
// task 1, tasks 1–10 and task 10 (seed 0), and tabulates per task how often
// α exceeds each bound.
func boundsReport(dir, name string, run Run) (string, error) {
	rd := filepath.Join(dir, "runs", run.Name)
	// Drawn in this order, each over the last: α_vol*, which swings over
	// ten decades, at the back, and α, the figure's subject, on top.
	paths := []string{"alpha_vol", "alpha_g", "alpha_tilde", "alpha_code", "alpha"}
	series := map[string]train.Series{}
	byStep := map[string]map[float64]float64{}
	for _, p := range paths {
		s, err := train.ReadSeries(rd, "diag.layers.fc1."+p)
		if err != nil {
			return "", err
		}
		series[p], byStep[p] = s, stepIndex(s)
	}
	ends := series["alpha"].TaskEnds
	window := func(from, to int) (lo, hi float64) { // tasks from..to, 1-based
		if from > 1 {
			lo = ends[from-2]
		}
		return lo, ends[min(to, len(ends))-1]
	}
	panels := []struct {
		suffix   string
		from, to int
	}{{"task1", 1, 1}, {"tasks1-10", 1, 10}, {"task10", 10, 10}}
	var b strings.Builder
	for _, pn := range panels {
		if pn.from > len(ends) {
			continue // a run shorter than 10 tasks has no task 10
		}
		lo, hi := window(pn.from, min(pn.to, len(ends)))
		fig := plotting.Figure{Title: fmt.Sprintf("%s: fc1, %s (%s)", name, pn.suffix, run.Group), XLabel: "update step", YLabel: "effective step and bounds", LogY: true}
		for _, p := range paths {
			s := series[p]
			var x, y []float64
			for i := range s.X {
				if s.X[i] > lo && s.X[i] <= hi && s.Y[i] > 0 {
					x, y = append(x, s.X[i]), append(y, s.Y[i])
				}
			}
			fig.Lines = append(fig.Lines, plotting.Line{Label: p, X: x, Ys: [][]float64{y}})
		}
		for _, e := range ends {
			if e > lo && e < hi {
				fig.Boundaries = append(fig.Boundaries, e)
			}
		}
		if err := fig.Save(filepath.Join(dir, filePrefix(run)+name+"-"+pn.suffix)); err != nil {
			return "", err
		}
		fmt.Fprintf(&b, "![%s](%s%s-%s.png) ", pn.suffix, filePrefix(run), name, pn.suffix)
	}
	b.WriteString("\n\nShare of logged steps at which fc1's α exceeds each bound, and the median α, by task (seed 0); α_code is the public code's effective step:\n\n")
	b.WriteString("| task | α > α_g* | α > α_vol* | α > α̃* | α_code > α̃* | median α | median α_code | median α̃* |\n|---|---|---|---|---|---|---|---|\n")
	var stats []boundStats
	for t := 1; t <= len(ends); t++ {
		lo, hi := window(t, t)
		var n, g, v, c, cc int
		var as, acs, ts []float64
		a := series["alpha"]
		for i := range a.X {
			if a.X[i] <= lo || a.X[i] > hi {
				continue
			}
			n++
			at := func(p string) float64 { return valueAt(byStep[p], a.X[i]) }
			if a.Y[i] > at("alpha_g") {
				g++
			}
			if a.Y[i] > at("alpha_vol") {
				v++
			}
			if a.Y[i] > at("alpha_tilde") {
				c++
			}
			if at("alpha_code") > at("alpha_tilde") {
				cc++
			}
			as, acs, ts = append(as, a.Y[i]), append(acs, at("alpha_code")), append(ts, at("alpha_tilde"))
		}
		if n == 0 {
			continue
		}
		share := func(k int) float64 { return float64(k) / float64(n) }
		st := boundStats{overG: share(g), overTilde: share(c), medianAlpha: median(as)}
		stats = append(stats, st)
		if t > 3 && t%5 != 0 && t != len(ends) {
			continue
		}
		fmt.Fprintf(&b, "| %d | %.2f | %.2f | %.2f | %.2f | %.3g | %.3g | %.3g |\n", t, st.overG, share(v), st.overTilde, share(cc), st.medianAlpha, median(acs), median(ts))
	}
	b.WriteString("\n" + boundsVerdict(stats) + "\n")
	return b.String(), nil
}

// boundStats is one task's summary of fc1's effective step against the
// bounds: the shares of logged steps above α_g* and α̃*, and the median α.
type boundStats struct{ overG, overTilde, medianAlpha float64 }

// boundsVerdict tests Figs. 3 and 10–12's claim on the per-task summaries:
// it holds when, from the first five tasks to the last five, the median α
// rises and the shares of steps above α_g* and above α̃* both rise (the
// first and last halves for runs of fewer than ten tasks).
func boundsVerdict(tasks []boundStats) string {
	k := min(5, len(tasks)/2) // disjoint windows, so a short run compares halves
	if k == 0 {
		return "Does the claim hold at this scale? It cannot be tested: fewer than two tasks were logged."
	}
	mean := func(ts []boundStats, f func(boundStats) float64) float64 {
		var s float64
		for _, t := range ts {
			s += f(t) / float64(len(ts))
		}
		return s
	}
	first, last := tasks[:k], tasks[len(tasks)-k:]
	type part struct {
		what        string
		early, late float64
	}
	parts := []part{
		{"median α", mean(first, func(t boundStats) float64 { return t.medianAlpha }), mean(last, func(t boundStats) float64 { return t.medianAlpha })},
		{"share above α_g*", mean(first, func(t boundStats) float64 { return t.overG }), mean(last, func(t boundStats) float64 { return t.overG })},
		{"share above α̃*", mean(first, func(t boundStats) float64 { return t.overTilde }), mean(last, func(t boundStats) float64 { return t.overTilde })},
	}
	holds := true
	var said []string
	for _, p := range parts {
		rises := p.late > p.early
		holds = holds && rises
		said = append(said, fmt.Sprintf("%s %.3g → %.3g (%s)", p.what, p.early, p.late, map[bool]string{true: "rises", false: "does not rise"}[rises]))
	}
	return fmt.Sprintf("Does the claim hold at this scale? It %s. Test: from the mean of the first %d tasks to the mean of the last %d, the median α and the shares of steps above α_g* and α̃* must all rise. Measured: %s.",
		map[bool]string{true: "holds", false: "does not hold"}[holds], k, k, strings.Join(said, "; "))
}
