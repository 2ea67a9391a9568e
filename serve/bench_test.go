package serve

import (
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"syscall"
	"testing"
	"time"
)

// BenchmarkRunPage60k serves a run's page, its metadata and an
// accuracy and a per-layer diagnostic chart, over a 60,000-row metrics.jsonl with full
// diagnostics (an authors'-protocol run of 2.35 million steps), from a
// cold start: a new Server each time, so the whole log is read.
func BenchmarkRunPage60k(b *testing.B) {
	dir := filepath.Join(b.TempDir(), "run")
	writeRun(b, dir, 1, 60000, 1500, true)
	cpu := startCPU()
	for b.Loop() {
		s, err := New(Options{Dirs: []string{dir}})
		if err != nil {
			b.Fatal(err)
		}
		h := s.Handler()
		for _, u := range []string{"/api/run?id=0:.", "/api/series?id=0:.&metric=acc", "/api/series?id=0:.&metric=diag.layers.fc1.alpha_tilde"} {
			w := httptest.NewRecorder()
			h.ServeHTTP(w, httptest.NewRequest(http.MethodGet, u, nil))
			if w.Code != http.StatusOK {
				b.Fatalf("%s: %d %s", u, w.Code, w.Body)
			}
		}
		s.Close()
	}
	cpu.report(b)
}

// BenchmarkRunPage60kWarm is the same page again on a running server:
// the logs are indexed already, and only appended bytes would be read.
func BenchmarkRunPage60kWarm(b *testing.B) {
	dir := filepath.Join(b.TempDir(), "run")
	writeRun(b, dir, 1, 60000, 1500, true)
	s, err := New(Options{Dirs: []string{dir}})
	if err != nil {
		b.Fatal(err)
	}
	defer s.Close()
	h := s.Handler()
	h.ServeHTTP(httptest.NewRecorder(), httptest.NewRequest(http.MethodGet, "/api/run?id=0:.", nil)) // the cold read
	cpu := startCPU()
	for b.Loop() {
		for _, u := range []string{"/api/run?id=0:.", "/api/series?id=0:.&metric=acc", "/api/series?id=0:.&metric=diag.layers.fc1.alpha_tilde"} {
			w := httptest.NewRecorder()
			h.ServeHTTP(w, httptest.NewRequest(http.MethodGet, u, nil))
			if w.Code != http.StatusOK {
				b.Fatalf("%s: %d %s", u, w.Code, w.Body)
			}
		}
	}
	cpu.report(b)
}

// cpuClock reads the process's CPU time (user and system), so that a
// benchmark can report it beside the wall time, which another load on the
// machine stretches.
type cpuClock time.Duration

func startCPU() cpuClock { return cpuClock(cpuTime()) }

func (c cpuClock) report(b *testing.B) {
	b.ReportMetric(float64(cpuTime()-time.Duration(c))/float64(time.Millisecond)/float64(b.N), "cpu-ms/op")
}

func cpuTime() time.Duration {
	var ru syscall.Rusage
	syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
