package train

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"math"
	"reflect"
	"slices"
	"strconv"
	"strings"

	"github.com/lot-toolkit/lot/data"
	"github.com/lot-toolkit/lot/internal/keyerr"
	"github.com/lot-toolkit/lot/model"
	"github.com/lot-toolkit/lot/optim"
	"github.com/lot-toolkit/lot/regularize"
	"github.com/lot-toolkit/lot/schedule"
)

// A Knob is one setting of a Config. The table of knobs is the single
// declaration of each setting's config key, command-line flag, help text and
// value check: `lot run` registers its flags from it, config files are read
// through it, the config hash and README's flag tables are made from it.
// Adding a setting is a Config field (with its yaml tag and its value in
// Default) and one entry here.
type Knob struct {
	// Key is the config key: the field's yaml tag, dotted below a nested
	// map (diagnostics.window, schedule.gamma). Filled from the field.
	Key string
	// Flag is the `lot run` flag that sets it, without dashes.
	Flag string
	// Help says what it means, and what a zero means where that matters.
	// Backquotes mark literal values (README renders them as code).
	Help string
	// DefaultDoc, if set, describes the default instead of its value.
	DefaultDoc string
	// Words are names the user may give for values (samples: all → -1).
	Words map[string]string

	field func(*Config) any     // a pointer to the Config field
	check func(c *Config) error // the value's own rule, if any, as a fault without the key
}

