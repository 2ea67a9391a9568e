package train

import (
	"bufio"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"

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
// Rows where the path is missing or null are skipped, and so is a last
// line still being written. A line that is not a JSON object with its
// step (or task) is an error naming the file and line.
//
// The logs are read through a cache of the runs read last, each brought
// up to date with what its log gained since, so that a report reading
// many metrics of a run parses its logs once.
func ReadSeries(dir, metric string) (Series, error) {
	s := Series{Run: filepath.Base(filepath.Clean(dir)), Metric: metric, PerTask: slices.Contains(TaskMetrics, metric)}
	logCache.Lock()
	defer logCache.Unlock()
	tasks, err := cachedLog(rundir.Tasks(dir), "task", 1)
	if err != nil {
		return s, err
	}
	_, s.TaskEnds, _ = tasks.Series("steps")
	ix := tasks
	if !s.PerTask {
		if ix, err = cachedLog(rundir.Metrics(dir), "step", 0); err != nil {
			return s, err
		}
	}
	s.X, s.Y, _ = ix.Series(metric)
	if len(s.Y) == 0 {
		return s, fmt.Errorf("%s: no values of %q (metrics.jsonl fields are dotted paths such as acc, lr.fc1, diag.alpha, diag.layers.fc1.sharpness; tasks.jsonl has %s)",
			dir, metric, strings.Join(TaskMetrics, ", "))
	}
	return s, nil
}

// logCache holds the indexes of the logs ReadSeries read last, the most
// recent at the end. A paper-scale metrics.jsonl indexes to about 56 MB
// (80 columns of 58,750 rows, 12 bytes a value with its row number).
var logCache struct {
	sync.Mutex
	recent []indexedLog
}

type indexedLog struct {
	path string
	ix   *rundir.LogIndex
}

const cachedLogs = 12 // the logs of six runs

// cachedLog returns the index of the log at path, read up to its last
// whole line. The caller holds logCache.
func cachedLog(path, xKey string, xAdd float64) (*rundir.LogIndex, error) {
	key := path // the same file under any name; errors say the name given
	if abs, err := filepath.Abs(path); err == nil {
		key = abs
	}
	if _, err := os.Stat(path); err != nil {
		if os.IsNotExist(err) {
			return nil, fmt.Errorf("%s: no such file (not a run directory?)", path)
		}
		return nil, err
	}
	c := &logCache.recent
	i := slices.IndexFunc(*c, func(e indexedLog) bool { return e.path == key })
	var ix *rundir.LogIndex
	if i >= 0 {
		ix = (*c)[i].ix
		*c = slices.Delete(*c, i, i+1)
	} else {
		ix = rundir.NewLogIndex(xKey, xAdd)
	}
	if len(*c) >= cachedLogs {
		*c = slices.Delete(*c, 0, 1)
	}
	*c = append(*c, indexedLog{key, ix})
	if err := ix.Refresh(func() (*os.File, error) { return os.Open(path) }); err != nil {
		return nil, err
	}
	if n := ix.Malformed(); n > 0 {
		return nil, fmt.Errorf("%s:%d: not a JSON object with a number at %q (%d such lines)", path, ix.FirstMalformed(), xKey, n)
	}
	return ix, nil
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

// CountValues counts, over metrics.jsonl, how often the string at each
// dotted path takes each value (the layers' controller decisions, say),
// in one pass: counts[i] is paths[i]'s. A last line still being written is
// left out, as ReadSeries leaves it.
func CountValues(dir string, paths ...string) (counts []map[string]int, err error) {
	name := rundir.Metrics(dir)
	f, err := os.Open(name)
	if err != nil {
		if os.IsNotExist(err) {
			return nil, fmt.Errorf("%s: no such file (not a run directory?)", name)
		}
		return nil, err
	}
	defer f.Close()
	keys := make([][]string, len(paths))
	counts = make([]map[string]int, len(paths))
	for i, p := range paths {
		keys[i], counts[i] = strings.Split(p, "."), map[string]int{}
	}
	r := bufio.NewReaderSize(f, 1<<20)
	for n := 1; ; n++ {
		line, err := r.ReadBytes('\n')
		if err == io.EOF {
			return counts, nil // with the partial line, if any, unread
		} else if err != nil {
			return nil, fmt.Errorf("%s: %v", name, err)
		}
		var row any
		if err := json.Unmarshal(line, &row); err != nil {
			return nil, fmt.Errorf("%s:%d: %v", name, n, err)
		}
		for i, path := range keys {
			cur := row
			for _, k := range path {
				m, _ := cur.(map[string]any)
				cur = m[k]
			}
			if s, ok := cur.(string); ok {
				counts[i][s]++
			}
		}
	}
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
