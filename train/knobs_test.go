package train

import (
	"context"
	"encoding/json"
	"errors"
	"math"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"

	"github.com/lot-toolkit/lot/internal/keyerr"
)

// legacyRun is a run directory made by cfb2c35, before the table of knobs:
// `--preset smoke --method scheduled` stopped at step 13 (mid task 1), and
// legacyWhole holds that version's uninterrupted metrics.jsonl and
// tasks.jsonl of the same config.
const (
	legacyRun   = "testdata/run-cfb2c35"
	legacyWhole = "testdata/run-cfb2c35-whole"
	// legacyHash is Hash of legacyRun's config under schema 1. It changes
	// only if a default or a key's meaning changes, which needs a new
	// schemaVersion, not if a knob is added.
	legacyHash = "92b8175e04434527"
)

func legacyConfig(t *testing.T) Config {
	t.Helper()
	cfg, err := Resolve("smoke", []Setting{{Key: "method", Value: "scheduled"}})
	if err != nil {
		t.Fatal(err)
	}
	return cfg
}

// copyDir copies the files of a flat directory.
func copyDir(t *testing.T, src, dst string) {
	t.Helper()
	if err := os.MkdirAll(dst, 0o755); err != nil {
		t.Fatal(err)
	}
	entries, err := os.ReadDir(src)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		b, err := os.ReadFile(filepath.Join(src, e.Name()))
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dst, e.Name()), b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

// TestLegacyRunDirectoryResumes: a run directory made by the version before
// the table of knobs is the same run for this one (its hash matches, so
// running the same config there continues it rather than refusing it). It
// keeps what the old version logged and finishes the run. That version's
// Adam kernel fused multiply-adds on AVX-512, which this one no longer
// does, so the steps after the resume follow the old run closely but not
// to the bit.
func TestLegacyRunDirectoryResumes(t *testing.T) {
	cfg := legacyConfig(t)
	prev, err := ReadConfigOf(legacyRun)
	if err != nil {
		t.Fatal(err)
	}
	if prev.Hash() != cfg.Hash() {
		t.Fatalf("the legacy run's config hashes to %s, the same config made now to %s", prev.Hash(), cfg.Hash())
	}
	if got := cfg.Hash(); got != legacyHash {
		t.Errorf("hash of the legacy config: %s, want %s (a default changed? bump schemaVersion)", got, legacyHash)
	}
	resumed := filepath.Join(t.TempDir(), "resumed")
	copyDir(t, legacyRun, resumed)
	kept := readRows(t, filepath.Join(legacyRun, "metrics.jsonl"))
	// Run, not Resume: the same config in its directory must continue it,
	// not be refused as "a different run".
	if _, err := Run(context.Background(), cfg, Options{Out: resumed}); err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{"metrics.jsonl", "tasks.jsonl"} {
		got, old := readRows(t, filepath.Join(resumed, name)), readRows(t, filepath.Join(legacyWhole, name))
		if len(got) != len(old) {
			t.Fatalf("%s: %d rows, the old version's whole run %d", name, len(got), len(old))
		}
		for i := range got {
			if name == "metrics.jsonl" && i < len(kept) && !reflect.DeepEqual(got[i], kept[i]) {
				t.Fatalf("%s row %d, logged before the resume, changed", name, i)
			}
			if d := maxRelDiff(got[i], old[i]); d > 1e-3 {
				t.Errorf("%s row %d: differs from the old version's by %.2g (relative)", name, i, d)
			}
		}
	}
}

// maxRelDiff is the largest relative difference between the numbers of two
// decoded JSON rows of the same shape, timings aside (+Inf if the shapes differ).
func maxRelDiff(a, b any) float64 {
	switch x := a.(type) {
	case float64:
		y, ok := b.(float64)
		if !ok {
			return math.Inf(1)
		}
		if x == y {
			return 0
		}
		return math.Abs(x-y) / math.Max(math.Abs(x), math.Abs(y))
	case map[string]any:
		y, ok := b.(map[string]any)
		if !ok || len(x) != len(y) {
			return math.Inf(1)
		}
		d := 0.0
		for k, v := range x {
			if strings.Contains(k, "sec") || strings.Contains(k, "time") {
				continue
			}
			d = math.Max(d, maxRelDiff(v, y[k]))
		}
		return d
	default:
		if !reflect.DeepEqual(a, b) {
			return math.Inf(1)
		}
		return 0
	}
}