// knobs is the table, in the order of README's tables and `lot run --help`.
var knobs = []Knob{
	{Flag: "data", Help: "directory with `train-images-idx3-ubyte[.gz]` and `train-labels-idx1-ubyte[.gz]`; not part of the config's identity", DefaultDoc: "GoMNIST's copy",
		field: func(c *Config) any { return &c.Data }},
	{Flag: "protocol", Help: "`paper` (App. D's text; every default below) or `authors` (Fig. 5 as the authors' public code ran it: fills every key below that is not set, per the reference notes; see [The authors' protocol](#the-authors-protocol---protocol-authors))",
		field: func(c *Config) any { return &c.Protocol }, check: func(c *Config) error { return oneOf(c.Protocol, Protocols) }},
	{Flag: "stream", Help: "`random-label` or `permuted`",
		field: func(c *Config) any { return &c.Stream }, check: func(c *Config) error { return oneOf(c.Stream, data.StreamKinds()) }},
	{Flag: "samples", Help: "training images drawn once per seed; `all` (written -1) takes all 60,000",
		Words: map[string]string{"all": strconv.Itoa(data.AllSamples)},
		field: func(c *Config) any { return &c.Samples }, check: func(c *Config) error {
			if c.Samples == data.AllSamples {
				return nil
			}
			return atLeast(c.Samples, 1)
		}},
	{Flag: "normalize", Help: "input mean and std: `subset` (of the drawn images, paper) or `full-train` (of all 60,000 training images, authors' code)",
		field: func(c *Config) any { return &c.Normalize }, check: func(c *Config) error { return oneOf(c.Normalize, data.Normalizations()) }},
	{Flag: "relabel", Help: "fraction of labels re-drawn uniformly over 0..9 at each task start (random-label); 0 keeps the labels",
		field: func(c *Config) any { return &c.Relabel }, check: func(c *Config) error { return within(c.Relabel, 0, 1) }},
	{Flag: "tasks", Help: "tasks in the stream",
		field: func(c *Config) any { return &c.Tasks }, check: func(c *Config) error { return atLeast(c.Tasks, 1) }},
	{Flag: "epochs", Help: "passes over the task's data per task",
		field: func(c *Config) any { return &c.Epochs }, check: func(c *Config) error { return atLeast(c.Epochs, 1) }},
	{Flag: "batch", Help: "minibatch size (the last batch of an epoch may be smaller, as PyTorch's DataLoader)",
		field: func(c *Config) any { return &c.Batch }, check: func(c *Config) error { return atLeast(c.Batch, 2) }},
	{Flag: "hidden", Help: "hidden widths, comma-separated: `256,256` is two hidden layers",
		field: func(c *Config) any { return &c.Hidden }, check: func(c *Config) error {
			if len(c.Hidden) == 0 || slices.Min(c.Hidden) < 1 {
				return fmt.Errorf("needs positive widths, got %v", c.Hidden)
			}
			return nil
		}},
	{Flag: "activation", Help: "`relu`, `crelu`, `leaky_relu:<slope>`, `linear`",
		field: func(c *Config) any { return &c.Activation }, check: func(c *Config) error {
			_, err := model.ParseActivation(c.Activation)
			return err
		}},
	{Flag: "batchnorm", Help: "BatchNorm1d after each hidden linear layer, before the activation",
		field: func(c *Config) any { return &c.BatchNorm }},
	{Flag: "init", Help: "`torch` (nn.Linear's default, U(±1/√fan_in) weights and biases), `kaiming-normal` (N(0, 2/fan_in), zero biases) or `kaiming-uniform` (U(±√(6/fan_in)), zero biases; authors' code)",
		field: func(c *Config) any { return &c.Init }, check: func(c *Config) error {
			var names []string
			for _, i := range model.Inits() {
				names = append(names, string(i))
			}
			return oneOf(c.Init, names)
		}},
	{Flag: "optimizer", Help: "`adam` (β=(0.9,0.999), ε=1e-8) or `sgd`",
		field: func(c *Config) any { return &c.Optimizer }, check: func(c *Config) error { return oneOf(c.Optimizer, []string{"adam", "sgd"}) }},
	{Flag: "adam-betas", Help: "Adam's betas: `fixed` (0.9, 0.999) or `authors-ramp` (the authors' code: after every step group 0's betas follow the epoch within the task, β1 = 0.9+0.09·e/2E, β2 = 0.999−0.249·e/2E; all groups under reset-model)",
		field: func(c *Config) any { return &c.AdamBetas }, check: func(c *Config) error {
			if err := oneOf(c.AdamBetas, optim.BetaSchedules()); err != nil {
				return err
			}
			if c.AdamBetas != optim.BetasFixed && c.Optimizer != "adam" {
				return fmt.Errorf("%s needs optimizer adam, got %s", c.AdamBetas, c.Optimizer)
			}
			return nil
		}},
	{Flag: "lr", Help: "learning rate of every layer at the start",
		field: func(c *Config) any { return &c.LR }, check: func(c *Config) error {
			if !(c.LR > 0) || math.IsInf(c.LR, 0) {
				return fmt.Errorf("learning rate must be a positive number, got %v", c.LR)
			}
			return nil
		}},
	{Flag: "momentum", Help: "SGD momentum, in [0, 1); 0 is plain SGD",
		field: func(c *Config) any { return &c.Momentum }, check: func(c *Config) error {
			if !(c.Momentum >= 0 && c.Momentum < 1) {
				return fmt.Errorf("must be in [0, 1), got %v", c.Momentum)
			}
			return nil
		}},
	{Flag: "reg", Help: "`none`, `l2` (coupled weight decay, as `Adam(weight_decay=λ)`), `wasserstein`, `l2init`, `spectral` (see [Methods](#methods))",
		field: func(c *Config) any { return &c.Reg }, check: func(c *Config) error { return oneOf(c.Reg, regularize.Kinds) }},
	{Flag: "reg-strength", Help: "λ; 0 turns the regulariser off",
		field: func(c *Config) any { return &c.RegStrength }, check: func(c *Config) error { return atLeastF(c.RegStrength, 0) }},
	{Flag: "method", // Help: the registered methods (init)
		field: func(c *Config) any { return &c.Method }, check: func(c *Config) error { return oneOf(c.Method, Methods) }},
	{Flag: "seed", Help: "seed of every random draw",
		field: func(c *Config) any { return &c.Seed }},
	{Flag: "threads", Help: "BLAS threads; numbers are reproducible for a fixed count",
		field: func(c *Config) any { return &c.Threads }, check: func(c *Config) error { return atLeast(c.Threads, 1) }},
	{Flag: "sparse-grad", Help: "skip the weight-gradient rows of hidden units that are zero for the whole batch (dead ReLUs), in the training step and in the Hessian block products: exact in value and faster on nets with many dead units, but bit-identical to the dense product only under OpenBLAS's SkylakeX kernel (not Haswell's), so off by default",
		field: func(c *Config) any { return &c.SparseGrad }},
	{Flag: "log-every", Help: "updates between `metrics.jsonl` rows",
		field: func(c *Config) any { return &c.LogEvery }, check: func(c *Config) error { return atLeast(c.LogEvery, 1) }},

	{Flag: "log-phase", Help: "which step of each `--log-every` interval is logged (and, for `scheduled`, decided at): `end` (the K-th, 2K-th, … update, counting from 1) or `start` (the run's first update and every K-th after, as the authors' `total_updates % log_interval == 0`; their decisions then use the counts before the step)",
		field: func(c *Config) any { return &c.LogPhase }, check: func(c *Config) error { return oneOf(c.LogPhase, []string{schedule.PhaseEnd, schedule.PhaseStart}) }},
	{Flag: "skip-logged-update", Help: "lose the update of every logged step, whatever the diagnostics, as the authors' code did (its diagnostics cleared the gradients before `optimizer.step()`: Adam then neither moves nor counts a step); off in the paper protocol",
		field: func(c *Config) any { return &c.SkipLoggedUpdate }},

	// Diagnostics: package diagnostics checks these (DiagConfig.Options).
	{Flag: "diagnostics", Help: "`off`, `light` or `full`: see [Diagnostics](#diagnostics)",
		field: func(c *Config) any { return &c.Diagnostics.Level }},
	{Flag: "window", Help: "W, logged steps in the sharpness-volatility window; at least 2",
		field: func(c *Config) any { return &c.Diagnostics.Window }},
	{Flag: "vol-stat", Help: "μ and σ² of λ̄: `window` (paper, Eq. 1: window mean and variance), `ema` (exponential, span W), `code` (public code: window mean, single-step (λ̄−μ)²)",
		field: func(c *Config) any { return &c.Diagnostics.VolStat }},
	{Flag: "beta", Help: "β in σ̃² = σ² + β‖ĝ‖²·Vol (Eq. 2), in [0, 1]; 0 is the pure noise bound",
		field: func(c *Config) any { return &c.Diagnostics.Beta }},
	{Flag: "kappa", Help: "κ in α_vol* = 1/(κ·Vol); must be positive",
		field: func(c *Config) any { return &c.Diagnostics.Kappa }},
	{Flag: "code-c", Help: "c in the public code's α_crit = B·G/(σ² + c·G·s); 0 drops the curvature term",
		field: func(c *Config) any { return &c.Diagnostics.CodeC }},
	{Flag: "code-s", Help: "s in α_crit: `sq-mean` (λ̄²/μ), `lambda`, `cv`, `var`",
		field: func(c *Config) any { return &c.Diagnostics.CodeS }},
	{Flag: "alpha-variant", Help: "effective step compared with the bound: `paper` (App. C.1) or `code`",
		field: func(c *Config) any { return &c.Diagnostics.Alpha }},
	{Flag: "threshold", Help: "bound of the exceedance indicator and ρ̂: `tilde` (α̃*) or `code` (α_crit)",
		field: func(c *Config) any { return &c.Diagnostics.Threshold }},
	{Flag: "sharpness-solver", Help: "top-eigenvalue solver: `lanczos` (warm-started), `power` (the paper's), `power-reduced` (the same power iteration with the first layer's block run in the batch's B×out space: about a third of the work per first-layer product at 784 inputs, the same iterates from the same start, rounded differently) or `power-batch` (every layer's block in that space where it is the cheaper product, again the same iterates rounded differently; the authors' protocol's solver)",
		field: func(c *Config) any { return &c.Diagnostics.Solver }},
	{Flag: "global-sharpness", Help: "also the whole network's sharpness (about doubles full diagnostics' cost)",
		field: func(c *Config) any { return &c.Diagnostics.GlobalSharp }},
	{Flag: "power-tol", Help: "the solver's relative-residual stopping rule; 0 runs every solve to `--power-iters`",
		field: func(c *Config) any { return &c.Diagnostics.PowerTol }},
	{Flag: "power-iters", Help: "the solver's cap on Hessian products per layer per log; at least 1",
		field: func(c *Config) any { return &c.Diagnostics.PowerIters }},
	{Flag: "sharpness-norm", Help: "normaliser of λ̄: `layer` (η_ℓ/(RMS_ℓ(√v̂)+ε), paper B.1's per-layer version) or `global` (group 0's η/(√mean v+ε) over all parameters, raw v; authors' code)",
		field: func(c *Config) any { return &c.Diagnostics.SharpNorm }},
	{Flag: "sharpness-start", Help: "start of each sharpness solve: `warm` (the last eigenvector) or `cold` (a fresh random vector from the stream (seed, step, layer); authors' code, with `--sharpness-solver power-batch --power-tol 0 --power-iters 101`)",
		field: func(c *Config) any { return &c.Diagnostics.SharpStart }},
	{Flag: "fisher-samples", Help: "m of the empirical-Fisher rank and of the effective rank; at least 2",
		field: func(c *Config) any { return &c.Diagnostics.FisherSamples }},

	// Alg. 1's constants: package schedule checks these, with method
	// scheduled only.
	{Flag: "gamma", Help: "safety factor γ (paper); must be positive",
		field: func(c *Config) any { return &c.Schedule.Gamma }},
	{Flag: "cool", Help: "c, the cooling factor (paper), in (0, 1)",
		field: func(c *Config) any { return &c.Schedule.Cool }},
	{Flag: "warm", Help: "u, the warming factor (paper), above 1",
		field: func(c *Config) any { return &c.Schedule.Warm }},
	{Flag: "floor", Help: "cool only while α exceeds it (paper; 0 disables)",
		field: func(c *Config) any { return &c.Schedule.Floor }},
	{Flag: "warm-horizon", Help: "T_warm as a fraction of each task's steps (paper 0.3, public code 0.1); 0 never warms",
		field: func(c *Config) any { return &c.Schedule.WarmHorizon }},
	{Flag: "warm-ratio", Help: "r of \"α ≪ γ·α̃*\" (the public code's value), in [0, 1]; 0 never warms",
		field: func(c *Config) any { return &c.Schedule.WarmRatio }},
	{Flag: "sched-alpha", Help: "the effective step compared: `code`, the public code's per-tensor η/((1−β1^t)(√mean v̂+ε)), or `paper`, App. C.1's mean over parameters",
		field: func(c *Config) any { return &c.Schedule.Alpha }},
	{Flag: "warm-counter", Help: "the count compared with the warm horizon: `task` (updates in the current task; paper) or `run` (updates in the whole run, so warming only early in the first task; the authors' last committed code)",
		field: func(c *Config) any { return &c.Schedule.WarmCounter }},
	{Flag: "sched-every", Help: "updates between decisions; 0 is `--log-every`. Decisions measure full diagnostics at their steps",
		field: func(c *Config) any { return &c.Schedule.Every }},
	{Flag: "max-lr", Help: "a ceiling warming never crosses (0: none, as Alg. 1); not in Alg. 1, added after the paper-scale runaway below; measured there on CReLU only (one 40-task run)",
		field: func(c *Config) any { return &c.Schedule.MaxLR }},
}

