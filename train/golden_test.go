package train

import (
	"crypto/sha256"
	"encoding/hex"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

// goldenRuns are short runs that cover every path of the step and of the
// diagnostics that existing configs take: both protocols, both sharpness
// solvers, BatchNorm, CReLU, two hidden layers and the controller. Their
// outputs were written by the code before the speed work (commit e9b9764);
// later binaries resume the long runs in progress, so any change to the
// step, the optimiser or the diagnostics must leave these bytes as they are.
var goldenRuns = []struct {
	name     string
	settings []string
}{
	{"paper-full-l2", []string{"hidden", "48", "reg", "l2", "diagnostics.level", "full"}},
	{"paper-bn-scheduled", []string{"hidden", "32,32", "batchnorm", "true", "method", "scheduled"}},
	{"paper-power-crelu", []string{"hidden", "24,24", "activation", "crelu", "diagnostics.level", "full", "diagnostics.solver", "power"}},
	{"authors-crelu-scheduled", []string{"protocol", "authors", "activation", "crelu", "method", "scheduled", "hidden", "40,40"}},
	{"authors-l2-scheduled", []string{"protocol", "authors", "reg", "l2", "method", "scheduled", "hidden", "40,40"}},
	{"authors-l2-vanilla", []string{"protocol", "authors", "reg", "l2", "hidden", "40,40", "diagnostics.level", "full"}},
}

func goldenConfig(t *testing.T, kv []string) Config {
	t.Helper()
	var s []Setting
	for i := 0; i < len(kv); i += 2 {
		s = append(s, Setting{Key: kv[i], Value: kv[i+1]})
	}
	s = append(s, Setting{Key: "samples", Value: "384"}, Setting{Key: "tasks", Value: "2"},
		Setting{Key: "epochs", Value: "2"}, Setting{Key: "batch", Value: "64"}, Setting{Key: "log_every", Value: "3"})
	c, err := Resolve("", s)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func fileHash(t *testing.T, path string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	h := sha256.Sum256(b)
	return hex.EncodeToString(h[:])
}

// TestGoldenRunsBitIdentical: the logs (timings aside) and the final
// checkpoint of each golden run are byte for byte those of the committed
// files. LOT_UPDATE_GOLDEN=1 rewrites them, which only a deliberate change
// of numerical results may do.
func TestGoldenRunsBitIdentical(t *testing.T) {
	if testing.Short() {
		t.Skip("trains six short runs")
	}
	update := os.Getenv("LOT_UPDATE_GOLDEN") == "1"
	for _, g := range goldenRuns {
		t.Run(g.name, func(t *testing.T) {
			cfg := goldenConfig(t, g.settings)
			dir := filepath.Join(t.TempDir(), "run")
			mustRun(t, cfg, dir)
			want := filepath.Join("testdata", "golden", g.name)
			sum := fileHash(t, filepath.Join(dir, "checkpoint.safetensors"))
			if update {
				if err := os.MkdirAll(want, 0o755); err != nil {
					t.Fatal(err)
				}
				for _, name := range []string{"metrics.jsonl", "tasks.jsonl"} {
					b, err := os.ReadFile(filepath.Join(dir, name))
					if err != nil {
						t.Fatal(err)
					}
					if err := os.WriteFile(filepath.Join(want, name), b, 0o644); err != nil {
						t.Fatal(err)
					}
				}
				if err := os.WriteFile(filepath.Join(want, "checkpoint.sha256"), []byte(sum+"\n"), 0o644); err != nil {
					t.Fatal(err)
				}
				return
			}
			sameOutputs(t, want, dir)
			for _, name := range []string{"metrics.jsonl", "tasks.jsonl"} {
				if a, b := readRows(t, filepath.Join(want, name)), readRows(t, filepath.Join(dir, name)); !reflect.DeepEqual(a, b) {
					t.Fatalf("%s differs", name)
				}
			}
			ws, err := os.ReadFile(filepath.Join(want, "checkpoint.sha256"))
			if err != nil {
				t.Fatal(err)
			}
			if strings.TrimSpace(string(ws)) != sum {
				t.Fatalf("final checkpoint differs: sha256 %s, want %s", sum, strings.TrimSpace(string(ws)))
			}
		})
	}
}
