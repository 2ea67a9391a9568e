package train

import (
	"bufio"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"math"
	"os"
	"path/filepath"
	"strings"

	"github.com/lot-toolkit/lot/rundir"
)

// TaskMetrics are the fields of tasks.jsonl; any other metric name is
// looked up in metrics.jsonl.
var TaskMetrics = []string{"online_acc", "final_acc", "final_loss", "rho_hat", "wall_seconds"}

// Series is one metric of one run: X is the update step (metrics.jsonl) or
// the 1-based task (tasks.jsonl); TaskEnds are the steps at which tasks
// ended, for drawing task boundaries.
type Series struct {
	Run      string
	Metric   string
	PerTask  bool
	X, Y     []float64
	TaskEnds []float64
}

// ReadSeries reads a metric of the run in dir by its dotted JSON path:
// "online_acc", "acc", "lr.fc1", "diag.alpha", "diag.layers.fc1.alpha_tilde".
// Rows where the path is missing or null are skipped.
func ReadSeries(dir, metric string) (Series, error) {
	s := Series{Run: filepath.Base(filepath.Clean(dir)), Metric: metric}
	for _, m := range TaskMetrics {
		s.PerTask = s.PerTask || m == metric
	}
	tasks, err := readJSONLines(rundir.Tasks(dir))
	if err != nil {
		return s, err
	}
	for _, row := range tasks {
		if v, ok := lookup(row, "steps"); ok {
			s.TaskEnds = append(s.TaskEnds, v)
		}
	}
	rows, task := tasks, true
	if !s.PerTask {
		if rows, err = readJSONLines(rundir.Metrics(dir)); err != nil {
			return s, err
		}
		task = false
	}
	for _, row := range rows {
		y, ok := lookup(row, metric)
		if !ok {
			continue
		}
		var x float64
		if task {
			x, _ = lookup(row, "task")
			x++
		} else {
			x, _ = lookup(row, "step")
		}
		s.X, s.Y = append(s.X, x), append(s.Y, y)
	}
	if len(s.Y) == 0 {
		return s, fmt.Errorf("%s: no values of %q (metrics.jsonl fields are dotted paths such as acc, lr.fc1, diag.alpha, diag.layers.fc1.sharpness; tasks.jsonl has %s)",
			dir, metric, strings.Join(TaskMetrics, ", "))
	}
	return s, nil
}

func readJSONLines(path string) ([]map[string]any, error) {
	f, err := os.Open(path)
	if err != nil {
		if os.IsNotExist(err) {
			return nil, fmt.Errorf("%s: no such file (not a run directory?)", path)
		}
		return nil, err
	}
	defer f.Close()
	var rows []map[string]any
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 1<<20), 1<<26)
	for n := 1; sc.Scan(); n++ {
		var row map[string]any
		if err := json.Unmarshal(sc.Bytes(), &row); err != nil {
			return nil, fmt.Errorf("%s:%d: %v", path, n, err)
		}
		rows = append(rows, row)
	}
	return rows, sc.Err()
}

// lookup follows a dotted path through nested objects to a number.
func lookup(row map[string]any, path string) (float64, bool) {
	var cur any = row
	for _, k := range strings.Split(path, ".") {
		m, ok := cur.(map[string]any)
		if !ok {
			return 0, false
		}
		if cur, ok = m[k]; !ok {
			return 0, false
		}
	}
	switch v := cur.(type) {
	case float64:
		return v, true
	case bool:
		if v {
			return 1, true
		}
		return 0, true
	}
	return 0, false
}

// SeedGroups groups run directories whose configs differ only in the seed,
// keeping the order in which each group first appears.
func SeedGroups(dirs []string) ([][]string, error) {
	var groups [][]string
	index := map[string]int{}
	for _, d := range dirs {
		cfg, err := ReadConfigOf(d)
		if err != nil {
			return nil, err
		}
		cfg.Seed = 0
		h := cfg.Hash()
		i, ok := index[h]
		if !ok {
			i = len(groups)
			index[h] = i
			groups = append(groups, nil)
		}
		groups[i] = append(groups[i], d)
	}
	return groups, nil
}

// CountValues counts, over metrics.jsonl, how often the string at a dotted
// path takes each value (a layer's controller decisions, say).
func CountValues(dir, path string) (map[string]int, error) {
	rows, err := readJSONLines(rundir.Metrics(dir))
	if err != nil {
		return nil, err
	}
	counts := map[string]int{}
	for _, row := range rows {
		var cur any = row
		for _, k := range strings.Split(path, ".") {
			m, _ := cur.(map[string]any)
			cur = m[k]
		}
		if s, ok := cur.(string); ok {
			counts[s]++
		}
	}
	return counts, nil
}

// Float is a float64 that encodes as encoding/json encodes a float64, except
// that NaN and ±Inf become null (which encoding/json refuses), and decodes
// null as NaN. The logs' own numbers use it, so that a non-finite value is
// logged rather than crashing the run, while finite values keep the bytes
// they always had (diagnostics.Num formats differently).
type Float float64

func (f Float) MarshalJSON() ([]byte, error) {
	if !isFinite(float64(f)) {
		return []byte("null"), nil
	}
	return json.Marshal(float64(f))
}

func (f *Float) UnmarshalJSON(b []byte) error {
	if string(b) == "null" {
		*f = Float(math.NaN())
		return nil
	}
	return json.Unmarshal(b, (*float64)(f))
}

// ReadSummary reads the summary.json of the run in dir; a run without one
// (not finished, or not a run) is rundir.ErrNoRun.
func ReadSummary(dir string) (Summary, error) {
	var s Summary
	b, err := os.ReadFile(rundir.Summary(dir))
	if errors.Is(err, fs.ErrNotExist) {
		return s, &rundir.Error{Path: rundir.Summary(dir), Kind: rundir.ErrNoRun, Err: errors.New("no such file")}
	} else if err != nil {
		return s, &rundir.Error{Path: rundir.Summary(dir), Kind: rundir.ErrUnreadable, Err: err}
	}
	if err := json.Unmarshal(b, &s); err != nil {
		return s, &rundir.Error{Path: rundir.Summary(dir), Kind: rundir.ErrUnreadable, Err: err}
	}
	return s, nil
}
