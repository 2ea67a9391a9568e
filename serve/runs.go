package serve

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"go.yaml.in/yaml/v3"

	"github.com/lot-toolkit/lot/rundir"
	"github.com/lot-toolkit/lot/train"
)

// Run statuses besides train's finished and diverged.
const (
	StatusRunning     = "running"     // no summary, and its lock held or a log written lately
	StatusInterrupted = "interrupted" // no summary, and nothing written lately
)

// maxDepth bounds how deep under a directory given runs are looked for.
const maxDepth = 6

// root is one directory given to serve; every file read goes through r,
// which refuses paths that leave it, by .. or by a symlink.
type root struct {
	dir string // as given, cleaned
	r   *os.Root
}

// run is a run directory found under a root.
type run struct {
	id   string // "ROOT:REL", REL slash-separated
	root int
	rel  string // slash-separated, "." for the root itself

	mu      sync.Mutex
	metrics *rundir.LogIndex
	tasks   *rundir.LogIndex
}

func runID(root int, rel string) string { return strconv.Itoa(root) + ":" + rel }

// parseID splits "ROOT:REL".
func parseID(id string) (int, string, error) {
	i, rel, ok := strings.Cut(id, ":")
	n, err := strconv.Atoi(i)
	if !ok || err != nil || n < 0 {
		return 0, "", fmt.Errorf("%w: %q is not ROOT:PATH", errBadRequest, id)
	}
	return n, rel, nil
}

// name is what the page calls a run: its path under its root, with the
// root's own name in front.
func (s *Server) name(r *run) string {
	base := filepath.Base(s.roots[r.root].dir)
	if r.rel == "." {
		return base
	}
	return base + "/" + r.rel
}

// open opens a file of a run, confined to its root.
func (s *Server) open(r *run, file string) (*os.File, error) {
	return s.roots[r.root].r.Open(path.Join(r.rel, file))
}

func (s *Server) readFile(r *run, file string) ([]byte, error) {
	f, err := s.open(r, file)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	return io.ReadAll(io.LimitReader(f, 16<<20))
}

// scan finds the run directories and the Markdown reports under the
// roots. Directories are walked without following symlinks; a directory
// holding any of a run's files is a run, and is not looked into further.
func (s *Server) scan() (reports []string, err error) {
	found := map[string]bool{}
	for i, rt := range s.roots {
		err := fs.WalkDir(rt.r.FS(), ".", func(p string, d fs.DirEntry, err error) error {
			if err != nil {
				return nil // an unreadable corner is left out, not fatal
			}
			if p != "." && strings.HasPrefix(d.Name(), ".") {
				if d.IsDir() {
					return fs.SkipDir
				}
				return nil
			}
			if !d.IsDir() {
				if strings.HasSuffix(p, ".md") && d.Type().IsRegular() {
					reports = append(reports, runID(i, p))
				}
				return nil
			}
			if strings.Count(p, "/") >= maxDepth {
				return fs.SkipDir
			}
			held, err := rundir.Holds(filepath.Join(rt.dir, filepath.FromSlash(p)))
			if err != nil || !held {
				return nil
			}
			id := runID(i, p)
			found[id] = true
			s.mu.Lock()
			if s.runs[id] == nil {
				s.runs[id] = &run{id: id, root: i, rel: p}
			}
			s.mu.Unlock()
			return fs.SkipDir
		})
		if err != nil {
			return nil, err
		}
	}
	s.mu.Lock()
	for id := range s.runs {
		if !found[id] {
			delete(s.runs, id)
		}
	}
	s.mu.Unlock()
	return reports, nil
}

