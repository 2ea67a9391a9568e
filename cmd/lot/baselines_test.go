package main

import (
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

// TestReproduceBaselinesSmoke runs `lot reproduce baselines` at the smoke
// scale with two seeds: every method on both streams, a ranked table with
// 95% intervals per stream, the accuracy curves, and each method's signals
// with its tracking verdict.
func TestReproduceBaselinesSmoke(t *testing.T) {
	out := t.TempDir()
	b, err := exec.Command(binary, "reproduce", "baselines", "--scale", "smoke", "--seeds", "2", "--jobs", "2", "--out", out).CombinedOutput()
	if err != nil {
		t.Fatalf("%v\n%s", err, b)
	}
	report, err := os.ReadFile(filepath.Join(out, "report-baselines.md"))
	if err != nil {
		t.Fatal(err)
	}
	r := string(report)
	methods := []string{"vanilla", "reset-optimizer", "reset-model", "scheduled", "cbp", "redo", "shrink-perturb", "spectral"}
	for _, stream := range []string{"random-label", "permuted"} {
		i := strings.Index(r, "### "+stream)
		if i < 0 {
			t.Fatalf("no section for %s:\n%s", stream, r)
		}
		section := r[i:]
		if j := strings.Index(section[4:], "### "); j >= 0 {
			section = section[:j+4]
		}
		for rank := 1; rank <= len(methods); rank++ {
			if !strings.Contains(section, "| "+strconv.Itoa(rank)+" | ") {
				t.Fatalf("%s: rank %d missing", stream, rank)
			}
		}
		for _, m := range methods {
			if !strings.Contains(section, "| "+m+" | 2 | ") {
				t.Fatalf("%s: no ranked row for %s with 2 seeds", stream, m)
			}
			if _, err := os.Stat(filepath.Join(out, "baselines-"+stream+"-"+m+"-signals.png")); err != nil {
				t.Fatal(err)
			}
			if _, err := os.Stat(filepath.Join(out, "runs", "baselines-"+stream+"-"+m+"-s1", "summary.json")); err != nil {
				t.Fatal(err)
			}
		}
		if strings.Contains(section, "n/a (one seed)") {
			t.Fatal("two seeds gave no interval")
		}
		if _, err := os.Stat(filepath.Join(out, "baselines-"+stream+"-acc.png")); err != nil {
			t.Fatal(err)
		}
	}
}
