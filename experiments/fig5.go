package experiments

import (
	"fmt"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/lot-toolkit/lot/plotting"
	"github.com/lot-toolkit/lot/rundir"
)

// fig5Methods are Fig. 5's three settings.
var fig5Methods = []struct{ name, activation, reg, paper string }{
	{"crelu", "crelu", "none", "vanilla and reset ≈ 0.1, scheduled ≈ 0.5"},
	{"l2", "relu", "l2", "vanilla decays to ≈ 0.1, scheduled ≈ 0.5 by task 40"},
	{"wasserstein", "relu", "wasserstein", "vanilla decays mildly, scheduled ≈ 0.65"},
}

// fig5Variants: vanilla, reset and the per-layer scheduler. Reset is the
// optimiser rebuilt at each task under the paper's protocol (its
// "reset-at-task") and the whole model under the authors'.
var fig5Variants = []string{"vanilla", "reset", "scheduled"}

// fig5Method is the training method of a variant under a protocol.
func fig5Method(variant, protocol string) string {
	if variant != "reset" {
		return variant
	}
	if protocol == "authors" {
		return "reset-model"
	}
	return "reset-optimizer"
}

func init() {
	Figures["fig5"] = Figure{
		Name:    "fig5",
		Authors: true,
		Claim:   "The per-layer scheduler keeps training alive where vanilla and reset lose it: CReLU ≈0.5 instead of ≈0.1, L2 ≈0.5 instead of decaying to ≈0.1, Wasserstein ≈0.65.",
		Runs:    fig5Runs,
		Report:  fig5Report,
	}
}

// fig5Subset returns Fig. 5's runs of the given methods, each grouped by
// its setting alone (crelu, l2, wasserstein): the figures that reuse them
// add their own group suffix.
func fig5Subset(su Setup, variants ...string) []Run {
	var out []Run
	for _, r := range fig5Runs(su) {
		setting, variant, _ := strings.Cut(r.Group, "/")
		if slices.Contains(variants, variant) {
			r.Group = setting
			out = append(out, r)
		}
	}
	return out
}

func fig5Runs(su Setup) []Run {
	base, _ := Base(su)
	var runs []Run
	// Variants outermost: the scheduled runs, slowest, start last.
	for _, v := range fig5Variants {
		method := fig5Method(v, su.Protocol)
		for _, m := range fig5Methods {
			for s := 0; s < su.Seeds; s++ {
				name := fmt.Sprintf("fig5-%s-%s-s%d", m.name, method, s)
				// Full diagnostics for vanilla too: Figs. 3, 4, 9–12 read the
				// vanilla runs' bounds and ranks, so they need no runs of their own.
				level := "full"
				if v == "reset" {
					level = "light"
				}
				c := base
				if su.Protocol == "authors" {
					kv := []string{"activation", m.activation, "reg", m.reg, "method", method, "seed", fmt.Sprint(s), "diagnostics.level", level}
					if v == "reset" {
						// Light diagnostics solve nothing, so the solver is
						// inert here; reset runs keep the one the protocol
						// had when they were started (power), so that their
						// configs, committed and in progress, stay theirs.
						kv = append(kv, "diagnostics.solver", "power")
					}
					if v == "vanilla" {
						// Vanilla's signals steer nothing: lot's converged
						// solver measures them, at a sixth of the cost of the
						// authors' 100 cold power iterations.
						kv = append(kv, "diagnostics.solver", "lanczos", "diagnostics.sharpness_start", "warm",
							"diagnostics.power_tol", "0.001", "diagnostics.power_iters", "30")
					}
					var err error
					if c, err = su.Authors(kv...); err != nil {
						panic("experiments: the authors' Fig. 5 config: " + err.Error()) // a bug in the table above
					}
					name = "authors-" + name
				} else {
					c.Activation, c.Reg, c.Method, c.Seed, c.Diagnostics.Level = m.activation, m.reg, method, uint64(s), level
				}
				runs = append(runs, Run{Name: name, Group: m.name + "/" + v, Config: c})
			}
		}
	}
	return runs
}

// fig5Levels are the paper's Fig. 5 levels at task 40 (§6), read off the
// authors' EMA-smoothed curves; NaN where the text gives none.
var fig5Levels = map[string]float64{
	"crelu/vanilla": 0.1, "crelu/reset": 0.1, "crelu/scheduled": 0.5,
	"l2/vanilla": 0.1, "l2/reset": math.NaN(), "l2/scheduled": 0.5,
	"wasserstein/vanilla": math.NaN(), "wasserstein/reset": math.NaN(), "wasserstein/scheduled": 0.65,
}

// levelTolerance is how near the paper's level the last task's EMA must
// come for the level to count as reproduced.
const levelTolerance = 0.1

// emaWeight is the weight of each new task in the authors' smoothing of
// Fig. 5 across tasks: e₁ = a₁, e_t = 0.9·e_{t−1} + 0.1·a_t.
const emaWeight = 0.1

