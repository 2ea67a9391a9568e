package train

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"os"
	"slices"
	"time"

	"github.com/lot-toolkit/lot/data"
	"github.com/lot-toolkit/lot/diagnostics"
	"github.com/lot-toolkit/lot/linalg"
	"github.com/lot-toolkit/lot/model"
	"github.com/lot-toolkit/lot/optim"
	"github.com/lot-toolkit/lot/regularize"
	"github.com/lot-toolkit/lot/rng"
	"github.com/lot-toolkit/lot/rundir"
	"github.com/lot-toolkit/lot/schedule"
)

// ErrInterrupted is returned when the context was cancelled: the run was
// checkpointed and `lot run --resume` continues it.
var ErrInterrupted = errors.New("interrupted")

// ExitInterrupted is the exit status of a `lot` process stopped by SIGINT
// or SIGTERM once its runs were checkpointed (128 + SIGINT, as shells
// report it), which the executors tell apart from a failure.
const ExitInterrupted = 130

// MetricsRow is one line of metrics.jsonl, written every LogEvery updates.
type MetricsRow struct {
	Step    int64              `json:"step"`
	Task    int                `json:"task"`
	Epoch   int                `json:"epoch"`
	Loss    Float              `json:"loss"`               // the batch's mean cross-entropy
	RegLoss Float              `json:"reg_loss,omitempty"` // the in-loss regulariser's value
	Acc     Float              `json:"acc"`                // the batch's accuracy
	LR      map[string]float64 `json:"lr"`                 // each layer's learning rate
	Diag    *diagnostics.Row   `json:"diag,omitempty"`     // --diagnostics light or full
	// Sched is each layer's controller decision (hold, cool, warm) at this
	// step, with --method scheduled; lr above is the rate before it.
	Sched map[string]schedule.Decision `json:"sched,omitempty"`
}

// TaskRow is one line of tasks.jsonl.
type TaskRow struct {
	Task      int   `json:"task"`
	OnlineAcc Float `json:"online_acc"` // mean minibatch accuracy over the task
	FinalAcc  Float `json:"final_acc"`  // one full pass over the task's data at its end
	FinalLoss Float `json:"final_loss"`
	// RhoHat is the predicted-LoT fraction ρ̂ (App. C.2): the share of the
	// task's logged steps where some layer's effective step exceeded its
	// bound. Present with --diagnostics full.
	RhoHat      *diagnostics.Num `json:"rho_hat,omitempty"`
	Steps       int64            `json:"steps"` // run-wide update count at the task's end
	WallSeconds float64          `json:"wall_seconds"`
}

// Summary is summary.json, written when a run finishes or diverges.
type Summary struct {
	ConfigHash       string  `json:"config_hash"`
	Status           string  `json:"status"` // finished or diverged
	Tasks            int     `json:"tasks"`
	Steps            int64   `json:"steps"`
	WallSeconds      float64 `json:"wall_seconds"`
	TrainSeconds     float64 `json:"train_seconds"`
	TrainStepsPerSec float64 `json:"train_steps_per_sec"`
	FinalAcc         Float   `json:"final_acc"`        // last task's final_acc
	FinalOnlineAcc   Float   `json:"final_online_acc"` // last task's online_acc
	MeanFinalAcc     Float   `json:"mean_final_acc"`
	MeanOnlineAcc    Float   `json:"mean_online_acc"`
	Backend          string  `json:"blas"`
	Threads          int     `json:"threads"`
	// Divergence is where the numbers went non-finite, with status diverged.
	Divergence *Divergence `json:"divergence,omitempty"`
	// Builds are the builds of lot that trained the run, in order.
	Builds []Build `json:"builds"`
}

// Summary statuses.
const (
	StatusFinished = "finished"
	StatusDiverged = "diverged"
)

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

// Run starts a new run in opts.Out. A directory that already holds a run
// is never written over: the same config again continues it (a finished
// run is left as it is), and anything else (another config, a config.yaml
// that cannot be read or that another version of lot wrote, run files
// without a config) is refused with an *ExistsError. A run that another
// process is training is refused with rundir.ErrInUse (rundir.Lock).
func Run(ctx context.Context, cfg Config, opts Options) (*Summary, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if err := os.MkdirAll(opts.Out, 0o755); err != nil {
		return nil, &DirError{Dir: opts.Out, Err: err}
	}
	unlock, err := rundir.Lock(opts.Out)
	if err != nil {
		return nil, err
	}
	defer unlock()
	prev, err := ReadConfigOf(opts.Out)
	switch {
	case err == nil && prev.Hash() == cfg.Hash():
		return resume(ctx, opts.Out, opts)
	case err == nil:
		return nil, &ExistsError{Dir: opts.Out, Why: errors.New("a run of another config")}
	case !errors.Is(err, rundir.ErrNoRun):
		return nil, &ExistsError{Dir: opts.Out, Why: err}
	}
	if err := rundir.Create(opts.Out, cfg.Marshal()); errors.Is(err, rundir.ErrExists) {
		return nil, &ExistsError{Dir: opts.Out, Why: errors.New("files of a run but no config.yaml")}
	} else if err != nil {
		return nil, &DirError{Dir: opts.Out, Err: err}
	}
	return execute(ctx, cfg, opts, false)
}

