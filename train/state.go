package train

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/lot-toolkit/lot/checkpoint"
	"github.com/lot-toolkit/lot/diagnostics"
	"github.com/lot-toolkit/lot/model"
	"github.com/lot-toolkit/lot/optim"
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
}

// Done reports whether every task has been trained.
func (p Position) Done(cfg *Config) bool { return p.Task >= cfg.Tasks }

const (
	checkpointName  = "checkpoint.safetensors"
	metaFormat      = "lot.format"
	metaConfig      = "lot.config"
	metaSpec        = "lot.spec"
	metaPosition    = "lot.position"
	formatVersion   = "1"
	optimizerPrefix = "optimizer."
	anchorPrefix    = "anchor."
	diagPrefix      = "diagnostics.power."
	metaDiagnostics = "lot.diagnostics"
)

// SpecMeta is the architecture as stored in checkpoint metadata, so that
// tools can rebuild the model without the config.
type SpecMeta struct {
	Input      int    `json:"input"`
	Hidden     []int  `json:"hidden"`
	Classes    int    `json:"classes"`
	Activation string `json:"activation"`
	BatchNorm  bool   `json:"batchnorm"`
}

// saveCheckpoint writes weights (PyTorch names), optimiser state, the
// regulariser's anchor and the position.
func saveCheckpoint(path string, cfg *Config, m *model.MLP, opt optim.Optimizer, anchor []float32, mon *diagnostics.Monitor, pos Position) error {
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
		slice(optimizerPrefix+name+".", buf)
	}
	if anchor != nil {
		slice(anchorPrefix, anchor)
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
	specJSON, _ := json.Marshal(SpecMeta{spec.Input, spec.Hidden, spec.Classes, spec.Activation.String(), spec.BatchNorm})
	meta := map[string]string{
		metaFormat: formatVersion, metaConfig: string(cfg.Marshal()),
		metaSpec: string(specJSON), metaPosition: string(posJSON),
	}
	if mon != nil {
		js, vecs := mon.State()
		meta[metaDiagnostics] = js
		for name, v := range vecs {
			ts = append(ts, checkpoint.Tensor{Name: diagPrefix + name, Shape: []int{len(v)}, Data: v})
		}
	}
	return checkpoint.Write(path, ts, meta)
}

// loadCheckpoint restores weights, optimiser state and anchor in place and
// returns the saved position.
func loadCheckpoint(path string, m *model.MLP, opt optim.Optimizer, anchor []float32, mon *diagnostics.Monitor) (Position, error) {
	var pos Position
	f, err := checkpoint.Read(path)
	if err != nil {
		return pos, err
	}
	if f.Meta[metaFormat] != formatVersion {
		return pos, fmt.Errorf("%s: not a lot run checkpoint (format %q)", path, f.Meta[metaFormat])
	}
	if err := json.Unmarshal([]byte(f.Meta[metaPosition]), &pos); err != nil {
		return pos, fmt.Errorf("%s: unreadable position: %v", path, err)
	}
	restore := func(name string, dst []float32) error {
		t, ok := f.Get(name)
		if !ok {
			return fmt.Errorf("%s: tensor %s missing", path, name)
		}
		if len(t.Data) != len(dst) {
			return fmt.Errorf("%s: tensor %s has %d values, the model needs %d", path, name, len(t.Data), len(dst))
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
		if err := perTensor(optimizerPrefix+name+".", buf); err != nil {
			return pos, err
		}
	}
	if anchor != nil {
		if err := perTensor(anchorPrefix, anchor); err != nil {
			return pos, err
		}
	}
	if len(pos.GroupLR) != len(opt.Groups()) {
		return pos, fmt.Errorf("%s: %d parameter groups saved, the model has %d", path, len(pos.GroupLR), len(opt.Groups()))
	}
	for i := range pos.GroupLR {
		opt.SetLR(i, pos.GroupLR[i])
		opt.Groups()[i].Steps = pos.GroupSteps[i]
	}
	if a, ok := opt.(*optim.Adam); ok && pos.GroupBetas != nil {
		if len(pos.GroupBetas) != len(opt.Groups()) {
			return pos, fmt.Errorf("%s: %d groups' betas saved, the model has %d groups", path, len(pos.GroupBetas), len(opt.Groups()))
		}
		for i, b := range pos.GroupBetas {
			a.SetBetas(i, b[0], b[1])
		}
	}
	pos.GroupLR, pos.GroupSteps, pos.GroupBetas = nil, nil, nil
	if mon != nil {
		if js, ok := f.Meta[metaDiagnostics]; ok {
			vecs := map[string][]float32{}
			for _, t := range f.Tensors {
				if name, ok := strings.CutPrefix(t.Name, diagPrefix); ok {
					vecs[name] = t.Data
				}
			}
			if err := mon.Restore(js, vecs); err != nil {
				return pos, fmt.Errorf("%s: %v", path, err)
			}
		}
	}
	return pos, nil
}

// truncate cuts a log file back to n bytes (what the checkpoint covers).
func truncate(path string, n int64) error {
	if err := os.Truncate(path, n); err != nil && !os.IsNotExist(err) {
		return err
	}
	return nil
}

// ErrNoRun is wrapped by the error about a directory without config.yaml.
var ErrNoRun = errors.New("not a run directory (no config.yaml)")

// ReadConfigOf reads the resolved config of a run directory. Keys its
// config.yaml leaves out (those added after the run was made) get their
// defaults.
func ReadConfigOf(dir string) (Config, error) {
	p := filepath.Join(dir, "config.yaml")
	if _, err := os.Stat(p); err != nil {
		return Config{}, fmt.Errorf("%s: %w", dir, ErrNoRun)
	}
	settings, err := ReadSettings(p)
	if err != nil {
		return Config{}, err
	}
	return resolve("", settings)
}
