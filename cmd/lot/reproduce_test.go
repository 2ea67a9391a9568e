package main

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// TestReproduceRunsSkipsAndReports runs every figure at the smoke scale:
// 21 runs on two worker processes, the figures and report.md; a second call
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
	for _, section := range []string{"## fig1\n", "| f | gradient / parameter ratio | deep linear |", "## fig2\n", "| 0.01 |", "## fig7\n", "| l2 | 4 | ", "## fig9\n", "| crelu | scheduled |"} {
		if !strings.Contains(string(report), section) {
			t.Fatalf("report.md lacks %q:\n%s", section, report)
		}
	}
	if i, j := strings.Index(string(report), "## fig2\n"), strings.Index(string(report), "## fig11\n"); i > j {
		t.Fatal("report.md puts fig11 before fig2")
	}
	for _, f := range []string{"fig1a.png", "fig1f.svg", "fig2.png", "fig5-crelu.png", "fig5-l2.svg", "fig6-l2.png", "fig3-task1.png", "fig4-l2.png",
		"fig7-l2.png", "fig8-wasserstein.svg", "fig9-crelu.png", "fig12-tasks1-10.svg", "runs/fig5-wasserstein-scheduled-s0/summary.json", "runs/fig1-deep-linear-s0/summary.json"} {
		if _, err := os.Stat(filepath.Join(out, f)); err != nil {
			t.Fatal(err)
		}
	}
	b, err := exec.Command(binary, args...).CombinedOutput()
	// Figs. 1–4, 6, 7, 9 and 11–12 reuse Fig. 5's runs where theirs are the
	// same: 9 of Fig. 5, 4 more of Fig. 1, 2 of Fig. 2, 6 of Fig. 7.
	if err != nil || strings.Count(string(b), "done already") != 21 || strings.Contains(string(b), "starting") {
		t.Fatalf("second call should skip all 21 runs:\n%s", b)
	}
	if strings.Contains(string(report), "## scheduler") {
		t.Fatal("all ran the scheduler experiment, which runs only when named")
	}
	// The scheduler experiment reuses Fig. 5's three scheduled runs.
	b, err = exec.Command(binary, "reproduce", "scheduler", "--scale", "smoke", "--jobs", "2", "--out", out).CombinedOutput()
	if err != nil || strings.Count(string(b), "done already") != 3 || strings.Count(string(b), "starting") != 6 {
		t.Fatalf("scheduler experiment:\n%s", b)
	}
	report, _ = os.ReadFile(filepath.Join(out, "report-scheduler.md"))
	if !strings.Contains(string(report), "| l2 | code α, no floor |") || !strings.Contains(string(report), "The best setting here is") {
		t.Fatalf("report.md of the scheduler experiment:\n%s", report)
	}
}

// TestReproduceSoFarRunsNothing: --so-far on a reproduction not started
// writes its report, saying what Fig. 5 waits on, and starts no run; on
// a directory that does not exist, or with --status, it is refused by
// flag.
func TestReproduceSoFarRunsNothing(t *testing.T) {
	out := filepath.Join(t.TempDir(), "repro")
	if code, stderr := lot(t, "reproduce", "fig5", "--scale", "smoke", "--so-far", "--out", out); code != 1 || !strings.Contains(stderr, "--out: no reproduction to draw") {
		t.Errorf("--so-far on a missing directory: exit %d, %q", code, stderr)
	}
	if err := os.Mkdir(out, 0o755); err != nil {
		t.Fatal(err)
	}
	b, err := exec.Command(binary, "reproduce", "fig5", "--scale", "smoke", "--so-far", "--out", out).CombinedOutput()
	if err != nil || !strings.Contains(string(b), "wrote "+filepath.Join(out, "report-fig5-so-far.md")) {
		t.Fatalf("%v\n%s", err, b)
	}
	report, _ := os.ReadFile(filepath.Join(out, "report-fig5-so-far.md"))
	if !strings.Contains(string(report), "Not drawn: it waits on runs with no task logged yet (fig5-") {
		t.Errorf("report:\n%s", report)
	}
	if _, err := os.Stat(filepath.Join(out, "runs")); !os.IsNotExist(err) {
		t.Errorf("--so-far made runs/ (%v)", err)
	}
	if code, stderr := lot(t, "reproduce", "fig5", "--scale", "smoke", "--so-far", "--status", "--out", out); code != 1 || !strings.Contains(stderr, "--so-far: not with --status") {
		t.Errorf("--so-far --status: exit %d, %q", code, stderr)
	}
}
