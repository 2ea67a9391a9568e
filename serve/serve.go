// Package serve owns `lot serve`: a local, read-only web dashboard over
// run directories, reproductions and sweeps. It lists the runs found under
// the directories given (status, progress, accuracy, config differences),
// draws any logged metric of a run or of several runs overlaid (seeds of
// one config as a mean and a min–max band, as lot plot draws them),
// renders the reports' Markdown with their figures, and streams changes of
// running runs to the page (server-sent events).
//
// Long series are downsampled here (internal/thin, as the figures are),
// keeping each bucket's min and max, so the page never holds more than it
// draws. The logs are read through
// rundir.LogIndex, incrementally: a refresh reads only the bytes appended
// since the last.
// Nothing here writes: every endpoint is a GET, and every file is opened
// through an os.Root, which refuses paths that leave the directories
// given, by .. or by a symlink. The page's assets (web/) are embedded.
package serve

import (
	"embed"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"math"
	"net/http"
	"os"
	"path"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/yuin/goldmark"
	"github.com/yuin/goldmark/ast"
	"github.com/yuin/goldmark/extension"
	"github.com/yuin/goldmark/text"

	"github.com/lot-toolkit/lot/rundir"
	"github.com/lot-toolkit/lot/train"
)

//go:embed web
var web embed.FS

// Options configure a Server; zero fields take the defaults below.
type Options struct {
	// Dirs are the directories served: runs, reproductions, sweeps.
	Dirs []string
	// MaxPoints bounds the points of one series sent to the page.
	MaxPoints int
	// Poll is how often the live stream looks for appended rows.
	Poll time.Duration
	// LiveWindow: a run without a summary whose files changed within it
	// is running; one quiet for longer was interrupted.
	LiveWindow time.Duration
}

// Defaults of Options.
const (
	DefaultMaxPoints  = 2000
	DefaultPoll       = time.Second
	DefaultLiveWindow = 5 * time.Minute
)

// Kinds of request fault, for the HTTP status.
var (
	errBadRequest = errors.New("bad request")
	errNotFound   = errors.New("not found")
)

// Server serves the dashboard; it is safe for concurrent use.
type Server struct {
	opts  Options
	roots []root

	mu   sync.Mutex
	runs map[string]*run
}

// New opens the directories to serve. Each must exist and be a directory.
func New(opts Options) (*Server, error) {
	if len(opts.Dirs) == 0 {
		return nil, errors.New("serve: no directories given")
	}
	if opts.MaxPoints <= 0 {
		opts.MaxPoints = DefaultMaxPoints
	}
	if opts.Poll <= 0 {
		opts.Poll = DefaultPoll
	}
	if opts.LiveWindow <= 0 {
		opts.LiveWindow = DefaultLiveWindow
	}
	s := &Server{opts: opts, runs: map[string]*run{}}
	for _, d := range opts.Dirs {
		r, err := openRoot(d)
		if err != nil {
			s.Close()
			return nil, err
		}
		s.roots = append(s.roots, root{dir: filepath.Clean(d), r: r})
	}
	return s, nil
}

// openRoot opens a directory to serve.
func openRoot(dir string) (*os.Root, error) {
	st, err := os.Stat(dir)
	if err != nil {
		return nil, err
	}
	if !st.IsDir() {
		return nil, fmt.Errorf("%s: not a directory", dir)
	}
	return os.OpenRoot(dir)
}

// Close releases the directories.
func (s *Server) Close() error {
	for _, r := range s.roots {
		r.r.Close()
	}
	return nil
}

// Handler is the dashboard's HTTP handler: the page, its assets, the JSON
// API under /api/ and the served directories' files under /files/.
func (s *Server) Handler() http.Handler {
	mux := http.NewServeMux()
	assets, _ := fs.Sub(web, "web")
	mux.Handle("GET /assets/", http.StripPrefix("/assets/", http.FileServerFS(assets)))
	mux.HandleFunc("GET /{$}", func(w http.ResponseWriter, r *http.Request) {
		http.ServeFileFS(w, r, assets, "index.html")
	})
	mux.HandleFunc("GET /api/runs", s.api(s.handleRuns))
	mux.HandleFunc("GET /api/run", s.api(s.handleRun))
	mux.HandleFunc("GET /api/series", s.api(s.handleSeries))
	mux.HandleFunc("GET /api/compare", s.api(s.handleCompare))
	mux.HandleFunc("GET /api/report", s.api(s.handleReport))
	mux.HandleFunc("GET /api/events", s.handleEvents)
	mux.HandleFunc("GET /files/{root}/{path...}", s.handleFile)
	return readOnly(mux)
}

