package serve

import (
	"bufio"
	"crypto/sha256"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/lot-toolkit/lot/rundir"
)

// TestPathsStayInsideTheDirectories: files and reports are served only
// from under the directories given; .. and symlinks out are refused, and
// a run directory that is a symlink out is not listed.
func TestPathsStayInsideTheDirectories(t *testing.T) {
	base := t.TempDir()
	served, outside := filepath.Join(base, "served"), filepath.Join(base, "outside")
	writeRun(t, filepath.Join(served, "run"), 1, 20, 10, true)
	writeRun(t, filepath.Join(outside, "secret-run"), 2, 20, 10, true)
	const secret = "SECRET-CONTENT"
	must(t, os.WriteFile(filepath.Join(outside, "secret.png"), []byte(secret), 0o644))
	must(t, os.WriteFile(filepath.Join(outside, "secret.md"), []byte(secret), 0o644))
	must(t, os.WriteFile(filepath.Join(served, "fig.png"), []byte("PNG"), 0o644))
	must(t, os.Symlink(filepath.Join(outside, "secret.png"), filepath.Join(served, "link.png")))
	must(t, os.Symlink(filepath.Join(outside, "secret.md"), filepath.Join(served, "link.md")))
	must(t, os.Symlink(filepath.Join(outside, "secret-run"), filepath.Join(served, "linkrun")))
	// A run inside whose log is a symlink to a file outside.
	inner := filepath.Join(served, "inner")
	writeRun(t, inner, 3, 20, 10, true)
	os.Remove(filepath.Join(inner, "metrics.jsonl"))
	must(t, os.Symlink(filepath.Join(outside, "secret-run", "metrics.jsonl"), filepath.Join(inner, "metrics.jsonl")))

	_, hs := newTestServer(t, Options{Dirs: []string{served}})
	get := func(path string) (int, string) {
		t.Helper()
		req, _ := http.NewRequest(http.MethodGet, hs.URL, nil)
		req.URL.Opaque = path // sent as written: no client-side cleaning of ..
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
	if code, body := get("/files/0/fig.png"); code != 200 || body != "PNG" {
		t.Fatalf("a file inside: %d %q", code, body)
	}
	for _, p := range []string{
		"/files/0/link.png",
		"/files/0/../outside/secret.png",
		"/files/0/..%2Foutside%2Fsecret.png",
		"/files/0/%2E%2E/outside/secret.png",
		"/files/0/" + url.PathEscape(filepath.Join(outside, "secret.png")),
		"/files/1/secret.png",
		"/api/report?id=0:link.md",
		"/api/report?id=0:../outside/secret.md",
		"/api/report?id=" + url.QueryEscape("0:"+filepath.Join(outside, "secret.md")),
		"/api/run?id=0:linkrun",
		"/api/run?id=0:../outside/secret-run",
		"/api/series?id=0:linkrun&metric=acc",
		"/api/series?id=0:inner&metric=acc",
	} {
		code, body := get(p)
		if code == http.StatusOK || strings.Contains(body, secret) {
			t.Errorf("%s: status %d, body %.80q: served from outside", p, code, body)
		}
	}
	var list RunList
	getJSON(t, hs.URL+"/api/runs", 200, &list)
	for _, r := range list.Runs {
		if r.ID == "0:linkrun" {
			t.Error("a symlinked run directory out of the root is listed")
		}
	}
	// The symlinked metrics.jsonl's rows are not read either: the secret
	// run's steps go to 800, and its accuracies are another seed's.
	var ch Chart
	code, _ := get("/api/series?id=0:inner&metric=acc")
	if code == 200 {
		getJSON(t, hs.URL+"/api/series?id=0:inner&metric=acc", 200, &ch)
		t.Errorf("the inner run's symlinked log was read: %d points", len(ch.Lines[0].X))
	}
}

// TestReadOnly: every method but GET and HEAD is refused on every path.
func TestReadOnly(t *testing.T) {
	dir := t.TempDir()
	writeRun(t, filepath.Join(dir, "run"), 1, 20, 10, true)
	_, hs := newTestServer(t, Options{Dirs: []string{dir}})
	before, _ := os.ReadFile(filepath.Join(dir, "run", "metrics.jsonl"))
	for _, m := range []string{http.MethodPost, http.MethodPut, http.MethodDelete, http.MethodPatch} {
		for _, p := range []string{"/", "/api/runs", "/api/run?id=0:run", "/files/0/run/metrics.jsonl", "/api/events?id=0:run"} {
			req, _ := http.NewRequest(m, hs.URL+p, strings.NewReader("x"))
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			if resp.StatusCode != http.StatusMethodNotAllowed {
				t.Errorf("%s %s: %d, want 405", m, p, resp.StatusCode)
			}
		}
	}
	after, _ := os.ReadFile(filepath.Join(dir, "run", "metrics.jsonl"))
	if string(before) != string(after) {
		t.Error("a request changed a log")
	}
}

// TestStatuses: finished and diverged from the summary (a summary of an
// older lot without a status is finished); without one, running while the
// logs were written lately, interrupted after.
func TestStatuses(t *testing.T) {
	dir := t.TempDir()
	for _, name := range []string{"done", "diverged", "old", "running", "stopped", "locked"} {
		writeRun(t, filepath.Join(dir, name), 1, 40, 10, false)
	}
	must(t, os.WriteFile(filepath.Join(dir, "done", "summary.json"), []byte(`{"status":"finished","final_acc":0.5,"mean_online_acc":0.25}`), 0o644))
	must(t, os.WriteFile(filepath.Join(dir, "diverged", "summary.json"), []byte(`{"status":"diverged","divergence":{"step":7}}`), 0o644))
	must(t, os.WriteFile(filepath.Join(dir, "old", "summary.json"), []byte(`{"tasks":4,"final_acc":0.5}`), 0o644))
	long := time.Now().Add(-time.Hour)
	for _, run := range []string{"stopped", "locked"} {
		for _, f := range []string{"config.yaml", "metrics.jsonl", "tasks.jsonl"} {
			must(t, os.Chtimes(filepath.Join(dir, run, f), long, long))
		}
	}
	// Quiet for an hour, but a process holds its lock (in a long
	// evaluation, say): running.
	unlock, err := rundir.Lock(filepath.Join(dir, "locked"))
	must(t, err)
	defer unlock()
	_, hs := newTestServer(t, Options{Dirs: []string{dir}, LiveWindow: time.Minute})
	var list RunList
	getJSON(t, hs.URL+"/api/runs", 200, &list)
	want := map[string]string{"0:done": "finished", "0:diverged": "diverged", "0:old": "finished", "0:running": "running", "0:stopped": "interrupted", "0:locked": "running"}
	if len(list.Runs) != len(want) {
		t.Fatalf("%d runs listed, want %d", len(list.Runs), len(want))
	}
	for _, r := range list.Runs {
		if r.Status != want[r.ID] {
			t.Errorf("%s: %s, want %s", r.ID, r.Status, want[r.ID])
		}
		if r.TasksDone != 4 || r.Tasks != 4 || r.Step != 1600 {
			t.Errorf("%s: %d/%d tasks, step %v; want 4/4, 1600", r.ID, r.TasksDone, r.Tasks, r.Step)
		}
	}
}

// TestRunListDiffsSiblings: each run shows the config values that differ
// from its siblings'.
func TestRunListDiffsSiblings(t *testing.T) {
	dir := t.TempDir()
	writeRun(t, filepath.Join(dir, "sweep", "a"), 1, 20, 10, true)
	writeRun(t, filepath.Join(dir, "sweep", "b"), 2, 20, 10, true)
	writeRun(t, filepath.Join(dir, "sweep", "c"), 2, 30, 10, true)
	_, hs := newTestServer(t, Options{Dirs: []string{dir}})
	var list RunList
	getJSON(t, hs.URL+"/api/runs", 200, &list)
	want := map[string]map[string]string{
		"0:sweep/a": {"seed": "1", "tasks": "2"},
		"0:sweep/b": {"seed": "2", "tasks": "2"},
		"0:sweep/c": {"seed": "2", "tasks": "3"},
	}
	for _, r := range list.Runs {
		if !mapsEqual(r.Diff, want[r.ID]) {
			t.Errorf("%s: diff %v, want %v", r.ID, r.Diff, want[r.ID])
		}
	}
}

func mapsEqual(a, b map[string]string) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if b[k] != v {
			return false
		}
	}
	return true
}

