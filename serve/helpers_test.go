package serve

import (
	"encoding/json"
	"fmt"
	"math"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// writeRun makes a run directory of rows metrics rows (every logEvery
// steps, tasks of perTask rows) with per-layer diagnostics as lot writes
// them, its tasks.jsonl, and, if finished, a summary.
func writeRun(tb testing.TB, dir string, seed uint64, rows, perTask int, finished bool) {
	tb.Helper()
	if err := os.MkdirAll(dir, 0o755); err != nil {
		tb.Fatal(err)
	}
	tasks := (rows + perTask - 1) / perTask
	cfg := fmt.Sprintf("stream: random-label\ntasks: %d\nepochs: 2\nhidden:\n    - 32\nlr: 0.01\nseed: %d\nlog_every: 40\n", tasks, seed)
	must(tb, os.WriteFile(filepath.Join(dir, "config.yaml"), []byte(cfg), 0o644))
	rng := rand.New(rand.NewPCG(seed, 1))
	var m, t strings.Builder
	for i := range rows {
		step, task := 40*(i+1), i/perTask
		fmt.Fprintf(&m, `{"step":%d,"task":%d,"epoch":%d,"loss":%v,"acc":%v,"lr":{"fc1":%v,"fc2":%v},"diag":{"alpha":%v,"alpha_code":%v,"grad_norm_sq":%v,"grad_noise":%v,"weight_norm":%v,"fisher_rank":%v,"exceed":true,"layers":{`,
			step, task, i%7, rng.Float64()*2, rng.Float64(), 1e-3*rng.Float64(), 1e-3, rng.Float64()*20, rng.Float64(), rng.Float64()*5, rng.Float64()*90, rng.Float64()*4, rng.Float64())
		for l, name := range []string{"fc1", "fc2"} {
			if l > 0 {
				m.WriteString(",")
			}
			fmt.Fprintf(&m, `"%s":{"alpha":%v,"alpha_code":%v,"alpha_agg":%v,"grad_norm_sq":%v,"grad_noise":%v,"alpha_g":%v,"weight_norm":%v,"grad_param_ratio":%v,"use":%v,"dead_units":%v,"effective_rank":%v,"sharpness":%v,"power_iters":6,"norm_sharpness":%v,"vol_mu":%v,"vol_sigma2":%v,"vol":%v,"alpha_vol":null,"alpha_tilde":%v,"alpha_crit":%v,"exceed":false}`,
				name, rng.Float64()*19, rng.Float64(), rng.Float64(), rng.Float64()*2, rng.Float64()*50, rng.Float64()*2, rng.Float64()*3, rng.Float64(), rng.Float64(), rng.Float64(), rng.Float64()*3, rng.Float64()*8, rng.Float64()*5, rng.Float64()*5, rng.Float64(), rng.Float64(), rng.Float64()*2, rng.Float64())
		}
		m.WriteString("}},\"sched\":{\"fc1\":\"hold\",\"fc2\":\"warm\"}}\n")
		if (i+1)%perTask == 0 || i == rows-1 {
			fmt.Fprintf(&t, `{"task":%d,"online_acc":%v,"final_acc":%v,"final_loss":%v,"rho_hat":%v,"steps":%d,"wall_seconds":1.5}`+"\n",
				task, rng.Float64(), rng.Float64(), rng.Float64()*2, rng.Float64(), step)
		}
	}
	must(tb, os.WriteFile(filepath.Join(dir, "metrics.jsonl"), []byte(m.String()), 0o644))
	must(tb, os.WriteFile(filepath.Join(dir, "tasks.jsonl"), []byte(t.String()), 0o644))
	if finished {
		must(tb, os.WriteFile(filepath.Join(dir, "summary.json"), []byte(`{"status":"finished","final_acc":0.5,"mean_online_acc":0.25}`), 0o644))
	}
}

func must(tb testing.TB, err error) {
	tb.Helper()
	if err != nil {
		tb.Fatal(err)
	}
}

func newTestServer(tb testing.TB, opts Options) (*Server, *httptest.Server) {
	tb.Helper()
	s, err := New(opts)
	if err != nil {
		tb.Fatal(err)
	}
	hs := httptest.NewServer(s.Handler())
	tb.Cleanup(func() { hs.Close(); s.Close() })
	return s, hs
}

// getJSON fetches a URL and decodes it into v, failing on a status but want.
func getJSON(tb testing.TB, url string, want int, v any) {
	tb.Helper()
	resp, err := http.Get(url)
	if err != nil {
		tb.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != want {
		var e map[string]string
		json.NewDecoder(resp.Body).Decode(&e)
		tb.Fatalf("GET %s: status %d, want %d (%v)", url, resp.StatusCode, want, e)
	}
	if v != nil {
		if err := json.NewDecoder(resp.Body).Decode(v); err != nil {
			tb.Fatalf("GET %s: %v", url, err)
		}
	}
}

var nan = math.NaN()
