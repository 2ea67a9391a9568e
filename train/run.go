package train

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"path/filepath"
	"slices"
	"time"

	"github.com/lot-toolkit/lot/data"
	"github.com/lot-toolkit/lot/diagnostics"
	"github.com/lot-toolkit/lot/linalg"
	"github.com/lot-toolkit/lot/model"
	"github.com/lot-toolkit/lot/optim"
	"github.com/lot-toolkit/lot/regularize"
	"github.com/lot-toolkit/lot/rng"
	"github.com/lot-toolkit/lot/schedule"
)

// ErrInterrupted is returned when the context was cancelled: the run was
// checkpointed and `lot run --resume` continues it.
var ErrInterrupted = errors.New("interrupted")

// MetricsRow is one line of metrics.jsonl, written every LogEvery updates.
type MetricsRow struct {
	Step    int64              `json:"step"`
	Task    int                `json:"task"`
	Epoch   int                `json:"epoch"`
	Loss    float64            `json:"loss"`               // the batch's mean cross-entropy
	RegLoss float64            `json:"reg_loss,omitempty"` // the in-loss regulariser's value
	Acc     float64            `json:"acc"`                // the batch's accuracy
	LR      map[string]float64 `json:"lr"`                 // each layer's learning rate
	Diag    *diagnostics.Row   `json:"diag,omitempty"`     // --diagnostics light or full
	// Sched is each layer's controller decision (hold, cool, warm) at this
	// step, with --method scheduled; lr above is the rate before it.
	Sched map[string]schedule.Decision `json:"sched,omitempty"`
}

// TaskRow is one line of tasks.jsonl.
type TaskRow struct {
	Task      int     `json:"task"`
	OnlineAcc float64 `json:"online_acc"` // mean minibatch accuracy over the task
	FinalAcc  float64 `json:"final_acc"`  // one full pass over the task's data at its end
	FinalLoss float64 `json:"final_loss"`
	// RhoHat is the predicted-LoT fraction ρ̂ (App. C.2): the share of the
	// task's logged steps where some layer's effective step exceeded its
	// bound. Present with --diagnostics full.
	RhoHat      *diagnostics.Num `json:"rho_hat,omitempty"`
	Steps       int64            `json:"steps"` // run-wide update count at the task's end
	WallSeconds float64          `json:"wall_seconds"`
}

// Summary is summary.json.
type Summary struct {
	ConfigHash       string  `json:"config_hash"`
	Tasks            int     `json:"tasks"`
	Steps            int64   `json:"steps"`
	WallSeconds      float64 `json:"wall_seconds"`
	TrainSeconds     float64 `json:"train_seconds"`
	TrainStepsPerSec float64 `json:"train_steps_per_sec"`
	FinalAcc         float64 `json:"final_acc"`        // last task's final_acc
	FinalOnlineAcc   float64 `json:"final_online_acc"` // last task's online_acc
	MeanFinalAcc     float64 `json:"mean_final_acc"`
	MeanOnlineAcc    float64 `json:"mean_online_acc"`
	Backend          string  `json:"blas"`
	Threads          int     `json:"threads"`
}

// Reporter receives progress; the command line shows it as a bar or as
// plain lines. A nil Reporter is allowed.
type Reporter interface {
	Start(cfg *Config, totalSteps, doneSteps int64)
	Update(pos *Position, batchAcc float64)
	TaskDone(row TaskRow)
	Finish()
}

// Options are the run's non-numerical settings.
type Options struct {
	Out             string
	Reporter        Reporter
	KeepCheckpoints bool // also keep checkpoints/task-NNN.safetensors at each task end
}

