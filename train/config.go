package train

import (
	"errors"
	"fmt"
	"maps"
	"os"
	"slices"
	"strings"

	"go.yaml.in/yaml/v3"

	"github.com/lot-toolkit/lot/data"
	"github.com/lot-toolkit/lot/diagnostics"
	"github.com/lot-toolkit/lot/internal/keyerr"
	"github.com/lot-toolkit/lot/model"
	"github.com/lot-toolkit/lot/optim"
	"github.com/lot-toolkit/lot/schedule"
)

// Config is everything that determines a run. Written to DIR/config.yaml, it
// is read back by `lot run --config` and by `--resume`.
type Config struct {
	Protocol string `yaml:"protocol"` // paper | authors (see Protocols)

	Stream    string  `yaml:"stream"`    // random-label | permuted
	Samples   int     `yaml:"samples"`   // training images subsampled once per seed; data.AllSamples: every one
	Normalize string  `yaml:"normalize"` // subset | full-train
	Relabel   float64 `yaml:"relabel"`   // fraction of labels re-drawn per task (random-label)
	Tasks     int     `yaml:"tasks"`
	Epochs    int     `yaml:"epochs"` // passes over the task's data
	Batch     int     `yaml:"batch"`

	Hidden     []int  `yaml:"hidden"`
	Activation string `yaml:"activation"`
	BatchNorm  bool   `yaml:"batchnorm"`
	Init       string `yaml:"init"`

	Optimizer string  `yaml:"optimizer"` // adam | sgd
	LR        float64 `yaml:"lr"`
	Momentum  float64 `yaml:"momentum"`   // SGD only
	AdamBetas string  `yaml:"adam_betas"` // fixed | authors-ramp

	Reg         string  `yaml:"reg"` // none | l2 | wasserstein | l2init
	RegStrength float64 `yaml:"reg_strength"`
	Method      string  `yaml:"method"` // vanilla | reset-optimizer | reset-model

	Diagnostics DiagConfig  `yaml:"diagnostics"`
	Schedule    SchedConfig `yaml:"schedule"` // method scheduled
	// The baselines' constants, each in its nested map (method_*.go).
	CBP           CBPConfig           `yaml:"cbp"`            // method cbp
	ReDo          ReDoConfig          `yaml:"redo"`           // method redo
	ShrinkPerturb ShrinkPerturbConfig `yaml:"shrink_perturb"` // method shrink-perturb
	Spectral      SpectralConfig      `yaml:"spectral"`       // reg spectral

	Seed     uint64 `yaml:"seed"`
	Threads  int    `yaml:"threads"`
	LogEvery int    `yaml:"log_every"` // updates between metrics.jsonl rows
	// LogPhase places the logged steps (and the controller's decisions)
	// in each interval: schedule.PhaseEnd or schedule.PhaseStart.
	LogPhase string `yaml:"log_phase"`
	// SkipLoggedUpdate loses the update of every logged step, as the
	// authors' code did (its diagnostics cleared the gradients).
	SkipLoggedUpdate bool   `yaml:"skip_logged_update"`
	Data             string `yaml:"data,omitempty"`
	// SparseGrad computes hidden layers' weight gradients on the batch's
	// live units only: the same values, but bit-identical to the dense
	// product only under some OpenBLAS kernels (model.Workspace.SparseGrad).
	SparseGrad bool `yaml:"sparse_grad,omitempty"`
}

// DiagConfig selects the diagnostics logged with metrics.jsonl and their
// named constants (see package diagnostics for each definition).
type DiagConfig struct {
	Level         string  `yaml:"level"`     // off | light | full
	Window        int     `yaml:"window"`    // W of the volatility
	VolStat       string  `yaml:"vol_stat"`  // window | ema | code
	Beta          float64 `yaml:"beta"`      // β of σ̃²
	Kappa         float64 `yaml:"kappa"`     // κ of α_vol*
	CodeC         float64 `yaml:"code_c"`    // c of the public code's α_crit
	CodeS         string  `yaml:"code_s"`    // s of α_crit: sq-mean | lambda | cv | var
	Alpha         string  `yaml:"alpha"`     // effective step compared: paper | code
	Threshold     string  `yaml:"threshold"` // bound of the exceedance: tilde | code
	Solver        string  `yaml:"solver"`    // lanczos | power
	GlobalSharp   bool    `yaml:"global_sharpness"`
	PowerTol      float64 `yaml:"power_tol"`
	PowerIters    int     `yaml:"power_iters"`
	FisherSamples int     `yaml:"fisher_samples"`
	SharpNorm     string  `yaml:"sharpness_norm"`  // layer | global
	SharpStart    string  `yaml:"sharpness_start"` // warm | cold
}

