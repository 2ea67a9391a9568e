// Package experiments owns the reproduction of the paper's figures: which
// runs each figure needs at each scale, running them (each run resumable,
// finished runs skipped) through an Executor, a pool of worker processes
// here or job arrays on a Slurm cluster, and drawing the figure and its
// report from their logs. It also owns sweeps, grids of settings with a
// summary of each point, and where each run stands.
package experiments

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"maps"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"

	"github.com/lot-toolkit/lot/internal/keyerr"
	"github.com/lot-toolkit/lot/rundir"
	"github.com/lot-toolkit/lot/train"
)

// Run is one training run of a figure.
type Run struct {
	Name   string // directory name under the reproduction's runs/
	Group  string // the curve it belongs to (seeds averaged)
	Config train.Config
}

// Figure is one figure of the paper.
type Figure struct {
	Name  string
	Claim string // the paper's claim, one sentence
	Runs  func(Setup) []Run
	// Report draws the figure under dir and returns its report section.
	Report func(dir string, su Setup, runs []Run) (string, error)
	// Extra marks an experiment of lot's own, not a figure of the paper:
	// it runs only when named, not with "all".
	Extra bool
	// Authors marks a figure drawn under the authors' protocol too (those
	// drawn from Fig. 5's runs).
	Authors bool
}

// Scales lists the accepted --scale values (smoke: seconds, for tests).
var Scales = []string{"smoke", "quick", "paper"}

// Setup is what a reproduction runs: a scale, the seeds of each setting and
// the protocol, "paper" (App. D's text) or "authors" (Fig. 5 as the
// authors' public code ran it; see train.Protocols).
type Setup struct {
	Scale    string
	Seeds    int
	Protocol string
}

// authorsScales are the authors' protocol's scales: the keys each sets over
// the protocol's own values (paper: 40 tasks × 250 epochs). quick keeps
// their data, network and quirks with shorter tasks; README ("The authors'
// protocol") says how it was chosen. smoke is for tests.
var authorsScales = map[string][]train.Setting{
	"paper": nil,
	"quick": {{Key: "tasks", Value: "8"}, {Key: "epochs", Value: "40"}},
	"smoke": {{Key: "samples", Value: "300"}, {Key: "tasks", Value: "3"}, {Key: "epochs", Value: "2"}, {Key: "batch", Value: "64"},
		{Key: "hidden", Value: "16,16"}, {Key: "log_every", Value: "5"}, {Key: "diagnostics.power_iters", Value: "12"}},
}

// Base returns the config of a scale under the paper's protocol, as the
// preset of the same name. The authors' protocol sets values per Fig. 5
// setting: see Setup.Authors.
func Base(su Setup) (train.Config, error) {
	apply, ok := train.Presets[su.Scale]
	if !ok || !slices.Contains(Scales, su.Scale) {
		return train.Config{}, keyerr.Errorf("scale", "unknown scale %q (want one of: %s)", su.Scale, strings.Join(Scales, ", "))
	}
	c := train.Default()
	apply(&c)
	return c, nil
}

// Authors resolves a run's config under the authors' protocol at the
// setup's scale, with the run's own keys and values (kv: key, value, …).
func (su Setup) Authors(kv ...string) (train.Config, error) {
	settings := append([]train.Setting{{Key: "protocol", Value: "authors"}}, authorsScales[su.Scale]...)
	for i := 0; i+1 < len(kv); i += 2 {
		settings = append(settings, train.Setting{Key: kv[i], Value: kv[i+1]})
	}
	return train.Resolve("", settings)
}

// validate names the first fault of a setup.
func (su Setup) validate() error {
	if _, err := Base(su); err != nil {
		return err
	}
	if su.Seeds < 1 {
		return keyerr.Errorf("seeds", "must be at least 1, got %d", su.Seeds)
	}
	if !slices.Contains(train.Protocols, su.Protocol) {
		return keyerr.Errorf("protocol", "unknown protocol %q (want one of: %s)", su.Protocol, strings.Join(train.Protocols, ", "))
	}
	return nil
}

// Figures are the reproducible figures, by name.
var Figures = map[string]Figure{}

// Names lists the figures in the paper's order (fig2 before fig11).
func Names() []string {
	return slices.SortedFunc(maps.Keys(Figures), func(a, b string) int {
		na, _ := strconv.Atoi(strings.TrimPrefix(a, "fig"))
		nb, _ := strconv.Atoi(strings.TrimPrefix(b, "fig"))
		return cmp.Or(cmp.Compare(na, nb), cmp.Compare(a, b))
	})
}

// Execute runs every run that has not finished, jobs at a time, each as a
// `lot run` process of the executable exe (so that runs are isolated and
// an interrupted reproduction resumes each run where it stopped).
func Execute(ctx context.Context, exe, dir string, runs []Run, jobs int, log func(string)) error {
	todo := make(chan Run)
	errs := make(chan error, len(runs))
	var wg sync.WaitGroup
	for range max(jobs, 1) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for r := range todo {
				if err := runOne(ctx, exe, filepath.Join(dir, "runs", r.Name), r, log); err != nil {
					errs <- fmt.Errorf("run %s: %w", r.Name, err)
				}
			}
		}()
	}
	left, all := unfinished(dir, runs, log)
	for _, r := range runOrder(dir, left, jobs) {
		select {
		case todo <- r:
		case <-ctx.Done():
		}
	}
	close(todo)
	wg.Wait()
	close(errs)
	for err := range errs {
		all = append(all, err)
	}
	if ctx.Err() != nil {
		return train.ErrInterrupted
	}
	return errors.Join(all...)
}