// Run starts a new run in opts.Out. It refuses a directory that already
// holds a run: resume that instead.
func Run(ctx context.Context, cfg Config, opts Options) (*Summary, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if prev, err := ReadConfigOf(opts.Out); err == nil {
		// The same run again (rerunning a command, say) continues it, and
		// a finished one is left as it is; a different run is refused.
		if prev.Hash() == cfg.Hash() {
			return Resume(ctx, opts.Out, opts)
		}
		return nil, fmt.Errorf("--out %s: already holds a different run; continue it with --resume %s, or choose another directory", opts.Out, opts.Out)
	}
	if err := os.MkdirAll(opts.Out, 0o755); err != nil {
		return nil, fmt.Errorf("--out %s: %v", opts.Out, err)
	}
	if err := os.WriteFile(filepath.Join(opts.Out, "config.yaml"), cfg.Marshal(), 0o644); err != nil {
		return nil, fmt.Errorf("--out %s: %v", opts.Out, err)
	}
	return execute(ctx, cfg, opts, false)
}

// Resume continues the run in dir from its last checkpoint.
func Resume(ctx context.Context, dir string, opts Options) (*Summary, error) {
	cfg, err := ReadConfigOf(dir)
	if err != nil {
		return nil, err
	}
	if err := cfg.Validate(); err != nil {
		return nil, fmt.Errorf("--resume %s: config.yaml: %v", dir, err)
	}
	opts.Out = dir
	return execute(ctx, cfg, opts, true)
}

// run holds one run's live state.
type run struct {
	cfg    *Config
	opts   Options
	stream data.Stream
	m      *model.MLP
	opt    optim.Optimizer
	betas  optim.BetaSchedule // adjusts Adam's betas after every step
	reg    regularize.Regularizer
	anchor []float32 // θ0 of the in-loss regulariser
	st     *Stepper
	mon    *diagnostics.Monitor // nil when diagnostics are off
	pos    Position

	metrics, tasks *countingFile
	started        time.Time
	wallBase       float64
}

func execute(ctx context.Context, cfg Config, opts Options, resume bool) (*Summary, error) {
	linalg.SetThreads(cfg.Threads)
	mn, err := data.LoadMNIST(cfg.Data)
	if err != nil {
		return nil, err
	}
	stream, err := data.NewStream(mn, data.Config{Kind: cfg.Stream, Samples: cfg.Samples, Normalize: cfg.Normalize, Relabel: cfg.Relabel, Seed: cfg.Seed})
	if err != nil {
		return nil, err
	}
	r := &run{cfg: &cfg, opts: opts, stream: stream, started: time.Now()}
	if r.m, err = model.New(cfg.ModelSpec()); err != nil {
		return nil, err
	}
	if err := r.m.Initialize(model.Init(cfg.Init), rng.New(cfg.Seed, "init", 0)); err != nil {
		return nil, err
	}
	r.opt = NewOptimizer(&cfg, r.m)
	// Under reset-model the authors rebuild a single-group Adam each task,
	// so their ramp reaches every layer.
	if r.betas, err = optim.NewBetaSchedule(cfg.AdamBetas, r.opt, cfg.Epochs, cfg.Method == "reset-model"); err != nil {
		return nil, err
	}
	r.anchor = slices.Clone(r.m.Params)

	r.st = NewStepper(r.m, r.opt, nil, cfg.Batch)
	if r.mon, err = r.newMonitor(); err != nil {
		return nil, err
	}
	ckpt := filepath.Join(opts.Out, checkpointName)
	if _, statErr := os.Stat(ckpt); resume && os.IsNotExist(statErr) {
		resume = false // stopped before its first checkpoint: start afresh
	}
	if resume {
		if r.pos, err = loadCheckpoint(ckpt, r.m, r.opt, r.anchor, r.mon); err != nil {
			return nil, fmt.Errorf("--resume %s: %v", opts.Out, err)
		}
		r.wallBase = r.pos.WallSeconds
	}
	if r.reg, err = regularize.New(cfg.Reg, cfg.RegStrength, r.m, r.anchor); err != nil {
		return nil, err
	}
	if r.mon != nil {
		r.mon.SetRegScale(regScale(r.reg))
	}
	if r.metrics, err = openLog(filepath.Join(opts.Out, "metrics.jsonl"), r.pos.MetricsBytes); err != nil {
		return nil, err
	}
	defer r.metrics.Close()
	if r.tasks, err = openLog(filepath.Join(opts.Out, "tasks.jsonl"), r.pos.TasksBytes); err != nil {
		return nil, err
	}
	defer r.tasks.Close()

	if err := r.loop(ctx); err != nil {
		return nil, err
	}
	return r.writeSummary()
}

