package experiments

import (
	"fmt"
	"path/filepath"
	"strings"

	"github.com/lot-toolkit/lot/plotting"
	"github.com/lot-toolkit/lot/train"
)

// Fig. 6 reads the learning rates that Fig. 5's scheduled runs learned, so
// it needs no runs of its own beyond those.
func init() {
	Figures["fig6"] = Figure{
		Name: "fig6",
		Claim: "The learned per-layer learning rates decay like canonical schedules: L2 cools sharply and settles far below 1e-3; " +
			"Wasserstein warms briefly, then cools within tasks; CReLU warms moderately, then plateaus.",
		Runs: func(scale string, seeds int) []Run {
			runs := fig5Subset(scale, seeds, "scheduled")
			for i := range runs {
				runs[i].Group += "/scheduled"
			}
			return runs
		},
		Report: fig6Report,
	}
}

func fig6Report(dir string, runs []Run) (string, error) {
	var b strings.Builder
	b.WriteString("Learning rate of each layer (seed 0) at the start, the middle and the end of the run, and the controller's decisions over the run.\n\n")
	b.WriteString("| setting | layer | start | middle | end | cool | warm | hold |\n|---|---|---|---|---|---|---|---|\n")
	for _, m := range fig5Methods {
		var run Run
		for _, r := range runs {
			if r.Group == m.name+"/scheduled" && r.Config.Seed == 0 {
				run = r
			}
		}
		rd := filepath.Join(dir, "runs", run.Name)
		fig := plotting.Figure{Title: "Fig. 6: " + m.name + ", scheduled", XLabel: "update step", YLabel: "learning rate", LogY: true}
		for _, layer := range []string{"fc1", "fc2"} {
			s, err := train.ReadSeries(rd, "lr."+layer)
			if err != nil {
				return "", err
			}
			fig.Lines = append(fig.Lines, plotting.Line{Label: layer, X: s.X, Ys: [][]float64{s.Y}})
			fig.Boundaries = s.TaskEnds
			counts, err := train.CountValues(rd, "sched."+layer)
			if err != nil {
				return "", err
			}
			n := len(s.Y)
			fmt.Fprintf(&b, "| %s | %s | %.3g | %.3g | %.3g | %d | %d | %d |\n", m.name, layer, s.Y[0], s.Y[n/2], s.Y[n-1], counts["cool"], counts["warm"], counts["hold"])
		}
		if err := fig.Save(filepath.Join(dir, "fig6-"+m.name)); err != nil {
			return "", err
		}
	}
	b.WriteString("\n![crelu](fig6-crelu.png) ![l2](fig6-l2.png) ![wasserstein](fig6-wasserstein.png)\n\n")
	b.WriteString("Whether the shapes match the paper's description is read from the table: a warm count of 0 means the controller never warmed that layer.\n")
	return b.String(), nil
}