// Options converts the config to the diagnostics package's options and
// validates them; errors name the config key (diagnostics.window).
func (d DiagConfig) Options() (diagnostics.Options, error) {
	level, err := diagnostics.ParseLevel(d.Level)
	if err != nil {
		return diagnostics.Options{}, &keyerr.Error{Key: "diagnostics.level", Err: err}
	}
	o := diagnostics.DefaultOptions()
	o.Level, o.Window, o.VolStat, o.Beta, o.Kappa = level, d.Window, d.VolStat, d.Beta, d.Kappa
	o.CodeC, o.CodeS, o.Alpha, o.Threshold = d.CodeC, d.CodeS, d.Alpha, d.Threshold
	o.Solver, o.GlobalSharpness = d.Solver, d.GlobalSharp
	o.PowerTol, o.PowerMaxIter, o.FisherSamples = d.PowerTol, d.PowerIters, d.FisherSamples
	o.SharpnessNorm, o.SharpnessStart = d.SharpNorm, d.SharpStart
	return o, keyerr.Under("diagnostics", o.Validate())
}

// diagConfigOf is the config of the diagnostics package's options.
func diagConfigOf(o diagnostics.Options) DiagConfig {
	return DiagConfig{Level: o.Level.String(), Window: o.Window, VolStat: o.VolStat, Beta: o.Beta, Kappa: o.Kappa,
		CodeC: o.CodeC, CodeS: o.CodeS, Alpha: o.Alpha, Threshold: o.Threshold, Solver: o.Solver,
		GlobalSharp: o.GlobalSharpness, PowerTol: o.PowerTol, PowerIters: o.PowerMaxIter, FisherSamples: o.FisherSamples,
		SharpNorm: o.SharpnessNorm, SharpStart: o.SharpnessStart}
}

// SchedConfig holds Alg. 1's constants (see package schedule). Decisions are
// taken every LogEvery steps, when full diagnostics are measured.
type SchedConfig struct {
	Gamma       float64 `yaml:"gamma"`
	Cool        float64 `yaml:"cool"`
	Warm        float64 `yaml:"warm"`
	Floor       float64 `yaml:"floor"`
	WarmHorizon float64 `yaml:"warm_horizon"`
	WarmRatio   float64 `yaml:"warm_ratio"`
	Alpha       string  `yaml:"alpha"` // effective step compared: code (default) | paper
	// omitempty keeps config.yaml as versions before the ceiling wrote it.
	MaxLR       float64 `yaml:"max_lr,omitempty"`
	WarmCounter string  `yaml:"warm_counter"` // task | run
	Every       int     `yaml:"every"`        // decision interval; 0: log_every
}

// Options converts the config to the schedule package's options.
func (s SchedConfig) Options() schedule.Options {
	o := schedule.DefaultOptions() // Phase follows the config's log_phase (see the loop)
	o.Gamma, o.Cool, o.Warm, o.Floor, o.WarmHorizon, o.WarmRatio = s.Gamma, s.Cool, s.Warm, s.Floor, s.WarmHorizon, s.WarmRatio
	o.Alpha, o.MaxLR, o.WarmCounter, o.Every = s.Alpha, s.MaxLR, s.WarmCounter, s.Every
	return o
}

// schedConfigOf is the config of the schedule package's options.
func schedConfigOf(o schedule.Options) SchedConfig {
	return SchedConfig{Gamma: o.Gamma, Cool: o.Cool, Warm: o.Warm, Floor: o.Floor, WarmHorizon: o.WarmHorizon, WarmRatio: o.WarmRatio, Alpha: o.Alpha, MaxLR: o.MaxLR,
		WarmCounter: o.WarmCounter, Every: o.Every}
}

// Methods lists the accepted methods (the registered ones: see Method).
var Methods []string

// Default is the paper's setting, at a length that runs in minutes. The
// constants of the diagnostics and of the controller are their packages'
// defaults; diagnostics are light.
func Default() Config {
	diag := diagConfigOf(diagnostics.DefaultOptions())
	diag.Level = diagnostics.Light.String()
	c := Config{
		Protocol: "paper",
		Stream:   "random-label", Samples: 21000, Normalize: data.NormalizeSubset, Relabel: 1, Tasks: 10, Epochs: 20, Batch: 256,
		Hidden: []int{256}, Activation: "relu", Init: string(model.InitTorch),
		Optimizer: "adam", LR: 1e-3, Momentum: 0.9, AdamBetas: optim.BetasFixed,
		Reg: "none", RegStrength: 1e-3, Method: "vanilla",
		Seed: 0, Threads: 1, LogEvery: 40, LogPhase: schedule.PhaseEnd,
		Diagnostics: diag, Schedule: schedConfigOf(schedule.DefaultOptions()),
		Spectral: defaultSpectral,
	}
	for _, d := range methodDefs {
		if d.Defaults != nil {
			d.Defaults(&c)
		}
	}
	return c
}

