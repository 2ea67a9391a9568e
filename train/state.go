package train

import (
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"

	"github.com/lot-toolkit/lot/checkpoint"
	"github.com/lot-toolkit/lot/diagnostics"
	"github.com/lot-toolkit/lot/model"
	"github.com/lot-toolkit/lot/optim"
	"github.com/lot-toolkit/lot/regularize"
	"github.com/lot-toolkit/lot/rundir"
)

// Position is where a run stands; a checkpoint resumes from it.
type Position struct {
	Task  int   `json:"task"`  // current task (== Tasks once finished)
	Epoch int   `json:"epoch"` // next epoch within the task
	Batch int   `json:"batch"` // next batch within the epoch
	Step  int64 `json:"step"`  // updates applied in the whole run

	// Running sums of the current task's online accuracy.
	OnlineAccSum  float64 `json:"online_acc_sum"`
	OnlineBatches int     `json:"online_batches"`

	// Bytes of metrics.jsonl and tasks.jsonl that belong to this position:
	// on resume anything past them (written after the checkpoint) is cut.
	MetricsBytes int64 `json:"metrics_bytes"`
	TasksBytes   int64 `json:"tasks_bytes"`

	TrainSeconds  float64 `json:"train_seconds"` // time inside the update loop
	WallSeconds   float64 `json:"wall_seconds"`  // total time of the run so far
	TaskStartWall float64 `json:"task_start_wall_seconds"`

	GroupLR    []float64 `json:"group_lr"`
	GroupSteps []int64   `json:"group_steps"`
	// GroupBetas are Adam's per-group betas (absent before adam_betas
	// existed: those runs had the fixed defaults).
	GroupBetas [][2]float64 `json:"group_betas,omitempty"`
	// Builds are the builds of lot that trained the run so far, in order
	// (absent in checkpoints from before this field).
	Builds []Build `json:"builds,omitempty"`
}

// Done reports whether every task has been trained.
func (p Position) Done(cfg *Config) bool { return p.Task >= cfg.Tasks }

// saveCheckpoint writes weights (PyTorch names), optimiser state, the
// regulariser's anchor and the position.
func saveCheckpoint(path string, cfg *Config, m *model.MLP, opt optim.Optimizer, anchor []float32, mon *diagnostics.Monitor, method Method, reg regularize.Regularizer, pos Position) error {
	var ts []checkpoint.Tensor
	for _, t := range m.StateDict() {
		ts = append(ts, checkpoint.Tensor{Name: t.Name, Shape: t.Shape, Data: t.Data})
	}
	slice := func(prefix string, flat []float32) {
		off := 0
		for _, t := range m.Tensors {
			ts = append(ts, checkpoint.Tensor{Name: prefix + t.Name, Shape: t.Shape, Data: flat[off : off+len(t.Data)]})
			off += len(t.Data)
		}
	}
	for name, buf := range opt.State() {
		slice(rundir.OptimizerPrefix+name+".", buf)
	}
	if anchor != nil {
		slice(rundir.AnchorPrefix, anchor)
	}
	for i, g := range opt.Groups() {
		pos.GroupLR = append(pos.GroupLR, g.LR)
		pos.GroupSteps = append(pos.GroupSteps, g.Steps)
		if a, ok := opt.(*optim.Adam); ok {
			b1, b2 := a.Betas(i)
			pos.GroupBetas = append(pos.GroupBetas, [2]float64{b1, b2})
		}
	}
	posJSON, _ := json.Marshal(pos)
	spec := m.Spec
	specJSON, _ := json.Marshal(rundir.SpecMeta{Input: spec.Input, Hidden: spec.Hidden, Classes: spec.Classes,
		Activation: spec.Activation.String(), BatchNorm: spec.BatchNorm})
	meta := map[string]string{
		rundir.MetaConfig: string(cfg.Marshal()),
		rundir.MetaSpec:   string(specJSON), rundir.MetaPosition: string(posJSON),
	}
	if mon != nil {
		js, vecs := mon.State()
		meta[rundir.MetaDiagnostics] = js
		for name, v := range vecs {
			ts = append(ts, checkpoint.Tensor{Name: rundir.DiagPowerPrefix + name, Shape: []int{len(v)}, Data: v})
		}
	}
	if js, vecs := method.State(); js != "" || len(vecs) > 0 {
		meta[rundir.MetaMethod] = js
		for _, name := range slices.Sorted(maps.Keys(vecs)) {
			ts = append(ts, checkpoint.Tensor{Name: rundir.MethodPrefix + name, Shape: []int{len(vecs[name])}, Data: vecs[name]})
		}
	}
	if s, ok := reg.(regularize.Stateful); ok {
		vecs := s.State()
		for _, name := range slices.Sorted(maps.Keys(vecs)) {
			ts = append(ts, checkpoint.Tensor{Name: rundir.RegPrefix + name, Shape: []int{len(vecs[name])}, Data: vecs[name]})
		}
	}
	return rundir.WriteCheckpoint(path, ts, meta)
}

// loadCheckpoint restores weights, optimiser state, anchor, diagnostics
// and the method's state in place and returns the saved position. A
// stateful regulariser's vectors go to regState (the regulariser is built
// after the anchor is restored). Every fault is a *rundir.Error naming path.
func loadCheckpoint(path string, m *model.MLP, opt optim.Optimizer, anchor []float32, mon *diagnostics.Monitor, method Method, regState map[string][]float32) (Position, error) {
	f, err := rundir.ReadCheckpoint(path)
	if err != nil {
		return Position{}, err
	}
	return restoreFrom(path, f, m, opt, anchor, mon, method, regState)
}