// ExistsError is Run's refusal of a directory that already holds a run,
// which is left as it is: it can be resumed, or moved aside
// (rundir.MoveAside). Why says what is there.
type ExistsError struct {
	Dir string
	Why error
}

func (e *ExistsError) Error() string {
	return fmt.Sprintf("%s: %v (%v)", e.Dir, rundir.ErrExists, e.Why)
}
func (e *ExistsError) Unwrap() []error { return []error{rundir.ErrExists, e.Why} }

// DirError is a run directory that cannot be made (Run) or readied for
// resuming (Resume), or whose config this version refuses; Err is the
// cause.
type DirError struct {
	Dir string
	Err error
}

func (e *DirError) Error() string { return e.Dir + ": " + e.Err.Error() }
func (e *DirError) Unwrap() error { return e.Err }

// Resume continues the run in dir from its last checkpoint. A fault of
// the run's files is a *rundir.Error naming the file, or a *DirError; a
// run that another process is training is refused with rundir.ErrInUse.
func Resume(ctx context.Context, dir string, opts Options) (*Summary, error) {
	if _, err := ReadConfigOf(dir); err != nil { // before Lock, which would leave a lock file in a directory that holds no run
		return nil, err
	}
	unlock, err := rundir.Lock(dir)
	if err != nil {
		return nil, err
	}
	defer unlock()
	return resume(ctx, dir, opts)
}