// readOnly refuses every method but GET and HEAD, and keeps the browser
// from guessing types or framing the page.
func readOnly(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodGet && r.Method != http.MethodHead {
			w.Header().Set("Allow", "GET, HEAD")
			http.Error(w, "lot serve is read-only", http.StatusMethodNotAllowed)
			return
		}
		w.Header().Set("X-Content-Type-Options", "nosniff")
		w.Header().Set("X-Frame-Options", "DENY")
		h.ServeHTTP(w, r)
	})
}

// api adapts a handler returning a value or an error to JSON.
func (s *Server) api(f func(r *http.Request) (any, error)) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		v, err := f(r)
		w.Header().Set("Content-Type", "application/json")
		w.Header().Set("Cache-Control", "no-store")
		if err != nil {
			code := http.StatusInternalServerError
			switch {
			case errors.Is(err, errBadRequest):
				code = http.StatusBadRequest
			case errors.Is(err, errNotFound), errors.Is(err, fs.ErrNotExist):
				code = http.StatusNotFound
			}
			w.WriteHeader(code)
			json.NewEncoder(w).Encode(map[string]string{"error": err.Error()})
			return
		}
		json.NewEncoder(w).Encode(v)
	}
}

// RunList is /api/runs.
type RunList struct {
	Roots   []string  `json:"roots"`
	Runs    []RunInfo `json:"runs"`
	Reports []string  `json:"reports"` // ids of Markdown files
}

func (s *Server) handleRuns(*http.Request) (any, error) {
	reports, err := s.scan()
	if err != nil {
		return nil, err
	}
	list := RunList{Reports: reports, Runs: []RunInfo{}}
	for _, r := range s.roots {
		list.Roots = append(list.Roots, r.dir)
	}
	s.mu.Lock()
	runs := make([]*run, 0, len(s.runs))
	for _, r := range s.runs {
		runs = append(runs, r)
	}
	s.mu.Unlock()
	for _, r := range runs {
		list.Runs = append(list.Runs, s.info(r))
	}
	diffConfigs(list.Runs)
	if list.Reports == nil {
		list.Reports = []string{}
	}
	return list, nil
}

// RunPage is /api/run: what a run's page needs besides its charts.
type RunPage struct {
	RunInfo
	ConfigText   string         `json:"config"`
	Metrics      []string       `json:"metrics"`      // metrics.jsonl's numeric paths
	TaskMetrics  []string       `json:"task_metrics"` // tasks.jsonl's
	TaskColumns  []string       `json:"task_columns"`
	TaskRows     [][]any        `json:"task_rows"`
	TaskEnds     []float64      `json:"task_ends"`
	Rows         int            `json:"rows"` // metrics.jsonl rows read
	SkippedLines map[string]int `json:"skipped"`
	Partial      bool           `json:"partial"` // metrics.jsonl ends inside a line
}

func (s *Server) handleRun(req *http.Request) (any, error) {
	r, err := s.lookup(req.URL.Query().Get("id"))
	if err != nil {
		return nil, err
	}
	page := RunPage{RunInfo: s.info(r)}
	cfg, _ := s.readFile(r, rundir.ConfigFile)
	page.ConfigText = string(cfg)
	if err := s.refresh(r, true); err != nil {
		r.mu.Unlock()
		return nil, err
	}
	defer r.mu.Unlock()
	m, t := r.metrics, r.tasks
	page.Metrics, page.TaskMetrics = m.Names(), t.Names()
	// The task first, then the rest as named.
	page.TaskColumns = append([]string{"task"}, slices.DeleteFunc(t.Names(), func(n string) bool { return n == "task" })...)
	page.Metrics = slices.DeleteFunc(page.Metrics, func(n string) bool { return n == "step" })
	page.TaskMetrics = slices.DeleteFunc(page.TaskMetrics, func(n string) bool { return n == "task" || n == "steps" })
	page.TaskRows = make([][]any, t.Rows())
	for i := range t.Rows() {
		row := make([]any, len(page.TaskColumns))
		for j, c := range page.TaskColumns {
			if v, ok := t.Value(c, i); ok {
				row[j] = v
			}
		}
		page.TaskRows[i] = row
	}
	page.TaskEnds = taskEnds(t)
	page.Rows = m.Rows()
	page.SkippedLines = map[string]int{rundir.MetricsFile: m.Malformed(), rundir.TasksFile: t.Malformed()}
	page.Partial = m.Partial()
	return page, nil
}