// runOrder is the order in which jobs workers take the runs. Several keep
// the caller's order (a reproduction's is longest remaining first, so that
// no worker is left with a long run at the end). One worker ends at the
// same time in any order, and shortest remaining first finishes each run
// soonest on average: an interrupted run near its end goes first, rather
// than after every fresh run.
func runOrder(dir string, runs []Run, jobs int) []Run {
	if jobs > 1 {
		return runs
	}
	cost := make(map[string]float64, len(runs))
	for _, r := range runs {
		cost[r.Name] = remainingCost(dir, r)
	}
	return slices.SortedStableFunc(slices.Values(runs), func(a, b Run) int {
		return cmp.Compare(cost[a.Name], cost[b.Name])
	})
}

// unfinished returns the runs not finished under dir/runs, logging those
// done already, and an error for each whose directory holds another config.
func unfinished(dir string, runs []Run, log func(string)) (left []Run, errs []error) {
	for _, r := range runs {
		rd := filepath.Join(dir, "runs", r.Name)
		// A run directory left by another version of the figure (a changed
		// default, say) must not be mistaken for this run.
		if prev, err := train.ReadConfigOf(rd); err == nil && prev.Hash() != r.Config.Hash() {
			errs = append(errs, fmt.Errorf("run %s: %s holds a run of another config; remove it to rerun, or reproduce into another directory", r.Name, rd))
			continue
		}
		if _, err := os.Stat(rundir.Summary(rd)); err == nil {
			log("done already: " + r.Name)
			continue
		}
		left = append(left, r)
	}
	return left, errs
}

// writeRunConfig writes the config a run starts from beside its directory
// out, as out.yaml, and returns that path.
func writeRunConfig(out string, r Run) (string, error) {
	if err := os.MkdirAll(filepath.Dir(out), 0o755); err != nil {
		return "", err
	}
	cfgPath := out + ".yaml"
	return cfgPath, os.WriteFile(cfgPath, r.Config.Marshal(), 0o644)
}

func runOne(ctx context.Context, exe, out string, r Run, log func(string)) error {
	args := []string{"run", "--out", out}
	if _, err := os.Stat(rundir.Config(out)); err == nil {
		args = []string{"run", "--resume", out}
		log("resuming: " + r.Name)
	} else {
		cfgPath, err := writeRunConfig(out, r)
		if err != nil {
			return err
		}
		args = append(args, "--config", cfgPath)
		log("starting: " + r.Name)
	}
	os.Remove(out + failedSuffix) // an earlier failure's mark
	cmd := exec.CommandContext(ctx, exe, args...)
	cmd.Cancel = func() error { return cmd.Process.Signal(os.Interrupt) } // lets the run checkpoint
	if err := os.MkdirAll(out, 0o755); err != nil {
		return err
	}
	logFile, err := os.OpenFile(rundir.RunLog(out), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return err
	}
	defer logFile.Close()
	cmd.Stdout, cmd.Stderr = logFile, logFile
	if err := cmd.Run(); err != nil {
		// A diverged run is a result, reported with its figure, not a
		// failure of the reproduction.
		if s, serr := train.ReadSummary(out); serr == nil && s.Status == train.StatusDiverged {
			log("diverged: " + r.Name)
			return nil
		}
		// Interrupted and checkpointed (this reproduction stopped, or the
		// run's own process was signalled): incomplete, for the next
		// reproduction to resume, not failed.
		var exit *exec.ExitError
		if ctx.Err() != nil || errors.As(err, &exit) && exit.ExitCode() == train.ExitInterrupted {
			log("interrupted: " + r.Name)
			return train.ErrInterrupted
		}
		markFailed(out, err.Error())
		return fmt.Errorf("%v (see %s)", err, rundir.RunLog(out))
	}
	log("finished: " + r.Name)
	return nil
}

// withoutDiverged splits a figure's runs into those to draw and a note on
// each that diverged (its summary.json says so).
func withoutDiverged(dir string, runs []Run) (kept []Run, notes []string) {
	for _, r := range runs {
		s, err := train.ReadSummary(filepath.Join(dir, "runs", r.Name))
		if err == nil && s.Status == train.StatusDiverged && s.Divergence != nil {
			d := s.Divergence
			notes = append(notes, fmt.Sprintf("%s (non-finite %s in %s at step %d, task %d)",
				r.Name, d.What, d.Layer, d.Step, d.Task+1))
			continue
		}
		kept = append(kept, r)
	}
	return kept, notes
}

// filePrefix is the prefix of a run's figure and report files: "authors-"
// under the authors' protocol, so that both protocols' reproductions can
// share a directory.
func filePrefix(r Run) string {
	if r.Config.Protocol == "authors" {
		return "authors-"
	}
	return ""
}

// linearLayers are the names of a run's linear layers, fc1 … fcN, whose
// learning rates and signals the figures read.
func linearLayers(c train.Config) []string {
	out := make([]string, len(c.Hidden)+1)
	for i := range out {
		out[i] = fmt.Sprintf("fc%d", i+1)
	}
	return out
}
