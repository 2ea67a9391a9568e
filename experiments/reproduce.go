package experiments

import (
	"bytes"
	"cmp"
	"context"
	"errors"
	"fmt"
	"os"
	"path"
	"path/filepath"
	"slices"
	"strings"

	"github.com/lot-toolkit/lot/data"
	"github.com/lot-toolkit/lot/diagnostics"
	"github.com/lot-toolkit/lot/internal/keyerr"
	"github.com/lot-toolkit/lot/rundir"
)

// ErrPending is returned when runs the figures need have not finished
// (--only ran others): run the command again once they have.
var ErrPending = errors.New("runs not finished yet, figures not drawn")

// ReportName is the report file of a call: report.md for "all", else
// report-NAME[-NAME...].md, so that naming one figure does not overwrite the
// whole reproduction's report.
func ReportName(names []string, protocol string) string {
	prefix := ""
	if protocol == "authors" {
		prefix = "authors-"
	}
	if len(names) == 1 && names[0] == "all" {
		return prefix + "report.md"
	}
	return prefix + "report-" + strings.Join(names, "-") + ".md"
}

// Reproduce runs and reports the named figures ("all" for every figure of
// the paper) at a scale, writing runs/, the figures and ReportName(names)
// under dir. The executor runs the runs (Local: worker processes here;
// Slurm: jobs on a cluster, the figures drawn once every run finished).
//
// Under the authors' protocol only the figures drawn from Fig. 5's runs
// exist (Figure.Authors). only, if not empty, is a glob over run names
// (path.Match): just those run now, and the figures are drawn once every
// run they need has finished (ErrPending until then).
func Reproduce(ctx context.Context, ex Executor, dir string, names []string, su Setup, only string, log func(string)) error {
	if _, err := path.Match(only, ""); err != nil {
		return keyerr.Errorf("only", "%q is not a glob: %w", only, err)
	}
	report := ReportName(names, su.Protocol)
	figs, all, err := reproduction(names, su)
	if err != nil {
		return err
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	// Longest remaining first, so that no worker is left with a long run at
	// the end, also when an interrupted reproduction resumes (a single
	// worker takes them shortest first: runOrder).
	left := map[string]float64{}
	for _, r := range all {
		left[r.Name] = remainingCost(dir, r)
	}
	slices.SortStableFunc(all, func(a, b Run) int { return cmp.Compare(left[b.Name], left[a.Name]) })
	todo := all
	if only != "" {
		todo = slices.DeleteFunc(slices.Clone(all), func(r Run) bool { ok, _ := path.Match(only, r.Name); return !ok })
		if len(todo) == 0 {
			return keyerr.Errorf("only", "%q matches none of the %d runs", only, len(all))
		}
	}
	if err := ex.Execute(ctx, dir, todo, log); err != nil {
		return err
	}
	var pending []string
	for _, r := range all {
		if _, err := os.Stat(filepath.Join(dir, "runs", r.Name, rundir.SummaryFile)); err != nil {
			pending = append(pending, r.Name)
		}
	}
	if len(pending) > 0 {
		return fmt.Errorf("%w: %d of %d runs (%s)", ErrPending, len(pending), len(all), strings.Join(pending, ", "))
	}
	return writeReport(dir, report, figs, su, nil)
}

// ReproduceSoFar draws the named figures from their runs as far as they
// have gone, and runs nothing: an unfinished run is drawn from the tasks it
// has logged (a running one's too) and named in the report, a run not
// started is left out, and each verdict is on the tasks so far. It writes
// SoFarReportName(names); the figures replace any drawn before, until
// Reproduce draws them from the finished runs.
func ReproduceSoFar(dir string, names []string, su Setup) error {
	figs, all, err := reproduction(names, su)
	if err != nil {
		return err
	}
	if _, err := os.Stat(dir); err != nil {
		return keyerr.Errorf("out", "no reproduction to draw: %w", err)
	}
	states, err := RunStates(dir, all)
	if err != nil {
		return err
	}
	soFar := map[string]RunState{}
	for _, s := range states {
		if s.State != StateDone && s.State != StateDiverged {
			soFar[s.Name] = s
		}
	}
	return writeReport(dir, SoFarReportName(names, su.Protocol), figs, su, soFar)
}

// SoFarReportName is ReproduceSoFar's report file: ReportName's with
// "-so-far" before ".md".
func SoFarReportName(names []string, protocol string) string {
	return strings.TrimSuffix(ReportName(names, protocol), ".md") + "-so-far.md"
}

// writeReport draws figs from their runs under dir and writes the report
// file name. soFar holds the runs not finished, for ReproduceSoFar (nil:
// every run has finished): those with tasks logged are drawn as far as
// they went, those with none are left out, each named; a figure that
// cannot be drawn from what is logged says why rather than failing the
// report.
func writeReport(dir, name string, figs []Figure, su Setup, soFar map[string]RunState) error {
	var b strings.Builder
	title := "Reproduction report"
	if soFar != nil {
		title += " so far"
	}
	fmt.Fprintf(&b, "# %s (scale %s, %d seed(s), %s protocol)\n\nMade by `lot reproduce`; every run is under runs/, with its config.\n", title, su.Scale, su.Seeds, su.Protocol)
	if soFar != nil {
		fmt.Fprintf(&b, "\nDrawn before every run had finished (`--so-far`): an unfinished run is drawn from the tasks it has logged, and each verdict below is on those tasks, not on the figure's whole length.\n")
	}
	for _, f := range figs {
		var all []Run
		var absent []string
		var unfinished strings.Builder
		for _, r := range f.Runs(su) {
			s, pending := soFar[r.Name]
			switch {
			case !pending:
				all = append(all, r)
			case s.Tasks == 0:
				absent = append(absent, r.Name)
				fmt.Fprintf(&unfinished, "Not started: %s, left out.\n\n", r.Name)
			default:
				all = append(all, r)
				fmt.Fprintf(&unfinished, "Unfinished (%s): %s, drawn from %d of %d tasks.\n\n", s.State, r.Name, s.Tasks, s.Of)
			}
		}
		runs, notes := withoutDiverged(dir, all)
		section, err := drawSafely(f, dir, su, runs)
		fate := "left out of this figure"
		if len(notes) > 0 && err != nil {
			// Figures expect every group; draw the diverged runs' partial
			// logs instead, and failing that, say why the figure is missing.
			fate = "drawn up to its divergence"
			if section, err = drawSafely(f, dir, su, all); err != nil {
				section, err = fmt.Sprintf("Not drawn: %v.\n", err), nil
			}
		}
		if err != nil && soFar != nil {
			// Most figures draw every group, so a run not started stops them.
			why := fmt.Sprintf("from the runs so far: %v", err)
			if len(absent) > 0 {
				why = "it waits on runs with no task logged yet (" + strings.Join(absent, ", ") + ")"
			}
			section, err = "Not drawn: "+why+".\n", nil
		}
		if err != nil {
			return fmt.Errorf("%s: %v", f.Name, err)
		}
		var diverged strings.Builder
		for _, n := range notes {
			fmt.Fprintf(&diverged, "Diverged: %s, %s.\n\n", n, fate)
		}
		section = unfinished.String() + diverged.String() + section
		fmt.Fprintf(&b, "\n## %s\n\nPaper's claim: %s\n\n%s", f.Name, f.Claim, section)
	}
	return os.WriteFile(filepath.Join(dir, name), []byte(b.String()), 0o644)
}

// reproduction returns the named figures ("all": every figure of the
// paper under the setup's protocol) and their runs, each once (figures
// share runs: Fig. 6 reads Fig. 5's).
func reproduction(names []string, su Setup) ([]Figure, []Run, error) {
	if err := su.validate(); err != nil {
		return nil, nil, err
	}
	if len(names) == 1 && names[0] == "all" {
		names = nil
		for _, n := range Names() {
			if !Figures[n].Extra && (su.Protocol != "authors" || Figures[n].Authors) {
				names = append(names, n)
			}
		}
	}
	var figs []Figure
	for _, n := range names {
		f, ok := Figures[n]
		if !ok {
			return nil, nil, fmt.Errorf("unknown figure %q (want one of: all, %s)", n, strings.Join(Names(), ", "))
		}
		if su.Protocol == "authors" && !f.Authors {
			return nil, nil, fmt.Errorf("%s is drawn under the paper's protocol only", n)
		}
		figs = append(figs, f)
	}
	var all []Run
	seen := map[string]bool{}
	for _, f := range figs {
		for _, r := range f.Runs(su) {
			if !seen[r.Name] {
				seen[r.Name] = true
				all = append(all, r)
			}
		}
	}
	return figs, all, nil
}

// ReproduceStatus is where each run of the named figures stands under dir.
func ReproduceStatus(dir string, names []string, su Setup) ([]RunState, error) {
	_, all, err := reproduction(names, su)
	if err != nil {
		return nil, err
	}
	return RunStates(dir, all)
}

// remainingCost is a run's rough cost still to pay, in updates: those of
// the tasks not yet logged in its tasks.jsonl under dir; with full
// diagnostics, each logged step's Hessian products at about a third of an
// update each (measured: a warm solve's ~11 products per layer make full
// diagnostics at interval 40 cost a quarter more; the authors' 101 cold
// ones make their CReLU controller 3.4 times vanilla), a tenth under
// power-batch (its logged step's 303 products cost 119 ms on 784-256-256-10
// and 139 ms on CReLU's net, 0.10–0.11 of a step's 3.5 and 4.6 ms each);
// and 2.6 times as
// many with the Wasserstein regulariser, whose per-step sort dominates
// (quick Fig. 5: 222–242 s a run against 83–90 s for L2).
func remainingCost(dir string, r Run) float64 {
	c := r.Config
	tasks := c.Tasks
	if b, err := os.ReadFile(rundir.Tasks(filepath.Join(dir, "runs", r.Name))); err == nil {
		tasks = max(0, tasks-bytes.Count(b, []byte("\n")))
	}
	images := c.Samples
	if images == data.AllSamples {
		images = data.MNISTTrainImages
	}
	steps := float64(tasks * c.Epochs * ((images + c.Batch - 1) / c.Batch))
	if c.Diagnostics.Level == "full" {
		products := 11.0 // a warm solve's, per layer
		if c.Diagnostics.SharpStart == "cold" {
			products = float64(c.Diagnostics.PowerIters)
		}
		perProduct := 0.32
		if c.Diagnostics.Solver == diagnostics.SolverPowerBatch {
			perProduct = 0.1
		}
		steps *= 1 + perProduct*products*float64(len(c.Hidden)+1)/float64(max(c.LogEvery, 1))
	}
	if c.Reg == "wasserstein" {
		steps *= 2.6
	}
	return steps
}

// drawSafely is f.Report, with a fault in drawing runs it was not written
// for (a diverged run's partial logs) returned as an error.
func drawSafely(f Figure, dir string, su Setup, runs []Run) (section string, err error) {
	defer func() {
		if r := recover(); r != nil {
			section, err = "", fmt.Errorf("%v", r)
		}
	}()
	return f.Report(dir, su, runs)
}