// TestHashSurvivesNewKnobs: a knob added with its default leaves the hash of
// every config that does not set it as it was; a value off its default
// changes it, and the data directory never does.
func TestHashSurvivesNewKnobs(t *testing.T) {
	configs := map[string]Config{"default": Default()}
	c := Default()
	c.LR, c.Hidden, c.Diagnostics.Window, c.Schedule.Gamma = 0.5, []int{8, 8}, 7, 0.5
	configs["changed"] = c
	for _, key := range []string{"schedule.max_lr", "init", "diagnostics.fisher_samples", "sparse_grad"} {
		// The table as it was before `key` was added.
		before := slices.DeleteFunc(slices.Clone(knobs), func(k Knob) bool { return k.Key == key })
		if len(before) != len(knobs)-1 {
			t.Fatalf("no knob %s", key)
		}
		for name, cfg := range configs {
			if cfg.hashOver(before) != cfg.Hash() {
				t.Errorf("adding %s changed the hash of the %s config", key, name)
			}
		}
		off := Default()
		if err := off.Set(key, map[string]string{"schedule.max_lr": "0.1", "init": "kaiming-normal", "diagnostics.fisher_samples": "7", "sparse_grad": "true"}[key]); err != nil {
			t.Fatal(err)
		}
		if off.Hash() == Default().Hash() {
			t.Errorf("setting %s off its default left the hash as it was", key)
		}
	}
	d := Default()
	d.Data = "/elsewhere"
	if d.Hash() != Default().Hash() {
		t.Error("the data directory changed the hash")
	}
}

// TestOldConfigFileGetsDefaults: keys a config.yaml leaves out (written
// before they existed) get their defaults, not zero.
func TestOldConfigFileGetsDefaults(t *testing.T) {
	dir := t.TempDir()
	old := `stream: random-label
samples: 300
tasks: 2
hidden:
    - 16
method: scheduled
diagnostics:
    level: full
schedule:
    gamma: 0.7
`
	if err := os.WriteFile(filepath.Join(dir, "config.yaml"), []byte(old), 0o644); err != nil {
		t.Fatal(err)
	}
	got, err := ReadConfigOf(dir)
	if err != nil {
		t.Fatal(err)
	}
	want := Default()
	want.Samples, want.Tasks, want.Hidden, want.Method = 300, 2, []int{16}, "scheduled"
	want.Diagnostics.Level, want.Schedule.Gamma = "full", 0.7
	for _, k := range knobs {
		if k.Get(&got) != k.Get(&want) {
			t.Errorf("%s: %q, want %q", k.Key, k.Get(&got), k.Get(&want))
		}
	}
	if err := got.Validate(); err != nil {
		t.Errorf("the old config does not validate: %v", err)
	}
}

// TestSetAndFileRoundTrip: every knob reads back what Get writes, and a
// config written to config.yaml reads back as the same config.
func TestSetAndFileRoundTrip(t *testing.T) {
	c := Default()
	values := map[string]string{"samples": "123", "relabel": "0", "hidden": "3,4", "batchnorm": "true", "lr": "0.1",
		"seed": "18446744073709551615", "diagnostics.beta": "0", "diagnostics.code_c": "0", "schedule.warm_horizon": "0",
		"schedule.max_lr": "0.25", "data": "/d"}
	for key, v := range values {
		if err := c.Set(key, v); err != nil {
			t.Fatal(err)
		}
	}
	def := Default()
	for _, k := range knobs {
		want := k.Get(&def)
		if v, ok := values[k.Key]; ok {
			want = v
		}
		if got := k.Get(&c); got != want {
			t.Errorf("%s: %q after Set, want %q", k.Key, got, want)
		}
	}
	path := filepath.Join(t.TempDir(), "config.yaml")
	if err := os.WriteFile(path, c.Marshal(), 0o644); err != nil {
		t.Fatal(err)
	}
	settings, err := ReadSettings(path)
	if err != nil {
		t.Fatal(err)
	}
	back, err := resolve("", settings)
	if err != nil {
		t.Fatal(err)
	}
	for _, k := range knobs {
		if k.Get(&back) != k.Get(&c) {
			t.Errorf("%s: %q read back, %q written", k.Key, k.Get(&back), k.Get(&c))
		}
	}
	if err := c.Set("no_such_key", "1"); !errors.Is(err, ErrUnknownKey) {
		t.Errorf("unknown key: %v", err)
	}
	var ke *keyerr.Error
	if err := c.Set("diagnostics.window", "many"); !errors.As(err, &ke) || ke.Key != "diagnostics.window" {
		t.Errorf("bad syntax: %v, want a key error naming diagnostics.window", err)
	}
}