func taskEnds(t *rundir.LogIndex) []float64 {
	_, ends, _ := t.Series("steps")
	if ends == nil {
		ends = []float64{}
	}
	return ends
}

// Chart is /api/series and /api/compare: one or more lines of a metric.
type Chart struct {
	Metric   string    `json:"metric"`
	PerTask  bool      `json:"per_task"` // x is the task (1-based), else the update step
	Lines    []Line    `json:"lines"`
	TaskEnds []float64 `json:"task_ends"`
}

// Line is one run, or one config's seeds, drawn downsampled.
type Line struct {
	Label string   `json:"label"`
	Runs  []string `json:"runs"`
	Total int      `json:"total"` // points in the window before downsampling
	Points
}

// chartQuery reads metric, from and to (x bounds, optional) and points.
func (s *Server) chartQuery(req *http.Request) (metric string, from, to float64, maxPoints int, err error) {
	q := req.URL.Query()
	metric = q.Get("metric")
	if metric == "" {
		return "", 0, 0, 0, fmt.Errorf("%w: no metric", errBadRequest)
	}
	from, to, maxPoints = math.NaN(), math.NaN(), s.opts.MaxPoints
	for _, b := range []struct {
		name string
		v    *float64
	}{{"from", &from}, {"to", &to}} {
		if t := q.Get(b.name); t != "" {
			if *b.v, err = strconv.ParseFloat(t, 64); err != nil || math.IsInf(*b.v, 0) {
				return "", 0, 0, 0, fmt.Errorf("%w: %s=%q is not a number", errBadRequest, b.name, t)
			}
		}
	}
	if t := q.Get("points"); t != "" {
		n, err := strconv.Atoi(t)
		if err != nil || n < 2 {
			return "", 0, 0, 0, fmt.Errorf("%w: points=%q is not a count of at least 2", errBadRequest, t)
		}
		maxPoints = min(n, s.opts.MaxPoints)
	}
	return metric, from, to, maxPoints, nil
}

func isTaskMetric(metric string) bool { return slices.Contains(train.TaskMetrics, metric) }

// seriesOf reads one metric of a run, cut to [from, to].
func (s *Server) seriesOf(r *run, metric string, from, to float64) (x, y, ends []float64, err error) {
	perTask := isTaskMetric(metric)
	if err := s.refresh(r, !perTask); err != nil {
		r.mu.Unlock()
		return nil, nil, nil, err
	}
	defer r.mu.Unlock()
	ix := r.metrics
	if perTask {
		ix = r.tasks
	}
	x, y, ok := ix.Series(metric)
	if !ok {
		return nil, nil, nil, fmt.Errorf("%w: %s logs no metric %q", errNotFound, s.name(r), metric)
	}
	x, y = window(x, y, from, to)
	return x, y, taskEnds(r.tasks), nil
}

func (s *Server) handleSeries(req *http.Request) (any, error) {
	metric, from, to, maxPoints, err := s.chartQuery(req)
	if err != nil {
		return nil, err
	}
	r, err := s.lookup(req.URL.Query().Get("id"))
	if err != nil {
		return nil, err
	}
	x, y, ends, err := s.seriesOf(r, metric, from, to)
	if err != nil {
		return nil, err
	}
	line := Line{Label: s.name(r), Runs: []string{r.id}, Total: len(x), Points: downsample(Points{X: x, Y: y}, maxPoints)}
	return Chart{Metric: metric, PerTask: isTaskMetric(metric), Lines: []Line{line}, TaskEnds: ends}, nil
}

