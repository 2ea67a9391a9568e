package experiments

import (
	"bytes"
	"context"
	"encoding/csv"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"go.yaml.in/yaml/v3"

	"github.com/lot-toolkit/lot/train"
)

// SweepSpec is a sweep: a grid over config keys around a base config, as
// a YAML file gives it:
//
//	base: {preset: quick, reg: l2}
//	grid: {lr: [1e-4, 1e-3], seed: [0, 1, 2]}
//
// base holds config keys (nested maps as in config.yaml) and may name a
// preset; grid maps config keys to lists of values. Every combination of
// the grid's values is a point, the first key outermost.
type SweepSpec struct {
	Preset string
	Base   []train.Setting
	Grid   []SweepAxis
}

// SweepAxis is one key of a sweep's grid and its values, as written.
type SweepAxis struct {
	Key    string
	Values []string
}

// SweepFile is where a sweep keeps its spec under its directory, so that
// its status and a rerun read the points it ran.
func SweepFile(dir string) string { return filepath.Join(dir, "sweep.yaml") }

// Sweep summaries under a sweep's directory.
const (
	SweepSummaryCSV      = "summary.csv"
	SweepSummaryMarkdown = "summary.md"
)

// ErrSweepPending is returned when points have not finished (they were
// submitted to a batch system, say): run the sweep again once they have.
var ErrSweepPending = errors.New("points not finished yet, summary not written")

// ReadSweep reads a sweep file; errors name it.
func ReadSweep(path string) (SweepSpec, error) {
	raw, err := os.ReadFile(path)
	if err != nil {
		return SweepSpec{}, err
	}
	spec, err := ParseSweep(raw)
	if err != nil {
		return spec, fmt.Errorf("%s: %w", path, err)
	}
	return spec, nil
}

// ParseSweep reads a sweep's YAML and checks that every point resolves to
// a valid config.
func ParseSweep(raw []byte) (SweepSpec, error) {
	var spec SweepSpec
	var doc yaml.Node
	if err := yaml.Unmarshal(raw, &doc); err != nil {
		return spec, fmt.Errorf("not a valid sweep: %s", strings.ReplaceAll(err.Error(), "\n", "; "))
	}
	if len(doc.Content) == 0 || doc.Content[0].Kind != yaml.MappingNode {
		return spec, errors.New("not a valid sweep: want a map with base and grid")
	}
	top := doc.Content[0]
	for i := 0; i+1 < len(top.Content); i += 2 {
		k, v := top.Content[i], top.Content[i+1]
		switch k.Value {
		case "base":
			if err := spec.readBase(v, ""); err != nil {
				return spec, err
			}
		case "grid":
			if err := spec.readGrid(v); err != nil {
				return spec, err
			}
		default:
			return spec, fmt.Errorf("line %d: unknown key %q (want base and grid)", k.Line, k.Value)
		}
	}
	if len(spec.Grid) == 0 {
		return spec, errors.New("grid: no keys to sweep")
	}
	_, err := spec.Runs()
	return spec, err
}

func (spec *SweepSpec) readBase(n *yaml.Node, prefix string) error {
	if n.Kind != yaml.MappingNode {
		return fmt.Errorf("base: line %d: want a map of config keys", n.Line)
	}
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, v := n.Content[i], n.Content[i+1]
		key := prefix + k.Value
		switch {
		case key == "preset" && v.Kind == yaml.ScalarNode:
			spec.Preset = v.Value
		case v.Kind == yaml.MappingNode && prefix == "":
			if err := spec.readBase(v, key+"."); err != nil {
				return err
			}
		case v.Kind == yaml.ScalarNode:
			spec.Base = append(spec.Base, train.Setting{Key: key, Value: v.Value, Source: "base"})
		default:
			return fmt.Errorf("base: line %d: %s: want a value", k.Line, key)
		}
	}
	return nil
}

func (spec *SweepSpec) readGrid(n *yaml.Node) error {
	if n.Kind != yaml.MappingNode {
		return fmt.Errorf("grid: line %d: want a map of config keys to lists of values", n.Line)
	}
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, v := n.Content[i], n.Content[i+1]
		if k.Value == "preset" {
			return fmt.Errorf("grid: line %d: preset: name the preset in base", k.Line)
		}
		if _, ok := train.KnobOf(k.Value); !ok {
			return fmt.Errorf("grid: line %d: %w %q", k.Line, train.ErrUnknownKey, k.Value)
		}
		for _, a := range spec.Grid {
			if a.Key == k.Value {
				return fmt.Errorf("grid: line %d: %s given twice", k.Line, k.Value)
			}
		}
		for _, s := range spec.Base {
			if s.Key == k.Value {
				return fmt.Errorf("grid: line %d: %s is set in base too", k.Line, k.Value)
			}
		}
		if v.Kind != yaml.SequenceNode || len(v.Content) == 0 {
			return fmt.Errorf("grid: line %d: %s: want a list of values", k.Line, k.Value)
		}
		axis := SweepAxis{Key: k.Value}
		for _, e := range v.Content {
			if e.Kind != yaml.ScalarNode {
				return fmt.Errorf("grid: line %d: %s: want values, not lists or maps", e.Line, k.Value)
			}
			axis.Values = append(axis.Values, e.Value)
		}
		spec.Grid = append(spec.Grid, axis)
	}
	return nil
}

