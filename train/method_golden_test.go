package train

import (
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"flag"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"github.com/lot-toolkit/lot/checkpoint"
	"github.com/lot-toolkit/lot/rundir"
)

var updateGolden = flag.Bool("update-golden", false, "write this kernel's golden files (testdata/golden) from the code under test")

// goldenCases are the runs whose outputs the methods' refactor into the
// Method interface must keep bit for bit: each method before it existed,
// under both protocols, with full diagnostics (every signal) and a
// regulariser.
func goldenCases(t *testing.T) map[string]Config {
	t.Helper()
	out := map[string]Config{}
	for _, tc := range []struct{ method, reg, opt string }{
		{"vanilla", "l2", "adam"},
		{"reset-optimizer", "wasserstein", "adam"},
		{"reset-model", "l2init", "sgd"},
		{"scheduled", "l2", "adam"},
	} {
		for _, protocol := range Protocols {
			settings := []Setting{{Key: "protocol", Value: protocol}, {Key: "samples", Value: "300"}, {Key: "tasks", Value: "3"},
				{Key: "epochs", Value: "2"}, {Key: "batch", Value: "64"}, {Key: "log_every", Value: "3"}, {Key: "hidden", Value: "16,16"},
				{Key: "lr", Value: "0.01"}, {Key: "method", Value: tc.method}, {Key: "reg", Value: tc.reg}, {Key: "reg_strength", Value: "0.01"},
				{Key: "optimizer", Value: tc.opt}, {Key: "diagnostics.level", Value: "full"}, {Key: "diagnostics.power_iters", Value: "12"}}
			if protocol == "authors" {
				// The solver the authors' protocol had when these were
				// written (power-reduced, then power-batch, since;
				// TestGoldenRunsBitIdentical holds a run of each).
				settings = append(settings, Setting{Key: "diagnostics.solver", Value: "power"})
			}
			if tc.opt == "sgd" {
				settings = append(settings, Setting{Key: "adam_betas", Value: "fixed"})
			}
			if tc.method == "reset-optimizer" {
				settings = append(settings, Setting{Key: "batchnorm", Value: "true"})
			}
			cfg, err := Resolve("", settings)
			if err != nil {
				t.Fatal(err)
			}
			out[tc.method+"-"+protocol] = cfg
		}
	}
	return out
}

// digest is a run's outputs in a form that changes with any bit: the
// hash of metrics.jsonl, tasks.jsonl without its timings, and the hash of
// every checkpoint tensor.
func digest(t *testing.T, dir string) string {
	t.Helper()
	metrics, err := os.ReadFile(filepath.Join(dir, "metrics.jsonl"))
	if err != nil {
		t.Fatal(err)
	}
	var b strings.Builder
	sum := sha256.Sum256(metrics)
	fmt.Fprintf(&b, "metrics.jsonl sha256 %s\n", hex.EncodeToString(sum[:]))
	for _, row := range readRows(t, filepath.Join(dir, "tasks.jsonl")) {
		js, _ := json.Marshal(row)
		fmt.Fprintf(&b, "task %s\n", js)
	}
	f, err := checkpoint.Read(rundir.Checkpoint(dir))
	if err != nil {
		t.Fatal(err)
	}
	names := make([]string, 0, len(f.Tensors))
	for _, ts := range f.Tensors {
		names = append(names, ts.Name)
	}
	sort.Strings(names)
	h := sha256.New()
	for _, name := range names {
		ts, _ := f.Get(name)
		h.Write([]byte(name))
		for _, v := range ts.Data {
			h.Write(binary.LittleEndian.AppendUint32(nil, math.Float32bits(v)))
		}
	}
	fmt.Fprintf(&b, "tensors sha256 %s\n", hex.EncodeToString(h.Sum(nil)))
	return b.String()
}

// TestMethodsKeepTheirNumbers runs each method that predates the Method
// interface and checks its outputs against the digests made by the code
// before the interface (testdata/golden; goldenDir).
func TestMethodsKeepTheirNumbers(t *testing.T) {
	golden := goldenDir(t)
	for name, cfg := range goldenCases(t) {
		t.Run(name, func(t *testing.T) {
			dir := filepath.Join(t.TempDir(), "r")
			mustRun(t, cfg, dir)
			got := digest(t, dir)
			path := filepath.Join(golden, name+".txt")
			if *updateGolden {
				if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
					t.Fatal(err)
				}
				if err := os.WriteFile(path, []byte(got), 0o644); err != nil {
					t.Fatal(err)
				}
				return
			}
			want, err := os.ReadFile(path)
			if err != nil {
				t.Fatal(err)
			}
			if got != string(want) {
				t.Fatalf("outputs changed:\ngot  %s\nwant %s", got, want)
			}
		})
	}
}