// ema smooths a per-task series as the authors' figure does.
func ema(y []float64) []float64 {
	out := make([]float64, len(y))
	for i, v := range y {
		if i == 0 {
			out[i] = v
		} else {
			out[i] = (1-emaWeight)*out[i-1] + emaWeight*v
		}
	}
	return out
}

// emaLine is a line with each seed's series smoothed by ema.
func emaLine(l *plotting.Line) *plotting.Line {
	out := &plotting.Line{Label: l.Label, X: l.X}
	for _, y := range l.Ys {
		out.Ys = append(out.Ys, ema(y))
	}
	return out
}

// fig5Outcome is one protocol's Fig. 5: per setting/variant, the raw and
// EMA-smoothed online accuracy per task.
type fig5Outcome struct {
	protocol  string
	length    string // "T tasks × E epochs": the quick scales differ by protocol
	raw, smth map[string]*plotting.Line
}

func readFig5(dir string, runs []Run) (*fig5Outcome, error) {
	raw, err := groupSeries(dir, runs, "online_acc")
	if err != nil {
		return nil, err
	}
	c := runs[0].Config
	o := &fig5Outcome{protocol: c.Protocol, length: fmt.Sprintf("%d tasks × %d epochs", c.Tasks, c.Epochs), raw: raw, smth: map[string]*plotting.Line{}}
	for g, l := range raw {
		o.smth[g] = emaLine(l)
	}
	return o, nil
}

// last is a group's mean over seeds at its last task.
func (o *fig5Outcome) last(lines map[string]*plotting.Line, group string) float64 {
	l := lines[group]
	mu, _ := at(l, len(l.X)-1)
	return mu
}

// direction reports whether scheduled ends above vanilla and reset in
// every setting, with a sentence per setting.
func (o *fig5Outcome) direction() (bool, []string) {
	holds := true
	var out []string
	for _, m := range fig5Methods {
		s, v, r := o.last(o.raw, m.name+"/scheduled"), o.last(o.raw, m.name+"/vanilla"), o.last(o.raw, m.name+"/reset")
		ok := s > v && s > r
		holds = holds && ok
		out = append(out, fmt.Sprintf("%s: scheduled %.3f against vanilla %.3f and reset %.3f (%s)",
			m.name, s, v, r, map[bool]string{true: "scheduled best", false: "scheduled not best"}[ok]))
	}
	return holds, out
}

// levels counts the paper's stated levels that the last task's EMA comes
// within levelTolerance of.
func (o *fig5Outcome) levels() (met, stated int, misses []string) {
	for _, m := range fig5Methods {
		for _, v := range fig5Variants {
			g := m.name + "/" + v
			want := fig5Levels[g]
			if math.IsNaN(want) {
				continue
			}
			stated++
			if got := o.last(o.smth, g); math.Abs(got-want) <= levelTolerance {
				met++
			} else {
				misses = append(misses, fmt.Sprintf("%s %.2f (paper ≈ %.2f)", g, got, want))
			}
		}
	}
	return met, stated, misses
}

// otherProtocolRuns are the Fig. 5 runs of the other protocol in dir, if
// all of them have finished there.
func otherProtocolRuns(dir string, su Setup) []Run {
	other := su
	other.Protocol = map[string]string{"paper": "authors", "authors": "paper"}[su.Protocol]
	runs := fig5Runs(other)
	for _, r := range runs {
		if _, err := os.Stat(filepath.Join(dir, "runs", r.Name, rundir.SummaryFile)); err != nil {
			return nil
		}
	}
	return runs
}

