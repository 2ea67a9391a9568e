package train

import (
	"path/filepath"
	"strings"
	"testing"

	"github.com/lot-toolkit/lot/internal/atomicfile"
)

// TestRunFsyncsWhatItKeeps: a run asks for durability of everything a
// resume depends on: the checkpoint's file (before its rename) and its
// directory (after it), config.yaml, summary.json, and both logs before
// each checkpoint records their lengths.
func TestRunFsyncsWhatItKeeps(t *testing.T) {
	var synced []string
	atomicfile.Synced = func(name string) { synced = append(synced, name) }
	defer func() { atomicfile.Synced = nil }()
	dir := filepath.Join(t.TempDir(), "run")
	mustRun(t, small(), dir)
	count := func(match func(string) bool) int {
		n := 0
		for _, s := range synced {
			if match(s) {
				n++
			}
		}
		return n
	}
	base := func(name string) func(string) bool {
		return func(s string) bool { return filepath.Base(s) == name }
	}
	temp := func(name string) func(string) bool {
		return func(s string) bool {
			return strings.HasPrefix(filepath.Base(s), atomicfile.TempPrefix+name)
		}
	}
	tasks := small().Tasks
	for _, c := range []struct {
		what string
		n    int
		want int
	}{
		{"checkpoint.safetensors (its temporary file)", count(temp("checkpoint.safetensors")), tasks},
		{"config.yaml (its temporary file)", count(temp("config.yaml")), 1},
		{"summary.json (its temporary file)", count(temp("summary.json")), 1},
		{"metrics.jsonl", count(base("metrics.jsonl")), tasks},
		{"tasks.jsonl", count(base("tasks.jsonl")), tasks},
		{"the run directory", count(func(s string) bool { return s == dir }), tasks + 2},
	} {
		if c.n < c.want {
			t.Errorf("%s fsynced %d times, want at least %d (one per checkpoint)", c.what, c.n, c.want)
		}
	}
}