// byKey indexes the table; init fills each knob's Key from its field's
// yaml tags and checks that every Config field has exactly one knob.
var byKey = map[string]*Knob{}

func init() {
	// The methods' own knobs join the table, and the method knob's help
	// lists them, once every method has registered.
	var help []string
	for _, d := range methodDefs {
		Methods = append(Methods, d.Name)
		help = append(help, "`"+d.Name+"` ("+d.Help+")")
		knobs = append(knobs, d.Knobs...)
	}
	knobs = append(knobs, extraKnobs...)
	knobs[slices.IndexFunc(knobs, func(k Knob) bool { return k.Flag == "method" })].Help = strings.Join(help, ", ")
	var c Config
	keys := map[any]string{} // field address → dotted key
	var walk func(v reflect.Value, prefix string)
	walk = func(v reflect.Value, prefix string) {
		for i := range v.NumField() {
			name, _, _ := strings.Cut(v.Type().Field(i).Tag.Get("yaml"), ",")
			f := v.Field(i)
			if f.Kind() == reflect.Struct {
				walk(f, prefix+name+".")
				continue
			}
			keys[f.Addr().Interface()] = prefix + name
		}
	}
	walk(reflect.ValueOf(&c).Elem(), "")
	for i := range knobs {
		k := &knobs[i]
		key, ok := keys[k.field(&c)]
		if !ok || byKey[key] != nil {
			panic(fmt.Sprintf("train: knob --%s: field missing or declared twice", k.Flag))
		}
		k.Key = key
		byKey[key] = k
	}
	if len(byKey) != len(keys) {
		panic("train: a Config field has no knob")
	}
}