// handleCompare overlays runs on one metric; runs whose configs differ
// only in the seed are one line: their mean, with their min–max band, over
// the x every one of them logged.
func (s *Server) handleCompare(req *http.Request) (any, error) {
	metric, from, to, maxPoints, err := s.chartQuery(req)
	if err != nil {
		return nil, err
	}
	ids := req.URL.Query()["id"]
	if len(ids) == 0 {
		return nil, fmt.Errorf("%w: no runs to compare (id=...)", errBadRequest)
	}
	var dirs []string
	byDir := map[string]*run{}
	for _, id := range ids {
		r, err := s.lookup(id)
		if err != nil {
			return nil, err
		}
		d := filepath.Join(s.roots[r.root].dir, filepath.FromSlash(r.rel))
		if byDir[d] == nil {
			dirs = append(dirs, d)
			byDir[d] = r
		}
	}
	groups, err := train.SeedGroups(dirs)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", errBadRequest, err)
	}
	chart := Chart{Metric: metric, PerTask: isTaskMetric(metric), Lines: []Line{}, TaskEnds: []float64{}}
	for _, g := range groups {
		line := Line{Label: s.name(byDir[g[0]])}
		if len(g) > 1 {
			line.Label += fmt.Sprintf(" (%d seeds)", len(g))
		}
		var xs, ys [][]float64
		for _, d := range g {
			r := byDir[d]
			x, y, ends, err := s.seriesOf(r, metric, from, to)
			if err != nil {
				return nil, err
			}
			if len(groups) == 1 && len(xs) == 0 {
				chart.TaskEnds = ends
			}
			line.Runs = append(line.Runs, r.id)
			xs, ys = append(xs, x), append(ys, y)
		}
		p := meanBand(xs, ys)
		line.Total = len(p.X)
		line.Points = downsample(p, maxPoints)
		chart.Lines = append(chart.Lines, line)
	}
	return chart, nil
}

// meanBand joins seeds on the x all of them logged: their mean, and, for
// more than one, their min and max.
func meanBand(xs, ys [][]float64) Points {
	if len(xs) == 1 {
		return Points{X: xs[0], Y: ys[0]}
	}
	type acc struct {
		sum, lo, hi float64
		n           int
	}
	at := map[float64]*acc{}
	for s := range xs {
		for i, x := range xs[s] {
			a := at[x]
			if a == nil {
				a = &acc{lo: math.Inf(1), hi: math.Inf(-1)}
				at[x] = a
			}
			if a.n == s { // one value per seed: a repeated x counts once
				a.sum, a.lo, a.hi, a.n = a.sum+ys[s][i], min(a.lo, ys[s][i]), max(a.hi, ys[s][i]), a.n+1
			}
		}
	}
	var p Points
	for x, a := range at {
		if a.n == len(xs) {
			p.X = append(p.X, x)
		}
	}
	slices.Sort(p.X)
	for _, x := range p.X {
		a := at[x]
		p.Y, p.Lo, p.Hi = append(p.Y, a.sum/float64(a.n)), append(p.Lo, a.lo), append(p.Hi, a.hi)
	}
	if p.X == nil {
		p = Points{X: []float64{}, Y: []float64{}, Lo: []float64{}, Hi: []float64{}}
	}
	return p
}

// Report is /api/report: a Markdown file rendered to HTML, its images'
// and links' relative paths pointing into /files/.
type Report struct {
	ID   string `json:"id"`
	Name string `json:"name"`
	HTML string `json:"html"`
}

func (s *Server) handleReport(req *http.Request) (any, error) {
	id := req.URL.Query().Get("id")
	ri, rel, err := parseID(id)
	if err != nil {
		return nil, err
	}
	if ri >= len(s.roots) || !strings.HasSuffix(rel, ".md") {
		return nil, fmt.Errorf("%w: %q is not a Markdown file under the directories served", errNotFound, id)
	}
	f, err := s.roots[ri].r.Open(rel)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", errNotFound, err)
	}
	defer f.Close()
	src := make([]byte, 0, 1<<16)
	for buf := make([]byte, 1<<16); len(src) < 8<<20; {
		n, err := f.Read(buf)
		src = append(src, buf[:n]...)
		if err != nil {
			break
		}
	}
	md := goldmark.New(goldmark.WithExtensions(extension.GFM))
	doc := md.Parser().Parse(text.NewReader(src))
	base := "/files/" + strconv.Itoa(ri) + "/" + path.Dir(rel)
	ast.Walk(doc, func(n ast.Node, entering bool) (ast.WalkStatus, error) {
		if !entering {
			return ast.WalkContinue, nil
		}
		switch n := n.(type) {
		case *ast.Image:
			n.Destination = rebase(base, n.Destination)
		case *ast.Link:
			n.Destination = rebase(base, n.Destination)
		}
		return ast.WalkContinue, nil
	})
	var out strings.Builder
	if err := md.Renderer().Render(&out, src, doc); err != nil {
		return nil, err
	}
	return Report{ID: id, Name: filepath.Base(s.roots[ri].dir) + "/" + rel, HTML: out.String()}, nil
}

