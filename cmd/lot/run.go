package main

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/lot-toolkit/lot/data"
	"github.com/lot-toolkit/lot/internal/keyerr"
	"github.com/lot-toolkit/lot/progress"
	"github.com/lot-toolkit/lot/rundir"
	"github.com/lot-toolkit/lot/train"
)

// commandFlags are `lot run`'s flags that are not config keys; the rest
// are registered from train's table of knobs. arg and def are for README's
// table (TestREADMEFlagTables keeps it in sync with both).
var commandFlags = []struct{ name, arg, def, help string }{
	{"out", "DIR", "(required)", "run directory; the same config again continues the run there (a finished run is left as it is), a different one is refused"},
	{"preset", "", "", "start from a named setting: `paper`, `quick` or `smoke` (below)"},
	{"config", "FILE", "", "read settings from YAML as written to `DIR/config.yaml`; keys it leaves out keep their defaults, unknown keys are errors"},
	{"resume", "DIR", "", "continue the run in DIR from its last checkpoint; takes no other settings"},
	{"force", "", "off", "if `--out` holds a run, move it aside to `DIR.old-N` (nothing is deleted) and start afresh"},
	{"keep-checkpoints", "", "off", "also keep `checkpoints/task-NNN.safetensors` for every task"},
}

func runCommand() *cobra.Command {
	var (
		preset, configPath, resume, out string
		keep, force                     bool
	)
	cmd := &cobra.Command{
		Use:   "run",
		Short: "Train on a continual-learning task stream",
		Long: `Train an MLP on a stream of tasks and write config.yaml, metrics.jsonl,
tasks.jsonl, summary.json and checkpoint.safetensors under --out.

Values are resolved in this order, later ones winning: the defaults, --preset,
--config FILE, then the flags given on the command line. A value given in the
file or as a flag is kept as given (a zero included), never replaced by a
default.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			opts := train.Options{Out: out, Reporter: progress.New(os.Stderr), KeepCheckpoints: keep}
			if resume != "" {
				var other string
				cmd.Flags().Visit(func(f *pflag.Flag) {
					if f.Name != "resume" && f.Name != "keep-checkpoints" && f.Name != "cpuprofile" {
						other = f.Name
					}
				})
				if other != "" {
					return fmt.Errorf("--resume takes no --%s: the run's own config.yaml decides everything", other)
				}
				opts.Out = resume
				s, err := train.Resume(cmd.Context(), resume, opts)
				return finish(resume)(s, runDirError("resume", resume, err))
			}
			var settings []train.Setting
			if configPath != "" {
				var err error
				if settings, err = train.ReadSettings(configPath); err != nil {
					return fmt.Errorf("--config %w", err)
				}
			}
			// Flags given explicitly win over the preset and the file.
			cmd.Flags().Visit(func(f *pflag.Flag) {
				if key, ok := knobKeys[f.Name]; ok {
					settings = append(settings, train.Setting{Key: key, Value: f.Value.String()})
				}
			})
			cfg, err := train.Resolve(preset, settings)
			if err != nil {
				return userError(err, settings)
			}
			if out == "" {
				return errors.New("--out: a run directory is required")
			}
			if force {
				if moved, err := rundir.MoveAside(out); err != nil {
					return fmt.Errorf("--force: %v", err)
				} else if moved != "" {
					fmt.Fprintf(os.Stderr, "lot: moved the run in %s aside to %s\n", out, moved)
				}
			}
			s, err := train.Run(cmd.Context(), cfg, opts)
			return finish(out)(s, runDirError("out", out, err))
		},
	}
	f := cmd.Flags()
	f.SortFlags = false // README's order: the run's own flags, then the config's
	for _, c := range commandFlags {
		help := strings.ReplaceAll(c.help, "`", "")
		switch c.name {
		case "out":
			f.StringVar(&out, c.name, "", help)
		case "preset":
			f.StringVar(&preset, c.name, "", help)
		case "config":
			f.StringVar(&configPath, c.name, "", help)
		case "resume":
			f.StringVar(&resume, c.name, "", help)
		case "keep-checkpoints":
			f.BoolVar(&keep, c.name, false, help)
		case "force":
			f.BoolVar(&force, c.name, false, help)
		}
	}
	def := train.Default()
	for _, k := range train.Knobs() {
		fl := f.VarPF(&knobValue{value: k.Get(&def), kind: k.Kind()}, k.Flag, "", strings.ReplaceAll(k.Help, "`", ""))
		if k.Kind() == "bool" {
			fl.NoOptDefVal = "true"
		}
	}
	return cmd
}

// knobKeys maps each config key's flag to its key.
var knobKeys = func() map[string]string {
	m := map[string]string{}
	for _, k := range train.Knobs() {
		m[k.Flag] = k.Key
	}
	return m
}()

// knobValue holds a config key's flag as typed; train.Resolve parses it.
type knobValue struct{ value, kind string }

func (v *knobValue) String() string     { return v.value }
func (v *knobValue) Set(s string) error { v.value = s; return nil }
func (v *knobValue) Type() string       { return v.kind }

// userError names the flag, or the file, behind a fault in a config key.
func userError(err error, settings []train.Setting) error {
	if errors.Is(err, train.ErrUnknownPreset) {
		return fmt.Errorf("--preset: %w", err)
	}
	ke, ok := err.(*keyerr.Error)
	if !ok {
		return err // a syntax error in a --config file names the file
	}
	source := ""
	for _, s := range settings {
		if s.Key == ke.Key {
			source = s.Source // the last setting of the key won
		}
	}
	if k, found := train.KnobOf(ke.Key); found && source == "" {
		return fmt.Errorf("--%s: %w", k.Flag, ke.Err)
	}
	return fmt.Errorf("--config %s: %w", source, err)
}

// runDirError names the flag that gave the run directory dir behind a
// fault of that directory, and says what can be done with one that holds
// a run; other errors are returned as they are.
func runDirError(flag, dir string, err error) error {
	var (
		ee *train.ExistsError
		de *train.DirError
		re *rundir.Error
	)
	switch {
	case errors.As(err, &ee):
		return fmt.Errorf("--out %w; continue it with --resume %s, choose another --out, or give --force to move it aside to %s.old-N",
			err, ee.Dir, filepath.Clean(ee.Dir))
	case errors.As(err, &de):
		return fmt.Errorf("--%s %w", flag, err)
	case errors.As(err, &re) && filepath.Clean(re.Path) == filepath.Clean(dir):
		return fmt.Errorf("--%s %w", flag, err) // the error names dir
	case errors.As(err, &re):
		return fmt.Errorf("--%s %s: %w", flag, dir, err)
	}
	return err
}

// finish reports a run's outcome; dir is its run directory.
func finish(dir string) func(*train.Summary, error) error {
	return func(s *train.Summary, err error) error {
		if errors.Is(err, train.ErrInterrupted) {
			return interrupted{dir}
		}
		if errors.Is(err, data.ErrNoDefaultDir) {
			return fmt.Errorf("%w with --data DIR", err)
		}
		if err != nil {
			return err
		}
		fmt.Printf("done: %d tasks, %d steps, final_acc %.4f, mean online_acc %.4f, %.1f steps/s, %.1fs\n",
			s.Tasks, s.Steps, s.FinalAcc, s.MeanOnlineAcc, s.TrainStepsPerSec, s.WallSeconds)
		return nil
	}
}