// Knobs returns the table, in order.
func Knobs() []Knob { return slices.Clone(knobs) }

// KnobOf returns the knob of a config key.
func KnobOf(key string) (Knob, bool) {
	k, ok := byKey[key]
	if !ok {
		return Knob{}, false
	}
	return *k, true
}

// Kind is the knob's value type as a flag library names it: string, int,
// uint64, float64, bool or ints (comma-separated).
func (k Knob) Kind() string {
	switch k.field(&Config{}).(type) {
	case *string:
		return "string"
	case *int:
		return "int"
	case *uint64:
		return "uint64"
	case *float64:
		return "float64"
	case *bool:
		return "bool"
	case *[]int:
		return "ints"
	}
	panic("train: knob " + k.Key + " has an unhandled type")
}

// Get renders the knob's value in c as Set reads it back; floats are
// written exactly (shortest round-trip form).
func (k Knob) Get(c *Config) string {
	switch p := k.field(c).(type) {
	case *string:
		return *p
	case *int:
		return strconv.Itoa(*p)
	case *uint64:
		return strconv.FormatUint(*p, 10)
	case *float64:
		return strconv.FormatFloat(*p, 'g', -1, 64)
	case *bool:
		return strconv.FormatBool(*p)
	case *[]int:
		s := make([]string, len(*p))
		for i, n := range *p {
			s[i] = strconv.Itoa(n)
		}
		return strings.Join(s, ",")
	}
	panic("train: knob " + k.Key + " has an unhandled type")
}