// restoreFrom is loadCheckpoint after reading the file: f is what path holds.
func restoreFrom(path string, f *checkpoint.File, m *model.MLP, opt optim.Optimizer, anchor []float32, mon *diagnostics.Monitor, method Method, regState map[string][]float32) (Position, error) {
	var pos Position
	if err := json.Unmarshal([]byte(f.Meta[rundir.MetaPosition]), &pos); err != nil {
		return pos, damaged(path, "%s metadata: %v", rundir.MetaPosition, err)
	}
	// The loop indexes with these counts: a negative one would panic there.
	for name, n := range map[string]int64{"task": int64(pos.Task), "epoch": int64(pos.Epoch), "batch": int64(pos.Batch), "step": pos.Step,
		"online_batches": int64(pos.OnlineBatches), "metrics_bytes": pos.MetricsBytes, "tasks_bytes": pos.TasksBytes} {
		if n < 0 {
			return pos, damaged(path, "%s metadata: %s is %d", rundir.MetaPosition, name, n)
		}
	}
	restore := func(name string, dst []float32) error {
		t, ok := f.Get(name)
		if !ok {
			return damaged(path, "tensor %s missing", name)
		}
		if len(t.Data) != len(dst) {
			return damaged(path, "tensor %s has %d values, the model needs %d", name, len(t.Data), len(dst))
		}
		copy(dst, t.Data)
		return nil
	}
	for _, t := range m.StateDict() {
		if err := restore(t.Name, t.Data); err != nil {
			return pos, err
		}
	}
	perTensor := func(prefix string, flat []float32) error {
		off := 0
		for _, t := range m.Tensors {
			if err := restore(prefix+t.Name, flat[off:off+len(t.Data)]); err != nil {
				return err
			}
			off += len(t.Data)
		}
		return nil
	}
	for name, buf := range opt.State() {
		if err := perTensor(rundir.OptimizerPrefix+name+".", buf); err != nil {
			return pos, err
		}
	}
	if anchor != nil {
		if err := perTensor(rundir.AnchorPrefix, anchor); err != nil {
			return pos, err
		}
	}
	if len(pos.GroupLR) != len(opt.Groups()) || len(pos.GroupSteps) != len(opt.Groups()) {
		return pos, damaged(path, "%d parameter groups' learning rates and %d groups' step counts saved, the model has %d groups",
			len(pos.GroupLR), len(pos.GroupSteps), len(opt.Groups()))
	}
	for i := range pos.GroupLR {
		opt.SetLR(i, pos.GroupLR[i])
		opt.Groups()[i].Steps = pos.GroupSteps[i]
	}
	if a, ok := opt.(*optim.Adam); ok && pos.GroupBetas != nil {
		if len(pos.GroupBetas) != len(opt.Groups()) {
			return pos, damaged(path, "%d groups' betas saved, the model has %d groups", len(pos.GroupBetas), len(opt.Groups()))
		}
		for i, b := range pos.GroupBetas {
			a.SetBetas(i, b[0], b[1])
		}
	}
	pos.GroupLR, pos.GroupSteps, pos.GroupBetas = nil, nil, nil
	if mon != nil {
		if js, ok := f.Meta[rundir.MetaDiagnostics]; ok {
			vecs := map[string][]float32{}
			for _, t := range f.Tensors {
				if name, ok := strings.CutPrefix(t.Name, rundir.DiagPowerPrefix); ok {
					vecs[name] = t.Data
				}
			}
			if err := mon.Restore(js, vecs); err != nil {
				return pos, damaged(path, "%v", err)
			}
		}
	}
	vecs := map[string][]float32{}
	for _, t := range f.Tensors {
		if name, ok := strings.CutPrefix(t.Name, rundir.MethodPrefix); ok {
			vecs[name] = t.Data
		}
		if name, ok := strings.CutPrefix(t.Name, rundir.RegPrefix); ok && regState != nil {
			regState[name] = t.Data
		}
	}
	if err := method.Restore(f.Meta[rundir.MetaMethod], vecs); err != nil {
		return pos, damaged(path, "method state: %v", err)
	}
	return pos, nil
}

// damaged is a fault of a lot run checkpoint's content.
func damaged(path, format string, a ...any) error {
	return &rundir.Error{Path: path, Kind: rundir.ErrUnreadable, Err: fmt.Errorf(format, a...)}
}

// ReadConfigOf reads the resolved config of a run directory. Keys its
// config.yaml leaves out (those added after the run was made) get their
// defaults. Its errors tell apart, with errors.Is, rundir.ErrNoRun (no
// config.yaml), rundir.ErrUnreadable (a damaged file or value) and
// rundir.ErrOtherVersion (keys this version does not know: a newer lot
// wrote it, or it was edited).
func ReadConfigOf(dir string) (Config, error) {
	raw, err := rundir.ReadConfig(dir)
	if err != nil {
		return Config{}, err
	}
	settings, err := parseSettings(raw, "")
	if err == nil {
		var c Config
		if c, err = resolve("", settings); err == nil {
			return c, nil
		}
	}
	kind := rundir.ErrUnreadable
	if errors.Is(err, ErrUnknownKey) {
		kind = rundir.ErrOtherVersion
	}
	return Config{}, &rundir.Error{Path: rundir.Config(dir), Kind: kind, Err: err}
}