func fig5Report(dir string, su Setup, runs []Run) (string, error) {
	o, err := readFig5(dir, runs)
	if err != nil {
		return "", err
	}
	var b strings.Builder
	prefix := filePrefix(runs[0])
	seeds := len(o.raw["l2/vanilla"].Ys)
	fmt.Fprintf(&b, "Protocol: %s. Online task accuracy (the mean minibatch accuracy over the task; mean ± half the min–max range over %d seed(s)) at the first, middle and last task, and at the last task smoothed as the authors' figure (an EMA across tasks, weight %.1f per task).\n\n", o.protocol, seeds, emaWeight)
	b.WriteString("| setting | method | first | middle | last | last, EMA | paper |\n|---|---|---|---|---|---|---|\n")
	for _, m := range fig5Methods {
		raw := plotting.Figure{Title: "Fig. 5 (" + o.protocol + " protocol): " + m.name, XLabel: "task", YLabel: "online task accuracy"}
		smooth := plotting.Figure{Title: "Fig. 5 (" + o.protocol + " protocol, EMA 0.1): " + m.name, XLabel: "task", YLabel: "online task accuracy, EMA"}
		for _, v := range fig5Variants {
			g := m.name + "/" + v
			l := o.raw[g]
			raw.Lines = append(raw.Lines, *l)
			smooth.Lines = append(smooth.Lines, *o.smth[g])
			n := len(l.X)
			cells := make([]string, 3)
			for k, i := range []int{0, n / 2, n - 1} {
				mu, sp := at(l, i)
				cells[k] = fmt.Sprintf("%.3f ± %.3f", mu, sp)
			}
			mu, sp := at(o.smth[g], n-1)
			fmt.Fprintf(&b, "| %s | %s | %s | %s | %s | %.3f ± %.3f | %s |\n", m.name, v, cells[0], cells[1], cells[2], mu, sp, m.paper)
		}
		if err := raw.Save(filepath.Join(dir, prefix+"fig5-"+m.name)); err != nil {
			return "", err
		}
		if err := smooth.Save(filepath.Join(dir, prefix+"fig5-"+m.name+"-ema")); err != nil {
			return "", err
		}
	}
	b.WriteString("\n")
	for _, m := range fig5Methods {
		fmt.Fprintf(&b, "![%s](%sfig5-%s.png) ", m.name, prefix, m.name)
	}
	b.WriteString("\n\nThe authors' view (EMA 0.1 across tasks):\n\n")
	for _, m := range fig5Methods {
		fmt.Fprintf(&b, "![%s, EMA](%sfig5-%s-ema.png) ", m.name, prefix, m.name)
	}
	b.WriteString("\n\n")
	outcomes := []*fig5Outcome{o}
	if others := otherProtocolRuns(dir, su); others != nil {
		if other, err := readFig5(dir, others); err == nil {
			outcomes = append(outcomes, other)
			fmt.Fprintf(&b, "Both protocols, at the last task (raw / EMA):\n\n| setting | method | %s protocol (%s) | %s protocol (%s) | paper |\n|---|---|---|---|---|\n",
				o.protocol, o.length, other.protocol, other.length)
			for _, m := range fig5Methods {
				for _, v := range fig5Variants {
					g := m.name + "/" + v
					fmt.Fprintf(&b, "| %s | %s | %.3f / %.3f | %.3f / %.3f | %s |\n", m.name, v,
						o.last(o.raw, g), o.last(o.smth, g), other.last(other.raw, g), other.last(other.smth, g), m.paper)
				}
			}
			b.WriteString("\nOnline task accuracy per task under each protocol, the paper's text above the authors' code, on one axis:\n\n")
			for _, m := range fig5Methods {
				name := prefix + "fig5-" + m.name + "-protocols"
				if err := drawProtocols(filepath.Join(dir, name), m.name, o, other); err != nil {
					return "", err
				}
				fmt.Fprintf(&b, "![%s, both protocols](%s.png) ", m.name, name)
			}
			b.WriteString("\n\n")
		}
	}
	b.WriteString("Does the claim hold at this scale? Two tests, stated in advance: the direction (scheduled above vanilla and reset at the last task, raw, in all three settings), and the levels (the last task's EMA within ±0.1 of each level the paper's §6 states: CReLU vanilla and reset ≈ 0.1, scheduled ≈ 0.5; L2 vanilla ≈ 0.1, scheduled ≈ 0.5; Wasserstein scheduled ≈ 0.65).\n\n")
	for _, oc := range outcomes {
		holds, lines := oc.direction()
		met, stated, misses := oc.levels()
		fmt.Fprintf(&b, "- %s protocol: the direction %s (%s); levels reproduced: %d of %d",
			oc.protocol, map[bool]string{true: "holds", false: "does not hold"}[holds], strings.Join(lines, "; "), met, stated)
		if len(misses) > 0 {
			fmt.Fprintf(&b, " (missed: %s)", strings.Join(misses, ", "))
		}
		b.WriteString(".\n")
	}
	if su.Scale != "paper" {
		b.WriteString("\nAt a scale other than the paper's the levels are not expected to match.\n")
	}
	return b.String(), nil
}

// drawProtocols draws one setting's raw online accuracy per task under
// the two protocols' outcomes a and b, the paper's text above the
// authors' code, each panel's y axis from 0 to 1 so that their levels
// compare by eye (their x axes differ where their lengths do).
func drawProtocols(path, setting string, a, b *fig5Outcome) error {
	paper, authors := a, b
	if a.protocol == "authors" {
		paper, authors = b, a
	}
	panel := func(o *fig5Outcome, title, reset string) plotting.Figure {
		f := plotting.Figure{Title: fmt.Sprintf("Fig. 5, %s: %s (%s)", setting, title, o.length), YLabel: "online task accuracy", YMin: 0, YMax: 1}
		for _, v := range fig5Variants {
			l := *o.raw[setting+"/"+v]
			l.Label = v
			if v == "reset" {
				l.Label = reset
			}
			f.Lines = append(f.Lines, l)
		}
		return f
	}
	top := panel(paper, "the paper's text", "reset (optimiser)")
	bottom := panel(authors, "the authors' code", "reset (model)")
	bottom.XLabel = "task"
	return plotting.SaveStack(path, top, bottom)
}
