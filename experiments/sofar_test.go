package experiments

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/lot-toolkit/lot/rundir"
)

// idle is an executor that runs nothing.
type idle struct{}

func (idle) Execute(context.Context, string, []Run, func(string)) error { return nil }

// TestReproduceSoFarDrawsUnfinishedRuns: with one run part-way and one not
// started, Reproduce draws nothing (ErrPending), and ReproduceSoFar leaves
// the run not started out and says that Fig. 5, which draws every group,
// waits on it; once that run has a task logged,
// ReproduceSoFar draws Fig. 5 from what is logged, the part-way run's row
// from its one task, names the unfinished runs, and leaves Reproduce's
// report alone.
func TestReproduceSoFarDrawsUnfinishedRuns(t *testing.T) {
	dir := t.TempDir()
	su := Setup{Scale: "smoke", Seeds: 1, Protocol: "authors"}
	runs := fig5Runs(su)
	partway, late := runs[1], runs[2]
	write := func(r Run, rows string, finished bool) {
		rd := filepath.Join(dir, "runs", r.Name)
		if err := os.MkdirAll(rd, 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(rundir.Tasks(rd), []byte(rows), 0o644); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(rundir.Config(rd), []byte("{}"), 0o644); err != nil {
			t.Fatal(err)
		}
		if finished {
			if err := os.WriteFile(filepath.Join(rd, rundir.SummaryFile), []byte("{}"), 0o644); err != nil {
				t.Fatal(err)
			}
		}
	}
	one := func(v float64) string { return fmt.Sprintf("{\"task\":0,\"online_acc\":%g,\"steps\":10}\n", v) }
	for i, r := range runs {
		v := 0.1 + 0.01*float64(i)
		switch r.Name {
		case late.Name:
		case partway.Name:
			write(r, one(v), false)
		default:
			write(r, one(v)+"{\"task\":1,\"online_acc\":0.5,\"steps\":20}\n", true)
		}
	}
	err := Reproduce(context.Background(), idle{}, dir, []string{"fig5"}, su, "", func(string) {})
	if !errors.Is(err, ErrPending) {
		t.Fatalf("Reproduce with two runs unfinished: %v, want ErrPending", err)
	}
	read := func() string {
		if err := ReproduceSoFar(dir, []string{"fig5"}, su); err != nil {
			t.Fatal(err)
		}
		b, err := os.ReadFile(filepath.Join(dir, SoFarReportName([]string{"fig5"}, "authors")))
		if err != nil {
			t.Fatal(err)
		}
		return string(b)
	}
	report := read()
	for _, want := range []string{"Not started: " + late.Name + ", left out.", "Not drawn: it waits on runs with no task logged yet (" + late.Name + ")"} {
		if !strings.Contains(report, want) {
			t.Errorf("with %s not started, the report lacks %q:\n%s", late.Name, want, report)
		}
	}
	write(late, one(0.3), false)
	report = read()
	v := 0.11 // the part-way run's one task: raw and EMA alike
	for _, want := range []string{
		"# Reproduction report so far",
		fmt.Sprintf("Unfinished (incomplete): %s, drawn from 1 of %d tasks.", partway.Name, partway.Config.Tasks),
		fmt.Sprintf("Unfinished (incomplete): %s, drawn from 1 of %d tasks.", late.Name, late.Config.Tasks),
		fmt.Sprintf("| %.3f ± 0.000 | %.3f ± 0.000 | %.3f ± 0.000 | %.3f ± 0.000 |", v, v, v, v),
	} {
		if !strings.Contains(report, want) {
			t.Errorf("the report lacks %q:\n%s", want, report)
		}
	}
	if strings.Contains(report, "Not drawn") {
		t.Errorf("Fig. 5 was not drawn:\n%s", report)
	}
	if _, err := os.Stat(filepath.Join(dir, ReportName([]string{"fig5"}, "authors"))); err == nil {
		t.Error("ReproduceSoFar wrote the finished reproduction's report")
	}
}