// TestResolveKeepsUserValues: presets and derived rules never overwrite a
// value the user set, a zero included; zeros without a meaning are refused
// naming their key; errors name keys, never flags.
func TestResolveKeepsUserValues(t *testing.T) {
	cfg, err := Resolve("smoke", []Setting{{Key: "lr", Value: "0.5"}, {Key: "relabel", Value: "0"},
		{Key: "method", Value: "scheduled"}, {Key: "schedule.warm_horizon", Value: "0"}, {Key: "schedule.warm_ratio", Value: "0"},
		{Key: "diagnostics.code_c", Value: "0"}})
	if err != nil {
		t.Fatal(err)
	}
	if cfg.LR != 0.5 || cfg.Samples != 300 || cfg.Relabel != 0 || cfg.Diagnostics.Level != "full" ||
		cfg.Schedule.WarmHorizon != 0 || cfg.Schedule.WarmRatio != 0 || cfg.Diagnostics.CodeC != 0 {
		t.Errorf("resolved %+v", cfg)
	}
	if _, err := Resolve("", []Setting{{Key: "method", Value: "scheduled"}, {Key: "diagnostics.level", Value: "light"}}); !isKeyError(err, "method") {
		t.Errorf("scheduled with light diagnostics the user asked for: %v", err)
	}
	for key, v := range map[string]string{
		"diagnostics.window": "0", "diagnostics.kappa": "0", "diagnostics.power_tol": "-1", "diagnostics.power_iters": "0",
		"diagnostics.fisher_samples": "0", "schedule.gamma": "0", "schedule.cool": "0", "schedule.warm": "0",
		"samples": "0", "batch": "0", "log_every": "0", "lr": "0", "stream": "",
	} {
		_, err := Resolve("", []Setting{{Key: "method", Value: "scheduled"}, {Key: key, Value: v}})
		if !isKeyError(err, key) {
			t.Errorf("%s %q: %v, want a key error naming %s", key, v, err, key)
		} else if strings.Contains(err.Error(), "--") {
			t.Errorf("%s: a library error names a flag: %v", key, err)
		}
	}
	if _, err := Resolve("huge", nil); !errors.Is(err, ErrUnknownPreset) {
		t.Errorf("unknown preset: %v", err)
	}
}

func isKeyError(err error, key string) bool {
	ke, ok := err.(*keyerr.Error)
	return ok && ke.Key == key
}

// metricsLayers reads each logged row's per-layer diagnostics.
func metricsLayers(t *testing.T, dir string) []map[string]map[string]any {
	t.Helper()
	var out []map[string]map[string]any
	for _, row := range readRows(t, filepath.Join(dir, "metrics.jsonl")) {
		b, _ := json.Marshal(row["diag"].(map[string]any)["layers"])
		var layers map[string]map[string]any
		if err := json.Unmarshal(b, &layers); err != nil {
			t.Fatal(err)
		}
		out = append(out, layers)
		if sched, ok := row["sched"].(map[string]any); ok {
			for name, d := range sched {
				layers[name]["decision"] = d
			}
		}
	}
	return out
}

// TestZerosReachTheRun: code_c 0 makes α_crit = B‖ĝ‖²/σ² = α_g, and a warm
// horizon of 0 stops a controller that warms by default from warming.
func TestZerosReachTheRun(t *testing.T) {
	dir := t.TempDir()
	cfg, err := Resolve("smoke", []Setting{{Key: "diagnostics.level", Value: "full"}, {Key: "diagnostics.code_c", Value: "0"}})
	if err != nil {
		t.Fatal(err)
	}
	mustRun(t, cfg, filepath.Join(dir, "c0"))
	n := 0
	for _, layers := range metricsLayers(t, filepath.Join(dir, "c0")) {
		for name, L := range layers {
			crit, ok := L["alpha_crit"].(float64)
			if !ok {
				continue
			}
			n++
			if g := L["alpha_g"].(float64); math.Abs(crit-g) > 1e-12*math.Abs(g) {
				t.Fatalf("%s: α_crit %v with c = 0, want α_g %v", name, crit, g)
			}
		}
	}
	if n == 0 {
		t.Fatal("no α_crit logged")
	}

	// A small learning rate keeps α far below the bound: the controller
	// warms early in each task, unless the warm horizon is 0.
	warms := func(horizon string) int {
		settings := []Setting{{Key: "method", Value: "scheduled"}, {Key: "lr", Value: "1e-4"}, {Key: "epochs", Value: "6"}, {Key: "log_every", Value: "2"}, {Key: "diagnostics.window", Value: "2"}}
		if horizon != "" {
			settings = append(settings, Setting{Key: "schedule.warm_horizon", Value: horizon})
		}
		cfg, err := Resolve("smoke", settings)
		if err != nil {
			t.Fatal(err)
		}
		out := filepath.Join(dir, "h"+horizon)
		mustRun(t, cfg, out)
		n := 0
		for _, layers := range metricsLayers(t, out) {
			for _, L := range layers {
				if L["decision"] == "warm" {
					n++
				}
			}
		}
		return n
	}
	if n := warms(""); n == 0 {
		t.Fatal("the default warm horizon never warmed: the test's setting does not exercise it")
	}
	if n := warms("0"); n != 0 {
		t.Errorf("warm_horizon 0 warmed %d times", n)
	}
}