// lookup returns the run with that id, scanning again if it is new.
func (s *Server) lookup(id string) (*run, error) {
	if _, _, err := parseID(id); err != nil {
		return nil, err
	}
	s.mu.Lock()
	r := s.runs[id]
	s.mu.Unlock()
	if r != nil {
		return r, nil
	}
	if _, err := s.scan(); err != nil {
		return nil, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if r = s.runs[id]; r == nil {
		return nil, fmt.Errorf("%w: no run %q under the directories served", errNotFound, id)
	}
	return r, nil
}

// refresh brings a run's indexes up to date with its logs. It holds r.mu
// on return; the caller unlocks it.
func (s *Server) refresh(r *run, metrics bool) error {
	r.mu.Lock()
	if r.tasks == nil {
		r.tasks = rundir.NewLogIndex("task", 1)
		r.metrics = rundir.NewLogIndex("step", 0)
	}
	if err := r.tasks.Refresh(func() (*os.File, error) { return s.open(r, rundir.TasksFile) }); err != nil {
		return err
	}
	if metrics {
		return r.metrics.Refresh(func() (*os.File, error) { return s.open(r, rundir.MetricsFile) })
	}
	return nil
}

// RunInfo is a run as the run list shows it.
type RunInfo struct {
	ID            string            `json:"id"`
	Name          string            `json:"name"`
	Status        string            `json:"status"`
	TasksDone     int               `json:"tasks_done"`
	Tasks         int               `json:"tasks"` // config's, 0 if unknown
	Step          float64           `json:"step"`  // last logged update
	FinalAcc      *float64          `json:"final_acc"`
	MeanOnlineAcc *float64          `json:"mean_online_acc"`
	Config        map[string]string `json:"-"`
	Diff          map[string]string `json:"diff"` // config keys that differ among its siblings
	Skipped       int               `json:"skipped_lines"`
	Error         string            `json:"error,omitempty"`
}

// summary is the part of summary.json the list shows.
type summary struct {
	Status        string          `json:"status"`
	FinalAcc      *float64        `json:"final_acc"`
	MeanOnlineAcc *float64        `json:"mean_online_acc"`
	Divergence    json.RawMessage `json:"divergence"`
}

// info gathers a run's list entry; faults of its files become Error.
func (s *Server) info(r *run) RunInfo {
	in := RunInfo{ID: r.id, Name: s.name(r)}
	if b, err := s.readFile(r, rundir.ConfigFile); err == nil {
		in.Config = flattenYAML(b)
		in.Tasks, _ = strconv.Atoi(in.Config["tasks"])
	} else if !errors.Is(err, fs.ErrNotExist) {
		in.Error = err.Error()
	}
	err := s.refresh(r, false)
	defer r.mu.Unlock()
	if err != nil {
		in.Error = err.Error()
	}
	t := r.tasks
	in.TasksDone = t.Rows()
	in.Skipped = t.Malformed()
	if steps, ok := t.Value("steps", t.Rows()-1); ok {
		in.Step = steps
	}
	if last, ok := s.lastStep(r); ok && last > in.Step {
		in.Step = last
	}
	var sum summary
	b, err := s.readFile(r, rundir.SummaryFile)
	switch {
	case err == nil && json.Unmarshal(b, &sum) == nil:
		in.Status = sum.Status
		if in.Status == "" { // summaries before statuses were written
			in.Status = train.StatusFinished
			if len(sum.Divergence) > 0 && string(sum.Divergence) != "null" {
				in.Status = train.StatusDiverged
			}
		}
		in.FinalAcc, in.MeanOnlineAcc = sum.FinalAcc, sum.MeanOnlineAcc
	case err == nil:
		in.Error = rundir.SummaryFile + ": not JSON"
		fallthrough
	default:
		in.Status = StatusInterrupted
		if s.locked(r) || time.Since(s.lastWrite(r)) < s.opts.LiveWindow {
			in.Status = StatusRunning
		}
	}
	if in.FinalAcc == nil {
		if v, ok := t.Value("final_acc", t.Rows()-1); ok {
			in.FinalAcc = &v
		}
	}
	if in.MeanOnlineAcc == nil {
		if _, y, ok := t.Series("online_acc"); ok && len(y) > 0 {
			m := 0.0
			for _, v := range y {
				m += v
			}
			m /= float64(len(y))
			in.MeanOnlineAcc = &m
		}
	}
	return in
}

// locked reports whether a process holds the run's lock (runs by builds
// of lot from before the lock fall back on lastWrite).
func (s *Server) locked(r *run) bool {
	f, err := s.open(r, rundir.LockFile)
	if err != nil {
		return false
	}
	defer f.Close()
	held, _ := rundir.LockHeld(f)
	return held
}

// lastWrite is the latest modification of a run's logs and checkpoint.
func (s *Server) lastWrite(r *run) time.Time {
	var last time.Time
	for _, f := range []string{rundir.MetricsFile, rundir.TasksFile, rundir.CheckpointFile, rundir.ConfigFile} {
		if st, err := s.roots[r.root].r.Stat(path.Join(r.rel, f)); err == nil && st.ModTime().After(last) {
			last = st.ModTime()
		}
	}
	return last
}

// lastStep reads the step of metrics.jsonl's last whole line from the
// file's end, without reading the rest.
func (s *Server) lastStep(r *run) (float64, bool) {
	f, err := s.open(r, rundir.MetricsFile)
	if err != nil {
		return 0, false
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil || st.Size() == 0 {
		return 0, false
	}
	n := min(st.Size(), 1<<16)
	b := make([]byte, n)
	if _, err := f.ReadAt(b, st.Size()-n); err != nil && !errors.Is(err, io.EOF) {
		return 0, false
	}
	lines := bytes.Split(bytes.TrimRight(b, "\n"), []byte("\n"))
	for i := len(lines) - 1; i >= 0 && i >= len(lines)-3; i-- {
		var row struct{ Step *float64 }
		if json.Unmarshal(lines[i], &row) == nil && row.Step != nil {
			return *row.Step, true
		}
	}
	return 0, false
}

// flattenYAML maps each dotted key of a config to its value as text.
func flattenYAML(b []byte) map[string]string {
	var m map[string]any
	if yaml.Unmarshal(b, &m) != nil {
		return nil
	}
	out := map[string]string{}
	var walk func(prefix string, v any)
	walk = func(prefix string, v any) {
		switch v := v.(type) {
		case map[string]any:
			for k, x := range v {
				if prefix != "" {
					k = prefix + "." + k
				}
				walk(k, x)
			}
		case []any:
			parts := make([]string, len(v))
			for i, x := range v {
				parts[i] = fmt.Sprint(x)
			}
			out[prefix] = strings.Join(parts, ",")
		default:
			out[prefix] = fmt.Sprint(v)
		}
	}
	walk("", m)
	return out
}

// diffConfigs sets each run's Diff to the config values that differ among
// its siblings: the runs in the same directory, or, for a run alone
// there, the runs under the same root.
func diffConfigs(runs []RunInfo) {
	parent := func(in RunInfo) string {
		root, rel, _ := strings.Cut(in.ID, ":")
		return root + ":" + path.Dir(rel)
	}
	count := map[string]int{}
	for _, in := range runs {
		count[parent(in)]++
	}
	members := map[string][]int{}
	for i, in := range runs {
		group := parent(in)
		if count[group] == 1 { // alone in its directory: its root's runs
			group, _, _ = strings.Cut(in.ID, ":")
		}
		members[group] = append(members[group], i)
	}
	for _, idx := range members {
		keys := map[string]bool{}
		for _, i := range idx {
			for k := range runs[i].Config {
				keys[k] = true
			}
		}
		for k := range keys {
			first, differs := runs[idx[0]].Config[k], false
			for _, i := range idx[1:] {
				differs = differs || runs[i].Config[k] != first
			}
			if !differs {
				continue
			}
			for _, i := range idx {
				if runs[i].Diff == nil {
					runs[i].Diff = map[string]string{}
				}
				runs[i].Diff[k] = runs[i].Config[k]
			}
		}
	}
	for i := range runs {
		if runs[i].Diff == nil {
			runs[i].Diff = map[string]string{}
		}
	}
	slices.SortFunc(runs, func(a, b RunInfo) int { return strings.Compare(a.ID, b.ID) })
}