// TestSeriesDownsampledOnTheServer: a 60,000-row log reaches the page as
// at most MaxPoints points a series, all inside the window asked for.
func TestSeriesDownsampledOnTheServer(t *testing.T) {
	dir := t.TempDir()
	writeRun(t, dir, 1, 60000, 1500, true)
	_, hs := newTestServer(t, Options{Dirs: []string{dir}})
	var ch Chart
	getJSON(t, hs.URL+"/api/series?id=0:.&metric=diag.layers.fc2.alpha_tilde", 200, &ch)
	l := ch.Lines[0]
	if l.Total != 60000 || len(l.X) > DefaultMaxPoints || len(l.X) < DefaultMaxPoints/2 {
		t.Errorf("%d points sent of %d (max %d)", len(l.X), l.Total, DefaultMaxPoints)
	}
	if len(ch.TaskEnds) != 40 || ch.TaskEnds[0] != 60000 {
		t.Errorf("task ends %v", ch.TaskEnds[:min(3, len(ch.TaskEnds))])
	}
	getJSON(t, hs.URL+"/api/series?id=0:.&metric=acc&from=40000&to=80000&points=100", 200, &ch)
	l = ch.Lines[0]
	if l.Total != 1001 || len(l.X) > 100 || l.X[0] < 40000 || l.X[len(l.X)-1] > 80000 {
		t.Errorf("window: %d of %d points, x %v..%v", len(l.X), l.Total, l.X[0], l.X[len(l.X)-1])
	}
	getJSON(t, hs.URL+"/api/series?id=0:.&metric=online_acc", 200, &ch)
	if !ch.PerTask || len(ch.Lines[0].X) != 40 || ch.Lines[0].X[0] != 1 {
		t.Errorf("online_acc: per task %v, x %v", ch.PerTask, ch.Lines[0].X)
	}
	for _, bad := range []string{"metric=nope", "metric=acc&from=x", "metric=acc&points=1", "", "metric=acc&to=Inf"} {
		var e map[string]string
		code := 400
		if bad == "metric=nope" {
			code = 404
		}
		getJSON(t, hs.URL+"/api/series?id=0:.&"+bad, code, &e)
		if e["error"] == "" {
			t.Errorf("%s: no error message", bad)
		}
	}
}

