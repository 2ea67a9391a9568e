package train

import (
	"context"
	"path/filepath"
	"testing"

	"github.com/lot-toolkit/lot/rundir"
)

// TestResumeWithFullDiagnosticsEverySolver interrupts full-diagnostics runs
// mid-task, twice, with each sharpness solver (Lanczos, whose first layer
// uses the reduced first-layer solver at this batch size, and power
// iteration, and the reduced-space power solvers, power-batch on two
// hidden layers so that fc1 takes the Jacobians' path) and the whole
// network's sharpness too, and checks the outputs and final tensors
// against an uninterrupted run bit for bit: the checkpoint keeps the
// solvers' warm starts and random streams.
func TestResumeWithFullDiagnosticsEverySolver(t *testing.T) {
	for _, solver := range []string{"lanczos", "power", "power-reduced", "power-batch"} {
		t.Run(solver, func(t *testing.T) {
			cfg := small()
			cfg.Diagnostics.Level, cfg.Diagnostics.Solver, cfg.Diagnostics.GlobalSharp = "full", solver, true
			if solver == "power-batch" {
				cfg.Hidden = []int{32, 32}
			}
			dir := t.TempDir()
			whole, split := filepath.Join(dir, "whole"), filepath.Join(dir, "split")
			mustRun(t, cfg, whole)
			stopRunAt(t, cfg, split, 10)
			stopResumeAt(t, split, 25)
			if _, err := Resume(context.Background(), split, Options{}); err != nil {
				t.Fatal(err)
			}
			sameOutputs(t, whole, split)
			compareTensors(t, rundir.Checkpoint(whole), rundir.Checkpoint(split))
		})
	}
}