// Runs are the sweep's points, the first grid key outermost, each named
// from its values (e.g. lr-0.001_seed-2) and grouped under that name.
func (spec SweepSpec) Runs() ([]Run, error) {
	var runs []Run
	seen := map[string]string{}
	idx := make([]int, len(spec.Grid))
	for {
		settings := append([]train.Setting(nil), spec.Base...)
		var parts, given []string
		for a, axis := range spec.Grid {
			v := axis.Values[idx[a]]
			settings = append(settings, train.Setting{Key: axis.Key, Value: v, Source: "grid"})
			given = append(given, axis.Key+"="+v)
		}
		c, err := train.Resolve(spec.Preset, settings)
		if err != nil {
			return nil, fmt.Errorf("point %s: %w", strings.Join(given, ", "), err)
		}
		for _, axis := range spec.Grid {
			k, _ := train.KnobOf(axis.Key)
			parts = append(parts, axis.Key+"-"+nameSafe(k.Get(&c)))
		}
		name := strings.Join(parts, "_")
		if prev, dup := seen[name]; dup {
			return nil, fmt.Errorf("points %s and %s are the same run %s", prev, strings.Join(given, ", "), name)
		}
		seen[name] = strings.Join(given, ", ")
		runs = append(runs, Run{Name: name, Group: name, Config: c})
		// Next point: the last key fastest.
		a := len(idx) - 1
		for ; a >= 0; a-- {
			if idx[a]++; idx[a] < len(spec.Grid[a].Values) {
				break
			}
			idx[a] = 0
		}
		if a < 0 {
			return runs, nil
		}
	}
}

// nameSafe makes a value part of a directory name: letters, digits, '.',
// '+' and '-' are kept, a list's commas become 'x' (hidden 64,64 → 64x64),
// anything else '_'.
func nameSafe(v string) string {
	return strings.Map(func(r rune) rune {
		switch {
		case r >= 'a' && r <= 'z', r >= 'A' && r <= 'Z', r >= '0' && r <= '9', r == '.', r == '+', r == '-':
			return r
		case r == ',':
			return 'x'
		}
		return '_'
	}, v)
}

// Sweep runs the sweep of the file (or resumes it: finished points are
// skipped, interrupted ones resumed) under dir, keeping the file as
// SweepFile(dir), and once every point has finished writes the summaries
// SweepSummaryCSV and SweepSummaryMarkdown: each point's final and mean
// online accuracy. ErrSweepPending until then.
func Sweep(ctx context.Context, ex Executor, dir, file string, log func(string)) error {
	raw, err := os.ReadFile(file)
	if err != nil {
		return err
	}
	spec, err := ParseSweep(raw)
	if err != nil {
		return fmt.Errorf("%s: %w", file, err)
	}
	runs, err := spec.Runs()
	if err != nil {
		return err
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	if old, err := os.ReadFile(SweepFile(dir)); err != nil || !bytes.Equal(old, raw) {
		if err := os.WriteFile(SweepFile(dir), raw, 0o644); err != nil {
			return err
		}
	}
	if err := ex.Execute(ctx, dir, runs, log); err != nil {
		return err
	}
	states, err := RunStates(dir, runs)
	if err != nil {
		return err
	}
	var pending []string
	for _, s := range states {
		if s.State != StateDone && s.State != StateDiverged {
			pending = append(pending, s.Name)
		}
	}
	if len(pending) > 0 {
		return fmt.Errorf("%w: %d of %d points (%s)", ErrSweepPending, len(pending), len(runs), strings.Join(pending, ", "))
	}
	return writeSweepSummary(dir, spec, runs)
}

// SweepStatus is where each point of the sweep under dir stands.
func SweepStatus(dir string) ([]RunState, error) {
	spec, err := ReadSweep(SweepFile(dir))
	if errors.Is(err, os.ErrNotExist) {
		return nil, fmt.Errorf("%s: no sweep here (no %s)", dir, filepath.Base(SweepFile(dir)))
	}
	if err != nil {
		return nil, err
	}
	runs, err := spec.Runs()
	if err != nil {
		return nil, err
	}
	return RunStates(dir, runs)
}

// writeSweepSummary writes every point's status and accuracies, a row
// each, as CSV (full precision) and as a Markdown table.
func writeSweepSummary(dir string, spec SweepSpec, runs []Run) error {
	head := []string{"run"}
	for _, a := range spec.Grid {
		head = append(head, a.Key)
	}
	head = append(head, "status", "tasks", "final_online_acc", "mean_online_acc")
	var csvBuf bytes.Buffer
	cw := csv.NewWriter(&csvBuf)
	cw.Write(head)
	var md strings.Builder
	fmt.Fprintf(&md, "| %s |\n|%s\n", strings.Join(head, " | "), strings.Repeat("---|", len(head)))
	for _, r := range runs {
		s, err := train.ReadSummary(filepath.Join(dir, "runs", r.Name))
		if err != nil {
			return err
		}
		row := []string{r.Name}
		for _, a := range spec.Grid {
			k, _ := train.KnobOf(a.Key)
			row = append(row, k.Get(&r.Config))
		}
		fin, mean := float64(s.FinalOnlineAcc), float64(s.MeanOnlineAcc)
		row = append(row, s.Status, strconv.Itoa(s.Tasks))
		cw.Write(append(row, strconv.FormatFloat(fin, 'g', -1, 64), strconv.FormatFloat(mean, 'g', -1, 64)))
		fmt.Fprintf(&md, "| %s | %.4f | %.4f |\n", strings.Join(row, " | "), fin, mean)
	}
	cw.Flush()
	if err := cw.Error(); err != nil {
		return err
	}
	if err := os.WriteFile(filepath.Join(dir, SweepSummaryCSV), csvBuf.Bytes(), 0o644); err != nil {
		return err
	}
	return os.WriteFile(filepath.Join(dir, SweepSummaryMarkdown), []byte(md.String()), 0o644)
}