// resume is Resume under a lock the caller holds.
func resume(ctx context.Context, dir string, opts Options) (*Summary, error) {
	cfg, err := ReadConfigOf(dir)
	if err != nil {
		return nil, err
	}
	if err := rundir.Prepare(dir); err != nil {
		return nil, &DirError{Dir: dir, Err: err}
	}
	if err := cfg.Validate(); err != nil {
		return nil, &DirError{Dir: dir, Err: fmt.Errorf("%s: %w", rundir.ConfigFile, err)}
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
	method Method
	pos    Position

	metrics, tasks *rundir.Log
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
	def, _ := methodDef(cfg.Method) // validated with the config
	if r.betas, err = optim.NewBetaSchedule(cfg.AdamBetas, r.opt, cfg.Epochs, def.RebuildsOptimizer); err != nil {
		return nil, err
	}
	r.anchor = slices.Clone(r.m.Params)

	r.st = NewStepper(r.m, r.opt, nil, cfg.Batch)
	r.st.WS.SparseGrad = cfg.SparseGrad
	if r.mon, err = r.newMonitor(); err != nil {
		return nil, err
	}
	if r.method, err = newMethod(r); err != nil {
		return nil, err
	}
	regState := map[string][]float32{} // filled on resume; the regulariser needs the restored anchor first
	if resume {
		r.pos, err = loadCheckpoint(rundir.Checkpoint(opts.Out), r.m, r.opt, r.anchor, r.mon, r.method, regState)
		switch {
		case errors.Is(err, rundir.ErrNoRun):
			r.pos = Position{} // stopped before its first checkpoint: start afresh
		case err != nil:
			return nil, err
		}
		r.wallBase = r.pos.WallSeconds
	}
	if r.pos.Task < cfg.Tasks { // a finished run trains no more
		r.pos.Builds = withBuild(r.pos.Builds, r.pos.Step)
	}
	if r.reg, err = r.newReg(); err != nil {
		return nil, err
	}
	if s, ok := r.reg.(regularize.Stateful); ok && len(regState) > 0 {
		if err := s.Restore(regState); err != nil {
			return nil, damaged(rundir.Checkpoint(opts.Out), "regulariser state: %v", err)
		}
	}
	if r.mon != nil {
		r.mon.SetRegScale(regScale(r.reg))
	}
	if r.metrics, err = rundir.OpenLog(rundir.Metrics(opts.Out), r.pos.MetricsBytes); err != nil {
		return nil, err
	}
	defer r.metrics.Close()
	if r.tasks, err = rundir.OpenLog(rundir.Tasks(opts.Out), r.pos.TasksBytes); err != nil {
		return nil, err
	}
	defer r.tasks.Close()

	err = r.loop(ctx)
	var div *DivergedError
	if errors.As(err, &div) {
		// The logs up to the divergence are kept for inspection; the
		// checkpoint is not touched, so it stays the last good state.
		if err := r.metrics.Sync(); err != nil {
			return nil, err
		}
		if err := r.tasks.Sync(); err != nil {
			return nil, err
		}
		s, serr := r.writeSummary(&div.Divergence)
		if serr != nil {
			return nil, serr
		}
		return s, err
	}
	if err != nil {
		return nil, err
	}
	return r.writeSummary(nil)
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

// checkpoint saves the run's state. The logs are fsynced first, so that
// the lengths the checkpoint records are on disk whenever it is.
func (r *run) checkpoint() error {
	if err := r.metrics.Sync(); err != nil {
		return err
	}
	if err := r.tasks.Sync(); err != nil {
		return err
	}
	r.pos.MetricsBytes, r.pos.TasksBytes = r.metrics.Size(), r.tasks.Size()
	r.pos.WallSeconds = r.wall()
	return saveCheckpoint(rundir.Checkpoint(r.opts.Out), r.cfg, r.m, r.opt, r.anchor, r.mon, r.method, r.reg, r.pos)
}

func (r *run) loop(ctx context.Context) error {
	cfg := r.cfg
	B, D := cfg.Batch, r.stream.InputDim()
	lp := &loopState{B: B, D: D, nb: (r.stream.Size() + B - 1) / B, xb: make([]float32, B*D), yb: make([]int32, B),
		lrs: make(map[string]float64, len(r.opt.Groups()))}
	rep, mon, nb := r.opts.Reporter, r.mon, lp.nb
	if mon != nil {
		lp.dataGrad = make([]float32, len(r.m.Params))
	}
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
			if err := r.method.StartTask(r); err != nil {
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
					r.pos.TrainSeconds += time.Since(t0).Seconds()
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
			if err := rundir.KeepTaskCheckpoint(r.opts.Out, r.pos.Task-1); err != nil {
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
	opts.Seed = r.cfg.Seed // names the cold starts' stream
	return diagnostics.New(r.m, r.opt, r.st.WS, r.regTerm(), opts), nil
}

// logDue reports whether the step with 0-based run index step is logged:
// the K-th, 2K-th, … (phase end) or the 0th, K-th, … (phase start).
func logDue(step int64, every int, phase string) bool {
	if phase == schedule.PhaseStart {
		return step%int64(every) == 0
	}
	return (step+1)%int64(every) == 0
}

// regScale is c of the in-loss regulariser's Hessian c·I (0 for none).
func regScale(reg regularize.Regularizer) float64 {
	if reg == nil {
		return 0
	}
	return reg.HessianScale()
}

// loopState is the training loop's scratch: the batch buffers.
type loopState struct {
	B, D, nb int
	xb       []float32
	yb       []int32
	lrs      map[string]float64
	dataGrad []float32 // the data loss's gradient at measured steps, where a penalty adds its own
}

// step trains on the position's batch of the epoch's order, runs the
// method's hooks and, every LogEvery steps, measures the diagnostics and
// logs a metrics row.
func (r *run) step(lp *loopState, task *data.Task, order []int) error {
	cfg, st, mon, D := r.cfg, r.st, r.mon, lp.D
	idx := order[r.pos.Batch*lp.B : min((r.pos.Batch+1)*lp.B, task.N)]
	rows := len(idx)
	for i, j := range idx {
		copy(lp.xb[i*D:(i+1)*D], task.X[j*D:(j+1)*D])
		lp.yb[i] = task.Y[j]
	}
	st.Reg = r.reg // the method's StartTask may have re-anchored it
	logging := logDue(r.pos.Step, cfg.LogEvery, cfg.LogPhase)
	deciding := r.method.Due(r.pos.Step)
	measuring := mon != nil && (logging || deciding)
	// The controller's clock: steps completed in the run and in the task.
	// Phase start decides before the step's update, as the authors' code,
	// so the step itself does not count; phase end decides after it.
	clock := schedule.Clock{RunUpdates: r.pos.Step, TaskUpdates: int64(r.pos.Epoch*lp.nb + r.pos.Batch), TaskSteps: int64(cfg.Epochs * lp.nb)}
	if cfg.LogPhase != schedule.PhaseStart {
		clock.RunUpdates++
		clock.TaskUpdates++
	}
	st.DataGrad = nil
	if measuring && st.Reg != nil {
		st.DataGrad = lp.dataGrad
	}
	loss, regLoss, correct := st.Gradient(lp.xb[:rows*D], lp.yb[:rows])
	if d := checkLoss(r.m, loss, regLoss, r.pos.Step+1, r.pos.Task); d != nil {
		return &DivergedError{Dir: r.opts.Out, Divergence: *d}
	}
	if measuring {
		mon.BeforeAt(r.pos.Step, st.Grad, st.DataGrad) // needs the batch's pass and the pre-update weights
	}
	if !(logging && cfg.SkipLoggedUpdate) {
		st.Opt.Step(r.m.Params, st.Grad)
		if d := checkUpdate(r.m, st.Grad, r.pos.Step+1, r.pos.Task); d != nil {
			return &DivergedError{Dir: r.opts.Out, Divergence: *d}
		}
		if err := r.method.AfterUpdate(r); err != nil {
			return err
		}
	}
	epoch := r.pos.Epoch
	r.pos.Step++
	r.pos.Batch++
	acc := float64(correct) / float64(rows)
	r.pos.OnlineAccSum += acc
	r.pos.OnlineBatches++
	// The authors set the betas after optimizer.step() and after their
	// diagnostics, so these see the betas the step used.
	defer r.betas.AfterStep(epoch)
	if !measuring && !logging && !deciding {
		return nil
	}
	var row MetricsRow
	if logging {
		for _, g := range r.opt.Groups() {
			lp.lrs[g.Name] = g.LR // the rates before any decision
		}
		row = MetricsRow{Step: r.pos.Step, Task: r.pos.Task, Epoch: r.pos.Epoch,
			Loss: Float(loss), RegLoss: Float(regLoss), Acc: Float(acc), LR: lp.lrs}
	}
	if measuring {
		var each func(int, *diagnostics.Layer)
		if d, ok := r.method.(layerDeciding); ok && deciding {
			row.Sched = make(map[string]schedule.Decision, len(r.m.Groups))
			each = d.Deciding(clock, row.Sched)
		}
		row.Diag = mon.AfterEach(each)
	}
	if err := r.method.AtLog(r, &row, clock, deciding); err != nil {
		return err
	}
	if !logging {
		return nil
	}
	if err := r.metrics.WriteJSON(row); err != nil {
		return err
	}
	if r.opts.Reporter != nil {
		r.opts.Reporter.Update(&r.pos, acc)
	}
	return nil
}

// finishTask evaluates the task's data and writes its tasks.jsonl row.
func (r *run) finishTask(task *data.Task) error {
	row := TaskRow{Task: r.pos.Task, OnlineAcc: Float(r.pos.OnlineAccSum / float64(max(r.pos.OnlineBatches, 1))), Steps: r.pos.Step}
	loss, acc := Evaluate(r.m, task)
	row.FinalLoss, row.FinalAcc = Float(loss), Float(acc)
	if r.mon != nil {
		if rho := r.mon.TaskRho(); !math.IsNaN(rho) {
			row.RhoHat = (*diagnostics.Num)(&rho)
		}
	}
	row.WallSeconds = r.wall() - r.pos.TaskStartWall
	if err := r.tasks.WriteJSON(row); err != nil {
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

// writeSummary writes summary.json from tasks.jsonl: status finished, or
// diverged with the divergence when div is not nil.
func (r *run) writeSummary(div *Divergence) (*Summary, error) {
	rows, err := rundir.ReadLines[TaskRow](rundir.Tasks(r.opts.Out))
	if err != nil {
		return nil, err
	}
	s := &Summary{ConfigHash: r.cfg.Hash(), Status: StatusFinished, Tasks: len(rows), Steps: r.pos.Step, WallSeconds: r.wall(),
		TrainSeconds: r.pos.TrainSeconds, Backend: linalg.Backend(), Threads: r.cfg.Threads, Divergence: div, Builds: r.pos.Builds}
	if div != nil {
		s.Status = StatusDiverged
	}
	if s.TrainSeconds > 0 {
		s.TrainStepsPerSec = float64(s.Steps) / s.TrainSeconds
	}
	for _, row := range rows {
		s.MeanFinalAcc += row.FinalAcc / Float(len(rows))
		s.MeanOnlineAcc += row.OnlineAcc / Float(len(rows))
	}
	if n := len(rows); n > 0 {
		s.FinalAcc, s.FinalOnlineAcc = rows[n-1].FinalAcc, rows[n-1].OnlineAcc
	}
	b, err := json.MarshalIndent(s, "", "  ")
	if err != nil {
		return nil, err
	}
	return s, rundir.WriteSummary(r.opts.Out, append(b, '\n'))
}