// Presets are named starting points; the user's settings override their
// values (see Resolve).
var Presets = map[string]func(*Config){
	// paper: App. D's main setting.
	"paper": func(c *Config) {
		c.Samples, c.Tasks, c.Epochs, c.Batch, c.Optimizer, c.LR = 21000, 40, 250, 256, "adam", 1e-3
	},
	// quick: 2,048 samples, 40 tasks of 100 epochs (32,000 updates, about a
	// minute), Adam at lr 2e-2. Found by the search in the README ("The
	// quick preset"): at the paper's lr 1e-3 no small setting tried lost
	// trainability under L2, while at 2e-2 vanilla L2 decays steadily over
	// the 40 tasks.
	// smoke: seconds long, for checking a pipeline end to end (tests use it).
	"smoke": func(c *Config) {
		c.Samples, c.Tasks, c.Epochs, c.Batch, c.Optimizer, c.LR, c.LogEvery = 300, 3, 2, 64, "adam", 1e-2, 5
		c.Hidden = []int{16}
	},
	"quick": func(c *Config) {
		c.Samples, c.Tasks, c.Epochs, c.Batch, c.Optimizer, c.LR = 2048, 40, 100, 256, "adam", 2e-2
	},
}

// PresetNames lists the presets, sorted.
func PresetNames() []string { return slices.Sorted(maps.Keys(Presets)) }

// Validate returns one error naming the first bad key and its fault, as a
// *keyerr.Error.
func (c *Config) Validate() error {
	for _, k := range knobs {
		if k.check == nil {
			continue
		}
		if err := k.check(c); err != nil {
			return &keyerr.Error{Key: k.Key, Err: err}
		}
	}
	if _, err := c.Diagnostics.Options(); err != nil {
		return err
	}
	d, _ := methodDef(c.Method) // known: its knob checked it
	if d.FullDiagnostics && c.Diagnostics.Level != "full" {
		return keyerr.Errorf("method", "%s needs full diagnostics (it reads the sharpness), got diagnostics %s", c.Method, c.Diagnostics.Level)
	}
	if d.Validate != nil {
		return d.Validate(c)
	}
	return nil
}

// ModelSpec is the architecture the config describes, for MNIST's 784
// inputs and 10 classes.
func (c *Config) ModelSpec() model.Spec {
	act, _ := model.ParseActivation(c.Activation)
	return model.Spec{Input: 28 * 28, Hidden: slices.Clone(c.Hidden), Classes: 10, Activation: act, BatchNorm: c.BatchNorm}
}

// Marshal renders the config as YAML.
func (c *Config) Marshal() []byte {
	b, _ := yaml.Marshal(c)
	return b
}

// ReadSettings reads a YAML config (as written to a run's config.yaml) as
// the settings it gives: one per key present, so that keys it leaves out
// keep their defaults. Unknown keys are errors, so that a typo cannot go
// unnoticed. Errors name the file.
func ReadSettings(path string) ([]Setting, error) {
	raw, err := os.ReadFile(path)
	if err != nil {
		if errors.Is(err, os.ErrNotExist) {
			return nil, fmt.Errorf("%s: no such file", path)
		}
		return nil, err
	}
	return parseSettings(raw, path)
}

// parseSettings reads YAML as ReadSettings does; path names its source in
// errors and settings ("" for none).
func parseSettings(raw []byte, path string) ([]Setting, error) {
	source := ""
	if path != "" {
		source = path + ": "
	}
	var doc yaml.Node
	if err := yaml.Unmarshal(raw, &doc); err != nil {
		return nil, fmt.Errorf("%snot a valid lot config: %s", source, strings.ReplaceAll(err.Error(), "\n", "; "))
	}
	if len(doc.Content) == 0 { // an empty file sets nothing
		return nil, nil
	}
	var out []Setting
	var walk func(n *yaml.Node, prefix string) error
	walk = func(n *yaml.Node, prefix string) error {
		if n.Kind != yaml.MappingNode {
			return fmt.Errorf("%snot a valid lot config: line %d: want a map of keys", source, n.Line)
		}
		for i := 0; i+1 < len(n.Content); i += 2 {
			kn, vn := n.Content[i], n.Content[i+1]
			key := prefix + kn.Value
			switch {
			case vn.Kind == yaml.MappingNode && prefix == "":
				if err := walk(vn, key+"."); err != nil {
					return err
				}
				continue
			case byKey[key] == nil:
				return fmt.Errorf("%snot a valid lot config: line %d: %w %q", source, kn.Line, ErrUnknownKey, key)
			case vn.Kind == yaml.ScalarNode && vn.Tag == "!!null": // "key:" with no value sets nothing
			case vn.Kind == yaml.ScalarNode:
				out = append(out, Setting{Key: key, Value: vn.Value, Source: path})
			case vn.Kind == yaml.SequenceNode:
				items := make([]string, len(vn.Content))
				for j, it := range vn.Content {
					items[j] = it.Value
				}
				out = append(out, Setting{Key: key, Value: strings.Join(items, ","), Source: path})
			default:
				return fmt.Errorf("%snot a valid lot config: line %d: %s needs a value", source, vn.Line, key)
			}
		}
		return nil
	}
	return out, walk(doc.Content[0], "")
}