// rebase points a relative link at the served file; absolute URLs and
// anchors are left alone.
func rebase(base string, dest []byte) []byte {
	d := string(dest)
	if d == "" || strings.HasPrefix(d, "#") || strings.HasPrefix(d, "/") || strings.Contains(d, "://") || strings.HasPrefix(d, "mailto:") {
		return dest
	}
	return []byte(path.Join(base, d))
}

// handleFile serves a file under a root (a report's figure, say): only
// regular files of the kinds a report shows, never outside the root.
func (s *Server) handleFile(w http.ResponseWriter, req *http.Request) {
	ri, err := strconv.Atoi(req.PathValue("root"))
	rel := req.PathValue("path")
	if err != nil || ri < 0 || ri >= len(s.roots) {
		http.Error(w, "no such directory", http.StatusNotFound)
		return
	}
	switch strings.ToLower(path.Ext(rel)) {
	case ".png", ".svg", ".md", ".csv", ".json", ".jsonl", ".yaml", ".txt":
	default:
		http.Error(w, "not a kind of file lot serve shows", http.StatusForbidden)
		return
	}
	f, err := s.roots[ri].r.Open(rel)
	if err != nil {
		// os.Root's refusals (.., symlinks out) and absent files alike.
		http.Error(w, "not found under the directories served", http.StatusNotFound)
		return
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil || !st.Mode().IsRegular() {
		http.Error(w, "not a file", http.StatusNotFound)
		return
	}
	// An SVG is a document: it may show, never run scripts.
	w.Header().Set("Content-Security-Policy", "default-src 'none'; img-src 'self' data:; style-src 'unsafe-inline'; sandbox")
	http.ServeContent(w, req, path.Base(rel), st.ModTime(), f)
}

// handleEvents is the live stream: every Poll it looks at the runs' logs
// and summary, and sends a "change" event naming each run whose files
// changed; the page then fetches what it draws again.
func (s *Server) handleEvents(w http.ResponseWriter, req *http.Request) {
	var runs []*run
	for _, id := range req.URL.Query()["id"] {
		r, err := s.lookup(id)
		if err != nil {
			http.Error(w, err.Error(), http.StatusNotFound)
			return
		}
		runs = append(runs, r)
	}
	fl, ok := w.(http.Flusher)
	if !ok {
		http.Error(w, "streaming unsupported", http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "text/event-stream")
	w.Header().Set("Cache-Control", "no-store")
	last := make([]string, len(runs))
	for i, r := range runs {
		last[i] = s.stamp(r)
	}
	fmt.Fprint(w, "event: hello\ndata: {}\n\n")
	fl.Flush()
	tick := time.NewTicker(s.opts.Poll)
	defer tick.Stop()
	for quiet := 0; ; quiet++ {
		select {
		case <-req.Context().Done():
			return
		case <-tick.C:
		}
		for i, r := range runs {
			if st := s.stamp(r); st != last[i] {
				last[i] = st
				b, _ := json.Marshal(map[string]string{"id": r.id})
				fmt.Fprintf(w, "event: change\ndata: %s\n\n", b)
				quiet = 0
			}
		}
		if quiet*int(s.opts.Poll/time.Millisecond) > 15000 {
			fmt.Fprint(w, ": keep-alive\n\n")
			quiet = 0
		}
		fl.Flush()
	}
}

// stamp identifies the state of a run's logs and summary: size and time.
func (s *Server) stamp(r *run) string {
	var b strings.Builder
	for _, f := range []string{rundir.MetricsFile, rundir.TasksFile, rundir.SummaryFile} {
		if st, err := s.roots[r.root].r.Stat(path.Join(r.rel, f)); err == nil {
			fmt.Fprintf(&b, "%d.%d;", st.Size(), st.ModTime().UnixNano())
		} else {
			b.WriteString("-;")
		}
	}
	return b.String()
}
