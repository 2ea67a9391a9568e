package main

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// TestReproduceRunsSkipsAndReports runs every figure at the smoke scale:
// twelve runs on two worker processes, the figures and report.md; a second call
// finds every run done and only redraws.
func TestReproduceRunsSkipsAndReports(t *testing.T) {
	out := filepath.Join(t.TempDir(), "repro")
	args := []string{"reproduce", "all", "--scale", "smoke", "--jobs", "2", "--out", out}
	if b, err := exec.Command(binary, args...).CombinedOutput(); err != nil {
		t.Fatalf("%v\n%s", err, b)
	}
	report, err := os.ReadFile(filepath.Join(out, "report.md"))
	if err != nil || !strings.Contains(string(report), "| l2 | scheduled |") || !strings.Contains(string(report), "Does the claim hold") {
		t.Fatalf("report.md:\n%s", report)
	}
	if !strings.Contains(string(report), "## fig6") || !strings.Contains(string(report), "| l2 | fc1 |") {
		t.Fatalf("report.md lacks Fig. 6:\n%s", report)
	}
	for _, f := range []string{"fig5-crelu.png", "fig5-l2.svg", "fig6-l2.png", "fig3-task1.png", "fig4-l2.png", "fig12-tasks1-10.svg", "runs/fig5-wasserstein-scheduled-s0/summary.json"} {
		if _, err := os.Stat(filepath.Join(out, f)); err != nil {
			t.Fatal(err)
		}
	}
	b, err := exec.Command(binary, args...).CombinedOutput()
	// Fig. 6 reuses Fig. 5's scheduled runs and Figs. 3, 4, 11 and 12 share
	// three vanilla runs with full diagnostics: 12 runs, each run once.
	if err != nil || strings.Count(string(b), "done already") != 12 || strings.Contains(string(b), "starting") {
		t.Fatalf("second call should skip all nine runs:\n%s", b)
	}
}