// NewOptimizer builds the configured optimiser with one group per module;
// --reg l2 becomes coupled weight decay in every group.
func NewOptimizer(cfg *Config, m *model.MLP) optim.Optimizer {
	wd := 0.0
	if cfg.Reg == "l2" {
		wd = cfg.RegStrength
	}
	groups := make([]optim.Group, len(m.Groups))
	for i, g := range m.Groups {
		groups[i] = optim.Group{Name: g.Name, Offset: g.Offset, Len: g.Len, LR: cfg.LR, WeightDecay: wd}
	}
	if cfg.Optimizer == "sgd" {
		return optim.NewSGD(len(m.Params), groups, cfg.Momentum)
	}
	return optim.NewAdam(len(m.Params), groups)
}

func (r *run) wall() float64 { return r.wallBase + time.Since(r.started).Seconds() }

func (r *run) checkpoint() error {
	if err := r.metrics.Flush(); err != nil {
		return err
	}
	if err := r.tasks.Flush(); err != nil {
		return err
	}
	r.pos.MetricsBytes, r.pos.TasksBytes = r.metrics.n, r.tasks.n
	r.pos.WallSeconds = r.wall()
	return saveCheckpoint(filepath.Join(r.opts.Out, checkpointName), r.cfg, r.m, r.opt, r.anchor, r.mon, r.pos)
}

// startTask applies the method's task-boundary action.
func (r *run) startTask() error {
	if r.pos.Task == 0 {
		return nil
	}
	switch r.cfg.Method {
	case "reset-optimizer":
		r.opt.Reset()
	case "reset-model":
		if err := r.m.Initialize(model.Init(r.cfg.Init), rng.New(r.cfg.Seed, "init", r.pos.Task)); err != nil {
			return err
		}
		r.opt.Reset()
		copy(r.anchor, r.m.Params)
		var err error
		if r.reg, err = regularize.New(r.cfg.Reg, r.cfg.RegStrength, r.m, r.anchor); err != nil {
			return err
		}
	}
	return nil
}

func (r *run) loop(ctx context.Context) error {
	cfg := r.cfg
	B, D := cfg.Batch, r.stream.InputDim()
	lp := &loopState{B: B, D: D, nb: (r.stream.Size() + B - 1) / B, xb: make([]float32, B*D), yb: make([]int32, B),
		lrs: make(map[string]float64, len(r.opt.Groups()))}
	if cfg.Method == "scheduled" {
		signals, _ := cfg.Diagnostics.Options() // validated with the config
		lp.ctrl = schedule.New(r.opt, cfg.Schedule.Options(), signals)
	}
	rep, mon, nb := r.opts.Reporter, r.mon, lp.nb
	if rep != nil {
		rep.Start(cfg, int64(cfg.Tasks)*int64(cfg.Epochs)*int64(nb), r.pos.Step)
		defer rep.Finish()
	}
	for r.pos.Task < cfg.Tasks {
		task, err := r.stream.Task(r.pos.Task)
		if err != nil {
			return err
		}
		if r.pos.Epoch == 0 && r.pos.Batch == 0 && r.pos.OnlineBatches == 0 {
			if err := r.startTask(); err != nil {
				return err
			}
			if mon != nil {
				mon.StartTask()
				mon.SetRegScale(regScale(r.reg))
			}
			r.pos.TaskStartWall = r.wall()
		}
		for r.pos.Epoch < cfg.Epochs {
			order := rng.New(cfg.Seed, "shuffle", r.pos.Task, r.pos.Epoch).Perm(task.N)
			t0 := time.Now()
			for r.pos.Batch < nb {
				select {
				case <-ctx.Done():
					r.pos.TrainSeconds += time.Since(t0).Seconds()
					if err := r.checkpoint(); err != nil {
						return err
					}
					return ErrInterrupted
				default:
				}
				if err := r.step(lp, task, order); err != nil {
					return err
				}
			}
			r.pos.TrainSeconds += time.Since(t0).Seconds()
			r.pos.Batch = 0
			r.pos.Epoch++
		}
		if err := r.finishTask(task); err != nil {
			return err
		}
		r.pos.Task++
		r.pos.Epoch, r.pos.Batch, r.pos.OnlineAccSum, r.pos.OnlineBatches = 0, 0, 0, 0
		if err := r.checkpoint(); err != nil {
			return err
		}
		if r.opts.KeepCheckpoints {
			if err := copyFile(filepath.Join(r.opts.Out, checkpointName),
				filepath.Join(r.opts.Out, "checkpoints", fmt.Sprintf("task-%03d.safetensors", r.pos.Task-1))); err != nil {
				return err
			}
		}
	}
	return nil
}

