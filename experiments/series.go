package experiments

import (
	"fmt"
	"math"
	"path/filepath"
	"slices"

	"github.com/lot-toolkit/lot/plotting"
	"github.com/lot-toolkit/lot/train"
)

// groupSeries reads metric of every run and gathers the seeds of each group.
func groupSeries(dir string, runs []Run, metric string) (map[string]*plotting.Line, error) {
	lines := map[string]*plotting.Line{}
	for _, r := range runs {
		s, err := train.ReadSeries(filepath.Join(dir, "runs", r.Name), metric)
		if err != nil {
			return nil, err
		}
		if err := addSeed(lines, r, s.X, s.Y); err != nil {
			return nil, fmt.Errorf("%s: %v", metric, err)
		}
	}
	return lines, nil
}

// at returns the mean and the min–max half-range over seeds at index i.
func at(l *plotting.Line, i int) (mean, spread float64) {
	lo, hi := math.Inf(1), math.Inf(-1)
	for _, y := range l.Ys {
		mean += y[i] / float64(len(l.Ys))
		lo, hi = math.Min(lo, y[i]), math.Max(hi, y[i])
	}
	return mean, (hi - lo) / 2
}

// stepIndex maps a series' steps to its values.
func stepIndex(s train.Series) map[float64]float64 {
	m := make(map[float64]float64, len(s.X))
	for i, x := range s.X {
		m[x] = s.Y[i]
	}
	return m
}

// valueAt returns the value at step x, NaN if that row had none (a null
// bound, before any volatility, so that comparisons with it are false).
func valueAt(m map[float64]float64, x float64) float64 {
	if v, ok := m[x]; ok {
		return v
	}
	return math.NaN()
}

func median(v []float64) float64 {
	if len(v) == 0 {
		return math.NaN()
	}
	c := slices.Clone(v)
	slices.Sort(c)
	return c[len(c)/2]
}

// taskMeans reads a per-step metric of the run in rd and averages it over
// each task's logged steps (NaN for a task with none); f, if not nil, maps
// each row's value first. X is the 1-based task.
func taskMeans(rd, metric string, f func(float64) float64) (x, y []float64, err error) {
	s, err := train.ReadSeries(rd, metric)
	if err != nil {
		return nil, nil, err
	}
	sum, n := make([]float64, len(s.TaskEnds)), make([]float64, len(s.TaskEnds))
	t := 0
	for i, step := range s.X {
		for t < len(s.TaskEnds)-1 && step > s.TaskEnds[t] {
			t++
		}
		v := s.Y[i]
		if f != nil {
			v = f(v)
		}
		if !math.IsNaN(v) && !math.IsInf(v, 0) {
			sum[t], n[t] = sum[t]+v, n[t]+1
		}
	}
	for i := range sum {
		x, y = append(x, float64(i+1)), append(y, sum[i]/n[i])
	}
	return x, y, nil
}

// groupTaskMeans is groupSeries for the per-task means of a per-step metric.
func groupTaskMeans(dir string, runs []Run, metric string, f func(float64) float64) (map[string]*plotting.Line, error) {
	lines := map[string]*plotting.Line{}
	for _, r := range runs {
		x, y, err := taskMeans(filepath.Join(dir, "runs", r.Name), metric, f)
		if err != nil {
			return nil, err
		}
		if err := addSeed(lines, r, x, y); err != nil {
			return nil, err
		}
	}
	return lines, nil
}

func addSeed(lines map[string]*plotting.Line, r Run, x, y []float64) error {
	l, ok := lines[r.Group]
	if !ok {
		l = &plotting.Line{Label: r.Group, X: x}
		lines[r.Group] = l
	}
	if len(y) != len(l.X) {
		return fmt.Errorf("run %s: %d values, its group has %d", r.Name, len(y), len(l.X))
	}
	l.Ys = append(l.Ys, y)
	return nil
}

// collapse is this package's one operational test of lost trainability: a
// run lost it when its last task's online accuracy is below 0.8 of its best
// task's. It returns the verdict and the first task (1-based) after the best
// one to fall below that level (0 if none).
func collapse(acc []float64) (lost bool, task int) {
	best, at := math.Inf(-1), 0
	for i, a := range acc {
		if a > best {
			best, at = a, i
		}
	}
	for i := at + 1; i < len(acc); i++ {
		if acc[i] < 0.8*best {
			task = i + 1
			break
		}
	}
	return acc[len(acc)-1] < 0.8*best, task
}

// trend names the change of a per-task series from its first to its last
// task: "rises" or "falls" beyond 10%, else "flat".
func trend(y []float64) string {
	first, last := y[0], y[len(y)-1]
	switch {
	case last > 1.1*first:
		return "rises"
	case last < 0.9*first:
		return "falls"
	}
	return "flat"
}

// groupOrder lists the runs' groups in their order of first appearance.
func groupOrder(runs []Run) []string {
	var out []string
	for _, r := range runs {
		if !slices.Contains(out, r.Group) {
			out = append(out, r.Group)
		}
	}
	return out
}