// set parses value into the knob's field of c; the error has no key.
func (k Knob) set(c *Config, value string) error {
	v := strings.TrimSpace(value)
	if w, ok := k.Words[v]; ok {
		v = w
	}
	switch p := k.field(c).(type) {
	case *string:
		*p = value
	case *int:
		n, err := strconv.Atoi(v)
		if err != nil {
			return fmt.Errorf("%q is not an integer", value)
		}
		*p = n
	case *uint64:
		n, err := strconv.ParseUint(v, 10, 64)
		if err != nil {
			return fmt.Errorf("%q is not a non-negative integer", value)
		}
		*p = n
	case *float64:
		x, err := strconv.ParseFloat(v, 64)
		if err != nil {
			return fmt.Errorf("%q is not a number", value)
		}
		*p = x
	case *bool:
		b, err := strconv.ParseBool(v)
		if err != nil {
			return fmt.Errorf("%q is not true or false", value)
		}
		*p = b
	case *[]int:
		var widths []int
		for part := range strings.SplitSeq(v, ",") {
			n, err := strconv.Atoi(strings.TrimSpace(part))
			if err != nil || n < 1 {
				return fmt.Errorf("%q is not a positive width (want e.g. 256 or 256,256)", part)
			}
			widths = append(widths, n)
		}
		*p = widths
	}
	return nil
}

// ErrUnknownKey is wrapped by errors about a key no knob has.
var ErrUnknownKey = errors.New("unknown config key")

// Set sets one config key from its string form, as a flag or a config
// file gives it. Errors are *keyerr.Error naming the key; only the syntax
// is checked here, the value's rules by Validate.
func (c *Config) Set(key, value string) error {
	k, ok := byKey[key]
	if !ok {
		return fmt.Errorf("%w %q", ErrUnknownKey, key)
	}
	if err := k.set(c, value); err != nil {
		return &keyerr.Error{Key: key, Err: err}
	}
	return nil
}