// newMonitor builds the diagnostics monitor over the stepper's training
// pass; nil when diagnostics are off.
func (r *run) newMonitor() (*diagnostics.Monitor, error) {
	opts, err := r.cfg.Diagnostics.Options()
	if err != nil || opts.Level == diagnostics.Off {
		return nil, err
	}
	return diagnostics.New(r.m, r.opt, r.st.WS, 0, opts), nil
}

// regScale is c of the in-loss regulariser's Hessian c·I (0 for none).
func regScale(reg regularize.Regularizer) float64 {
	if reg == nil {
		return 0
	}
	return reg.HessianScale()
}

// loopState is the training loop's scratch: batch buffers and the
// controller.
type loopState struct {
	B, D, nb int
	xb       []float32
	yb       []int32
	lrs      map[string]float64
	ctrl     *schedule.Controller
}

// step trains on the position's batch of the epoch's order and, every
// LogEvery steps, measures the diagnostics, lets the controller decide and
// logs a metrics row.
func (r *run) step(lp *loopState, task *data.Task, order []int) error {
	cfg, st, mon, D := r.cfg, r.st, r.mon, lp.D
	idx := order[r.pos.Batch*lp.B : min((r.pos.Batch+1)*lp.B, task.N)]
	rows := len(idx)
	for i, j := range idx {
		copy(lp.xb[i*D:(i+1)*D], task.X[j*D:(j+1)*D])
		lp.yb[i] = task.Y[j]
	}
	st.Reg = r.reg // startTask may have re-anchored it
	logging := (r.pos.Step+1)%int64(cfg.LogEvery) == 0
	loss, regLoss, correct := st.Gradient(lp.xb[:rows*D], lp.yb[:rows])
	if logging && mon != nil {
		mon.Before(st.Grad) // needs the batch's pass and the pre-update weights
	}
	st.Opt.Step(r.m.Params, st.Grad)
	r.betas.AfterStep(r.pos.Epoch)
	r.pos.Step++
	r.pos.Batch++
	acc := float64(correct) / float64(rows)
	r.pos.OnlineAccSum += acc
	r.pos.OnlineBatches++
	if !logging {
		return nil
	}
	for _, g := range r.opt.Groups() {
		lp.lrs[g.Name] = g.LR
	}
	row := MetricsRow{Step: r.pos.Step, Task: r.pos.Task, Epoch: r.pos.Epoch,
		Loss: loss, RegLoss: regLoss, Acc: acc, LR: lp.lrs}
	if mon != nil {
		row.Diag = mon.After()
	}
	if lp.ctrl != nil {
		row.Sched = lp.ctrl.Step(row.Diag, r.pos.Epoch*lp.nb+r.pos.Batch, cfg.Epochs*lp.nb)
	}
	if err := r.metrics.writeJSON(row); err != nil {
		return err
	}
	if r.opts.Reporter != nil {
		r.opts.Reporter.Update(&r.pos, acc)
	}
	return nil
}