// TestMalformedLinesCounted: the run page says how many lines were skipped.
func TestMalformedLinesCounted(t *testing.T) {
	dir := t.TempDir()
	writeRun(t, dir, 1, 30, 10, true)
	f, _ := os.OpenFile(filepath.Join(dir, "metrics.jsonl"), os.O_APPEND|os.O_WRONLY, 0)
	f.WriteString("{oops\n{\"step\":5000,\"acc\":")
	f.Close()
	f, _ = os.OpenFile(filepath.Join(dir, "tasks.jsonl"), os.O_APPEND|os.O_WRONLY, 0)
	f.WriteString("not json\n")
	f.Close()
	_, hs := newTestServer(t, Options{Dirs: []string{dir}})
	var page RunPage
	getJSON(t, hs.URL+"/api/run?id=0:.", 200, &page)
	if page.SkippedLines["metrics.jsonl"] != 1 || page.SkippedLines["tasks.jsonl"] != 1 || !page.Partial || page.Rows != 30 {
		t.Errorf("skipped %v, partial %v, rows %d; want 1 and 1, true, 30", page.SkippedLines, page.Partial, page.Rows)
	}
}

// TestCompareGroupsSeeds: two seeds of a config are one line, their mean
// with a min–max band; another config is another line.
func TestCompareGroupsSeeds(t *testing.T) {
	dir := t.TempDir()
	writeRun(t, filepath.Join(dir, "s0"), 0, 30, 10, true)
	writeRun(t, filepath.Join(dir, "s1"), 1, 30, 10, true)
	writeRun(t, filepath.Join(dir, "long"), 2, 40, 10, true)
	s, hs := newTestServer(t, Options{Dirs: []string{dir}})
	var ch Chart
	getJSON(t, hs.URL+"/api/compare?id=0:s0&id=0:s1&id=0:long&metric=acc", 200, &ch)
	if len(ch.Lines) != 2 || len(ch.Lines[0].Runs) != 2 || ch.Lines[0].Lo == nil || ch.Lines[1].Lo != nil {
		t.Fatalf("lines %+v", ch.Lines)
	}
	r0, _ := s.lookup("0:s0")
	r1, _ := s.lookup("0:s1")
	_, y0, _, _ := s.seriesOf(r0, "acc", nan, nan)
	_, y1, _, _ := s.seriesOf(r1, "acc", nan, nan)
	for i := range y0 {
		if m := (y0[i] + y1[i]) / 2; ch.Lines[0].Y[i] != m || ch.Lines[0].Lo[i] != min(y0[i], y1[i]) || ch.Lines[0].Hi[i] != max(y0[i], y1[i]) {
			t.Fatalf("point %d: %v [%v, %v], want %v [%v, %v]", i, ch.Lines[0].Y[i], ch.Lines[0].Lo[i], ch.Lines[0].Hi[i], m, min(y0[i], y1[i]), max(y0[i], y1[i]))
		}
	}
	if !strings.Contains(ch.Lines[0].Label, "2 seeds") {
		t.Errorf("label %q", ch.Lines[0].Label)
	}
}

