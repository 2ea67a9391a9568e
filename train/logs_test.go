package train

import (
	"path/filepath"
	"testing"
)

func TestReadSeriesAndSeedGroups(t *testing.T) {
	dir := t.TempDir()
	cfg := small()
	a, b, c := filepath.Join(dir, "a"), filepath.Join(dir, "b"), filepath.Join(dir, "c")
	mustRun(t, cfg, a)
	cfg.Seed = 7
	mustRun(t, cfg, b)
	cfg.LR = 3e-3
	mustRun(t, cfg, c)

	s, err := ReadSeries(a, "final_acc")
	if err != nil || !s.PerTask || len(s.Y) != cfg.Tasks || s.X[0] != 1 {
		t.Fatalf("final_acc: %+v, %v", s, err)
	}
	steps := int64(cfg.Epochs * ((cfg.Samples + cfg.Batch - 1) / cfg.Batch))
	if len(s.TaskEnds) != cfg.Tasks || s.TaskEnds[0] != float64(steps) {
		t.Fatalf("task ends %v, want multiples of %d", s.TaskEnds, steps)
	}
	lr, err := ReadSeries(a, "diag.layers.fc1.alpha")
	if err != nil || lr.PerTask || len(lr.Y) == 0 || lr.X[0] != float64(cfg.LogEvery) {
		t.Fatalf("diag.layers.fc1.alpha: %+v, %v", lr, err)
	}
	if _, err := ReadSeries(a, "diag.nothing"); err == nil {
		t.Fatal("an unknown metric gave no error")
	}
	groups, err := SeedGroups([]string{a, c, b})
	if err != nil || len(groups) != 2 || len(groups[0]) != 2 || groups[0][1] != b || groups[1][0] != c {
		t.Fatalf("groups %v, %v", groups, err)
	}
}