// finishTask evaluates the task's data and writes its tasks.jsonl row.
func (r *run) finishTask(task *data.Task) error {
	row := TaskRow{Task: r.pos.Task, OnlineAcc: r.pos.OnlineAccSum / float64(max(r.pos.OnlineBatches, 1)), Steps: r.pos.Step}
	row.FinalLoss, row.FinalAcc = Evaluate(r.m, task)
	if r.mon != nil {
		if rho := r.mon.TaskRho(); !math.IsNaN(rho) {
			row.RhoHat = (*diagnostics.Num)(&rho)
		}
	}
	row.WallSeconds = r.wall() - r.pos.TaskStartWall
	if err := r.tasks.writeJSON(row); err != nil {
		return err
	}
	if r.opts.Reporter != nil {
		r.opts.Reporter.TaskDone(row)
	}
	return nil
}

// Evaluate makes one pass over a task's data in evaluation mode (BatchNorm
// uses running statistics) and returns the mean loss and the accuracy.
func Evaluate(m *model.MLP, task *data.Task) (loss, acc float64) {
	const chunk = 1024
	ws := m.NewWorkspace(chunk)
	var correct int
	for start := 0; start < task.N; start += chunk {
		rows := min(chunk, task.N-start)
		m.Forward(ws, task.X[start*task.D:(start+rows)*task.D], rows, false)
		l, c := m.CrossEntropy(ws, task.Y[start:start+rows])
		loss += l * float64(rows)
		correct += c
	}
	return loss / float64(task.N), float64(correct) / float64(task.N)
}

func (r *run) writeSummary() (*Summary, error) {
	var rows []TaskRow
	f, err := os.Open(filepath.Join(r.opts.Out, "tasks.jsonl"))
	if err != nil {
		return nil, err
	}
	defer f.Close()
	dec := json.NewDecoder(f)
	for {
		var row TaskRow
		if err := dec.Decode(&row); err == io.EOF {
			break
		} else if err != nil {
			return nil, fmt.Errorf("%s: %v", f.Name(), err)
		}
		rows = append(rows, row)
	}
	s := &Summary{ConfigHash: r.cfg.Hash(), Tasks: len(rows), Steps: r.pos.Step, WallSeconds: r.wall(),
		TrainSeconds: r.pos.TrainSeconds, Backend: linalg.Backend(), Threads: r.cfg.Threads}
	if s.TrainSeconds > 0 {
		s.TrainStepsPerSec = float64(s.Steps) / s.TrainSeconds
	}
	for _, row := range rows {
		s.MeanFinalAcc += row.FinalAcc / float64(len(rows))
		s.MeanOnlineAcc += row.OnlineAcc / float64(len(rows))
	}
	if n := len(rows); n > 0 {
		s.FinalAcc, s.FinalOnlineAcc = rows[n-1].FinalAcc, rows[n-1].OnlineAcc
	}
	b, _ := json.MarshalIndent(s, "", "  ")
	return s, os.WriteFile(filepath.Join(r.opts.Out, "summary.json"), append(b, '\n'), 0o644)
}

// countingFile appends JSON lines and counts the bytes the file holds.
type countingFile struct {
	f *os.File
	w *bufio.Writer
	n int64
}

func openLog(path string, keep int64) (*countingFile, error) {
	if err := truncate(path, keep); err != nil {
		return nil, err
	}
	f, err := os.OpenFile(path, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return nil, err
	}
	st, err := f.Stat()
	if err != nil {
		return nil, err
	}
	return &countingFile{f: f, w: bufio.NewWriterSize(f, 1<<16), n: st.Size()}, nil
}

func (c *countingFile) writeJSON(v any) error {
	b, err := json.Marshal(v)
	if err != nil {
		return err
	}
	b = append(b, '\n')
	c.n += int64(len(b))
	_, err = c.w.Write(b)
	return err
}

func (c *countingFile) Flush() error { return c.w.Flush() }

func (c *countingFile) Close() error {
	c.w.Flush()
	return c.f.Close()
}

func copyFile(src, dst string) error {
	if err := os.MkdirAll(filepath.Dir(dst), 0o755); err != nil {
		return err
	}
	b, err := os.ReadFile(src)
	if err != nil {
		return err
	}
	return os.WriteFile(dst, b, 0o644)
}