// TestLiveStream: a row appended to metrics.jsonl sends a change event.
func TestLiveStream(t *testing.T) {
	dir := t.TempDir()
	writeRun(t, dir, 1, 30, 10, false)
	_, hs := newTestServer(t, Options{Dirs: []string{dir}, Poll: 20 * time.Millisecond})
	resp, err := http.Get(hs.URL + "/api/events?id=0:.")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if ct := resp.Header.Get("Content-Type"); ct != "text/event-stream" {
		t.Fatalf("content type %q", ct)
	}
	events := make(chan string, 10)
	go func() {
		sc := bufio.NewScanner(resp.Body)
		for sc.Scan() {
			if e, ok := strings.CutPrefix(sc.Text(), "event: "); ok {
				events <- e
			}
		}
		close(events)
	}()
	if e := <-events; e != "hello" {
		t.Fatalf("first event %q", e)
	}
	f, _ := os.OpenFile(filepath.Join(dir, "metrics.jsonl"), os.O_APPEND|os.O_WRONLY, 0)
	f.WriteString(`{"step":99999,"acc":0.5}` + "\n")
	f.Close()
	select {
	case e := <-events:
		if e != "change" {
			t.Errorf("event %q, want change", e)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("no change event after a row was appended")
	}
	var ch Chart
	getJSON(t, hs.URL+"/api/series?id=0:.&metric=acc", 200, &ch)
	if x := ch.Lines[0].X; x[len(x)-1] != 99999 {
		t.Errorf("last step %v, want the appended 99999", x[len(x)-1])
	}
}

// TestCommittedReproduction: lot serve over results/reproduce-paper lists
// its paper-scale runs, finished, and renders its reports with figures
// that it serves.
func TestCommittedReproduction(t *testing.T) {
	dir := filepath.Join("..", "results", "reproduce-paper")
	_, hs := newTestServer(t, Options{Dirs: []string{dir}})
	var list RunList
	getJSON(t, hs.URL+"/api/runs", 200, &list)
	if len(list.Runs) != 11 {
		t.Errorf("%d runs, want the 9 of Fig. 5 and 2 extra", len(list.Runs))
	}
	for _, r := range list.Runs {
		if r.Status != "finished" || r.TasksDone != 40 || r.Tasks != 40 || r.MeanOnlineAcc == nil || len(r.Diff) == 0 {
			t.Errorf("%s: %s, %d/%d tasks, diff %v", r.Name, r.Status, r.TasksDone, r.Tasks, r.Diff)
		}
	}
	var rep Report
	getJSON(t, hs.URL+"/api/report?id=0:report-fig5.md", 200, &rep)
	if !strings.Contains(rep.HTML, `<img src="/files/0/fig5-l2.png"`) || !strings.Contains(rep.HTML, "<table>") {
		t.Fatalf("report-fig5.md rendered without its figure or table:\n%.400s", rep.HTML)
	}
	resp, err := http.Get(hs.URL + "/files/0/fig5-l2.png")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 200 || resp.Header.Get("Content-Type") != "image/png" {
		t.Errorf("fig5-l2.png: %d %s", resp.StatusCode, resp.Header.Get("Content-Type"))
	}
}

// TestNewRefusesBadDirectories: a missing directory or a file is one error.
func TestNewRefusesBadDirectories(t *testing.T) {
	file := filepath.Join(t.TempDir(), "f")
	os.WriteFile(file, nil, 0o644)
	for _, dirs := range [][]string{nil, {filepath.Join(t.TempDir(), "absent")}, {file}} {
		if _, err := New(Options{Dirs: dirs}); err == nil {
			t.Errorf("%v: no error", dirs)
		}
	}
}

// TestPageAndAssetsEmbedded: the page and the pinned chart library are
// served from the binary.
func TestPageAndAssetsEmbedded(t *testing.T) {
	_, hs := newTestServer(t, Options{Dirs: []string{t.TempDir()}})
	for _, p := range []string{"/", "/assets/app.js", "/assets/vendor/uPlot.iife.min.js", "/assets/vendor/uPlot.min.css"} {
		resp, err := http.Get(hs.URL + p)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != 200 || len(b) < 100 {
			t.Errorf("%s: %d, %d bytes", p, resp.StatusCode, len(b))
		}
	}
}

// TestVendoredAssetsMatchTheirChecksums: the embedded chart library is the
// one scripts/web-assets pinned.
func TestVendoredAssetsMatchTheirChecksums(t *testing.T) {
	sums, err := web.ReadFile("web/vendor/SHA256SUMS")
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, line := range strings.Split(strings.TrimSpace(string(sums)), "\n") {
		want, name, ok := strings.Cut(line, "  ")
		if !ok {
			t.Fatalf("SHA256SUMS: %q", line)
		}
		b, err := web.ReadFile("web/vendor/" + name)
		if err != nil {
			t.Fatal(err)
		}
		if got := fmt.Sprintf("%x", sha256.Sum256(b)); got != want {
			t.Errorf("%s: sha256 %s, pinned %s", name, got, want)
		}
		n++
	}
	if n != 2 {
		t.Errorf("%d files pinned, want 2", n)
	}
}

// TestConcurrentRequestsWhileAppending: pages read a run while its log
// grows; every answer is whole (run with -race to check the locking).
func TestConcurrentRequestsWhileAppending(t *testing.T) {
	dir := t.TempDir()
	writeRun(t, dir, 1, 100, 10, false)
	_, hs := newTestServer(t, Options{Dirs: []string{dir}})
	done := make(chan struct{})
	go func() {
		defer close(done)
		f, _ := os.OpenFile(filepath.Join(dir, "metrics.jsonl"), os.O_APPEND|os.O_WRONLY, 0)
		defer f.Close()
		for i := range 200 {
			fmt.Fprintf(f, `{"step":%d,"acc":0.5}`+"\n", 100000+i)
		}
	}()
	errs := make(chan error, 3*20)
	for _, u := range []string{"/api/run?id=0:.", "/api/series?id=0:.&metric=acc", "/api/runs"} {
		go func() {
			for range 20 {
				resp, err := http.Get(hs.URL + u)
				if err == nil {
					io.Copy(io.Discard, resp.Body)
					resp.Body.Close()
					if resp.StatusCode != 200 {
						err = fmt.Errorf("%s: %d", u, resp.StatusCode)
					}
				}
				errs <- err
			}
		}()
	}
	for range 3 * 20 {
		if err := <-errs; err != nil {
			t.Error(err)
		}
	}
	<-done
	var ch Chart
	getJSON(t, hs.URL+"/api/series?id=0:.&metric=acc", 200, &ch)
	if l := ch.Lines[0]; l.Total != 300 || l.X[len(l.X)-1] != 100199 {
		t.Errorf("%d rows, last step %v; want 300, 100199", l.Total, l.X[len(l.X)-1])
	}
}