// A Setting is one value the user gave for a config key. Source names
// where it was given (a file), or is empty for the command line.
type Setting struct{ Key, Value, Source string }

// ErrUnknownPreset is wrapped by the error about a preset that is not in
// Presets.
var ErrUnknownPreset = errors.New("unknown preset")

// Resolve makes a run's config: the defaults, then the preset (if named),
// then the user's settings in order; knobs the user did not set may then
// follow others (a scheduled run's diagnostics become full). Presets and
// such rules never overwrite what the user set, and a zero the user gave is
// kept, so Validate honours or refuses it. The result is validated.
func Resolve(preset string, settings []Setting) (Config, error) {
	c, err := resolve(preset, settings)
	if err != nil {
		return c, err
	}
	return c, c.Validate()
}

func resolve(preset string, settings []Setting) (Config, error) {
	c := Default()
	if preset != "" {
		apply, ok := Presets[preset]
		if !ok {
			return c, fmt.Errorf("%w %q (want one of: %s)", ErrUnknownPreset, preset, strings.Join(PresetNames(), ", "))
		}
		apply(&c)
	}
	set := map[string]bool{}
	for _, s := range settings {
		if err := c.Set(s.Key, s.Value); err != nil {
			if s.Source != "" {
				return c, fmt.Errorf("%s: %w", s.Source, err)
			}
			return c, err
		}
		set[s.Key] = true
	}
	if c.Protocol == "authors" {
		for key, v := range authorsSetting(&c) {
			if !set[key] {
				if err := c.Set(key, v); err != nil {
					panic("train: the authors' protocol sets " + err.Error()) // a bug in its table
				}
			}
		}
	}
	// The controller needs the sharpness: scheduled runs measure full
	// diagnostics unless told otherwise (which Validate refuses).
	if d, ok := methodDef(c.Method); ok && d.FullDiagnostics && !set["diagnostics.level"] {
		c.Diagnostics.Level = "full"
	}
	return c, nil
}

// schemaVersion versions the config's identity: the knobs' keys and the
// defaults the hash leaves out. Changing a default or a key's meaning
// needs a new version; adding a knob with a default does not.
const schemaVersion = 1

// Hash identifies the numbers a config produces: the schema version and
// every key whose value differs from its default, except the data
// directory (where MNIST is read from, not what it is). A knob added with
// a default leaves the hash of every existing config as it was.
func (c Config) Hash() string { return c.hashOver(knobs) }

// hashOver hashes c as Hash does, over the knobs of table (tests drop a
// knob from it to play a version from before that knob).
func (c Config) hashOver(table []Knob) string {
	def := Default()
	keys := make([]string, 0, len(table))
	for _, k := range table {
		if k.Key != "data" && k.Get(&c) != k.Get(&def) {
			keys = append(keys, k.Key+"="+k.Get(&c))
		}
	}
	slices.Sort(keys) // the table's order is not part of the identity
	sum := sha256.Sum256(fmt.Appendf(nil, "schema=%d\n%s", schemaVersion, strings.Join(keys, "\n")))
	return hex.EncodeToString(sum[:8])
}

func oneOf(v string, ok []string) error {
	if !slices.Contains(ok, v) {
		return fmt.Errorf("unknown value %q (want one of: %s)", v, strings.Join(ok, ", "))
	}
	return nil
}

func atLeast(v, lo int) error {
	if v < lo {
		return fmt.Errorf("must be at least %d, got %d", lo, v)
	}
	return nil
}

func atLeastF(v, lo float64) error {
	if !(v >= lo) || math.IsInf(v, 0) {
		return fmt.Errorf("must be a finite number >= %v, got %v", lo, v)
	}
	return nil
}

func within(v, lo, hi float64) error {
	if !(v >= lo && v <= hi) {
		return fmt.Errorf("must be in [%v, %v], got %v", lo, hi, v)
	}
	return nil
}
