package train

import (
	"errors"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/lot-toolkit/lot/diagnostics"
	"github.com/lot-toolkit/lot/internal/keyerr"
	"github.com/lot-toolkit/lot/model"
	"github.com/lot-toolkit/lot/rundir"
)

// FuzzConfigYAML: any bytes given as a config file either resolve to a
// valid config that reads back as itself from its own config.yaml, or
// give one error line naming the file or the config key at fault; never a
// panic.
func FuzzConfigYAML(f *testing.F) {
	for _, name := range PresetNames() {
		c := Default()
		Presets[name](&c)
		f.Add(c.Marshal())
	}
	authors, err := Resolve("quick", []Setting{{Key: "protocol", Value: "authors"}, {Key: "method", Value: "scheduled"}})
	if err != nil {
		f.Fatal(err)
	}
	f.Add(authors.Marshal())
	legacy, err := os.ReadFile(rundir.Config(legacyRun))
	if err != nil {
		f.Fatal(err)
	}
	f.Add(legacy)
	for _, s := range []string{"", "tasks: [oops\n", "taks: 3\n", "lr: -1\n", "diagnostics:\n    window: 0\n", "hidden: [256, 256]\nactivation: leaky_relu:0.3\n", "- 1\n"} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, raw []byte) {
		const path = "fuzz.yaml"
		settings, err := parseSettings(raw, path)
		if err != nil {
			oneLineNaming(t, err, path)
			return
		}
		cfg, err := Resolve("", settings)
		var ke *keyerr.Error
		switch {
		case errors.As(err, &ke) && error(ke) == err: // Validate's: the key, which the command line maps to the file or flag
			if _, ok := KnobOf(ke.Key); !ok || strings.ContainsAny(err.Error(), "\n\r") {
				t.Fatalf("error not one line naming a config key: %q", err)
			}
			return
		case err != nil:
			oneLineNaming(t, err, path)
			return
		}
		if err := cfg.Validate(); err != nil {
			t.Fatalf("Resolve returned a config that Validate refuses: %v", err)
		}
		again, err := parseSettings(cfg.Marshal(), "")
		if err != nil {
			t.Fatalf("its config.yaml does not parse: %v\n%s", err, cfg.Marshal())
		}
		back, err := Resolve("", again)
		if err != nil || back.Hash() != cfg.Hash() || !slices.Equal(back.Marshal(), cfg.Marshal()) {
			t.Fatalf("its config.yaml reads back as another config (%v):\n%s\nvs\n%s", err, cfg.Marshal(), back.Marshal())
		}
	})
}

// oneLineNaming fails unless err is one line that names path.
func oneLineNaming(t *testing.T, err error, path string) {
	t.Helper()
	if msg := err.Error(); !strings.HasPrefix(msg, path+": ") || strings.ContainsAny(msg, "\n\r") {
		t.Fatalf("error not one line naming %s: %q", path, msg)
	}
}

// FuzzCheckpointState: the legacy run's checkpoint with any position and
// diagnostics metadata, and maybe one of its tensors missing or short, either
// restores a position without negative counts or gives one ErrUnreadable
// error line naming the file; never a panic. (checkpoint.FuzzParse covers the file's bytes.)
func FuzzCheckpointState(f *testing.F) {
	path := rundir.Checkpoint(legacyRun)
	file, err := rundir.ReadCheckpoint(path)
	if err != nil {
		f.Fatal(err)
	}
	cfg, err := ReadConfigOf(legacyRun)
	if err != nil {
		f.Fatal(err)
	}
	pos, diag := file.Meta[rundir.MetaPosition], file.Meta[rundir.MetaDiagnostics]
	f.Add(pos, diag, uint16(0))
	f.Add(pos, diag, uint16(3))
	f.Add(`{"task":1,"group_lr":[0.1,0.1],"group_steps":[1]}`, diag, uint16(0))
	f.Add(`{"group_lr":[0.1,0.1],"group_steps":[1,2],"group_betas":[[0.9,0.999]]}`, `{"windows":[]}`, uint16(0))
	f.Add(pos, `{"windows":[{"vals":["NaN"],"Next":-1,"N":99}]}`, uint16(0))
	f.Add(pos, diag, uint16(10)) // the warm-start vector diagnostics.power.fc1 cut short
	f.Add(pos, diag, uint16(12)) // and diagnostics.power.fc2
	f.Add(strings.Replace(pos, `"batch":0`, `"batch":-1`, 1), diag, uint16(0))
	f.Add(pos, strings.Replace(diag, `"Next":3`, `"Next":30`, 1), uint16(0))
	f.Fuzz(func(t *testing.T, pos, diag string, drop uint16) {
		m, err := model.New(cfg.ModelSpec())
		if err != nil {
			t.Fatal(err)
		}
		opt := NewOptimizer(&cfg, m)
		opts, err := cfg.Diagnostics.Options()
		if err != nil {
			t.Fatal(err)
		}
		mon := diagnostics.New(m, opt, NewStepper(m, opt, nil, cfg.Batch).WS, nil, opts)
		anchor := slices.Clone(m.Params)
		edited := *file
		edited.Meta = maps.Clone(file.Meta)
		edited.Meta[rundir.MetaPosition], edited.Meta[rundir.MetaDiagnostics] = pos, diag
		if drop > 0 { // tensor k deleted (odd drop) or cut to half its length
			k := int(drop-1) / 2 % len(file.Tensors)
			edited.Tensors = slices.Clone(file.Tensors)
			if drop%2 == 1 {
				edited.Tensors = slices.Delete(edited.Tensors, k, k+1)
			} else {
				edited.Tensors[k].Data = edited.Tensors[k].Data[:len(edited.Tensors[k].Data)/2]
			}
		}
		got, err := restoreFrom(path, &edited, m, opt, anchor, mon, noHooks{}, nil)
		if err != nil {
			if !errors.Is(err, rundir.ErrUnreadable) {
				t.Fatalf("want ErrUnreadable, got %v", err)
			}
			oneLineNaming(t, err, filepath.Clean(path))
			return
		}
		if min(got.Task, got.Epoch, got.Batch, got.OnlineBatches) < 0 || min(got.Step, got.MetricsBytes, got.TasksBytes) < 0 {
			t.Fatalf("a negative count restored: %+v", got)
		}
	})
}
