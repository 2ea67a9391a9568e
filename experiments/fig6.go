package experiments

import (
	"fmt"
	"path/filepath"
	"slices"
	"strings"

	"github.com/lot-toolkit/lot/plotting"
	"github.com/lot-toolkit/lot/train"
)

// Fig. 6 reads the learning rates that Fig. 5's scheduled runs learned, so
// it needs no runs of its own beyond those.
func init() {
	Figures["fig6"] = Figure{
		Authors: true,
		Name:    "fig6",
		Claim: "The learned per-layer learning rates decay like canonical schedules: L2 cools sharply and settles far below 1e-3; " +
			"Wasserstein warms briefly, then cools within tasks; CReLU warms moderately, then plateaus.",
		Runs: func(su Setup) []Run {
			runs := fig5Subset(su, "scheduled")
			for i := range runs {
				runs[i].Group += "/scheduled"
			}
			return runs
		},
		Report: func(dir string, _ Setup, runs []Run) (string, error) { return fig6Report(dir, runs) },
	}
}

func fig6Report(dir string, runs []Run) (string, error) {
	var b strings.Builder
	b.WriteString("Learning rate of each layer (seed 0) at the start, the middle and the end of the run, and the controller's decisions over the run.\n\n")
	b.WriteString("| setting | layer | start | middle | end | cool | warm | hold |\n|---|---|---|---|---|---|---|---|\n")
	var verdicts []settingVerdict
	for _, m := range fig5Methods {
		var run Run
		for _, r := range runs {
			if r.Group == m.name+"/scheduled" && r.Config.Seed == 0 {
				run = r
			}
		}
		rd := filepath.Join(dir, "runs", run.Name)
		fig := plotting.Figure{Title: "Fig. 6: " + m.name + ", scheduled", XLabel: "update step", YLabel: "learning rate", LogY: true}
		var layers []layerLR
		names := linearLayers(run.Config)
		paths := make([]string, len(names))
		for i, layer := range names {
			paths[i] = "sched." + layer
		}
		decisions, err := train.CountValues(rd, paths...)
		if err != nil {
			return "", err
		}
		for i, layer := range names {
			s, err := train.ReadSeries(rd, "lr."+layer)
			if err != nil {
				return "", err
			}
			fig.Lines = append(fig.Lines, plotting.Line{Label: layer, X: s.X, Ys: [][]float64{s.Y}})
			fig.Boundaries = s.TaskEnds
			counts := decisions[i]
			n := len(s.Y)
			fmt.Fprintf(&b, "| %s | %s | %.3g | %.3g | %.3g | %d | %d | %d |\n", m.name, layer, s.Y[0], s.Y[n/2], s.Y[n-1], counts["cool"], counts["warm"], counts["hold"])
			layers = append(layers, layerLR{name: layer, start: s.Y[0], peak: slices.Max(s.Y), end: s.Y[n-1], warms: counts["warm"]})
		}
		verdicts = append(verdicts, lrShapeVerdict(m.name, layers))
		if err := fig.Save(filepath.Join(dir, filePrefix(runs[0])+"fig6-"+m.name)); err != nil {
			return "", err
		}
	}
	fmt.Fprintf(&b, "\n![crelu](%[1]sfig6-crelu.png) ![l2](%[1]sfig6-l2.png) ![wasserstein](%[1]sfig6-wasserstein.png)\n\n", filePrefix(runs[0]))
	held, said := tally(verdicts)
	fmt.Fprintf(&b, "Does the claim hold at this scale? In %d of %d settings. Test, on each layer's start and end rate: L2, every layer ends below a third of its start; "+
		"Wasserstein, some layer was warmed above its start and every layer ends below its start; CReLU, some layer ends above its start and none above ten times it (the plateau is not tested). %s.\n",
		held, len(verdicts), said)
	return b.String(), nil
}

// layerLR is one layer's learning rate at the start of a scheduled run, its
// peak and its end, and how often the controller warmed it.
type layerLR struct {
	name             string
	start, peak, end float64
	warms            int
}

// lrShapeVerdict tests Fig. 6's description of one setting's learned rates.
func lrShapeVerdict(setting string, layers []layerLR) settingVerdict {
	all := func(f func(layerLR) bool) bool {
		for _, l := range layers {
			if !f(l) {
				return false
			}
		}
		return len(layers) > 0
	}
	some := func(f func(layerLR) bool) bool {
		for _, l := range layers {
			if f(l) {
				return true
			}
		}
		return false
	}
	var holds bool
	switch setting {
	case "l2":
		holds = all(func(l layerLR) bool { return l.end < l.start/3 })
	case "wasserstein":
		holds = some(func(l layerLR) bool { return l.peak > l.start }) && all(func(l layerLR) bool { return l.end < l.start })
	case "crelu":
		holds = some(func(l layerLR) bool { return l.end > l.start }) && all(func(l layerLR) bool { return l.end <= 10*l.start })
	}
	var ends []string
	for _, l := range layers {
		ends = append(ends, fmt.Sprintf("%s %.3g → %.3g (peak %.3g, %d warms)", l.name, l.start, l.end, l.peak, l.warms))
	}
	return settingVerdict{holds, fmt.Sprintf("%s: %s (%s)", setting, map[bool]string{true: "holds", false: "does not hold"}[holds], strings.Join(ends, ", "))}
}
