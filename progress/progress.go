// Package progress owns how a run shows its progress: a live bar on a
// terminal, plain periodic lines when the output is a file or a pipe.
package progress

import (
	"fmt"
	"io"
	"os"
	"time"

	"github.com/mattn/go-isatty"
	"github.com/schollz/progressbar/v3"

	"github.com/lot-toolkit/lot/train"
)

// New returns a terminal bar when w is a terminal and plain lines otherwise.
func New(w *os.File) train.Reporter {
	if isatty.IsTerminal(w.Fd()) {
		return &bar{w: w}
	}
	return &lines{w: w, every: 10 * time.Second}
}

type bar struct {
	w     io.Writer
	cfg   *train.Config
	b     *progressbar.ProgressBar
	total int64
}

func (p *bar) Start(cfg *train.Config, total, done int64) {
	p.cfg, p.total = cfg, total
	p.b = progressbar.NewOptions64(total,
		progressbar.OptionSetWriter(p.w),
		progressbar.OptionShowCount(),
		progressbar.OptionSetPredictTime(true),
		progressbar.OptionShowIts(),
		progressbar.OptionSetItsString("steps"),
		progressbar.OptionThrottle(200*time.Millisecond),
		progressbar.OptionFullWidth(),
	)
	p.b.Set64(done)
}

func (p *bar) Update(pos *train.Position, acc float64) {
	p.b.Describe(fmt.Sprintf("task %d/%d  acc %.3f", pos.Task+1, p.cfg.Tasks, acc))
	p.b.Set64(pos.Step)
}

func (p *bar) TaskDone(row train.TaskRow) {
	p.b.Clear()
	fmt.Fprintln(p.w, taskLine(row))
}

func (p *bar) Finish() {
	p.b.Finish()
	fmt.Fprintln(p.w)
}

// lines prints one line per task and a progress line at most every `every`.
type lines struct {
	w     io.Writer
	cfg   *train.Config
	every time.Duration
	last  time.Time
	start time.Time
	total int64
	done0 int64
}

func (p *lines) Start(cfg *train.Config, total, done int64) {
	p.cfg, p.total, p.done0 = cfg, total, done
	p.start, p.last = time.Now(), time.Now()
	fmt.Fprintf(p.w, "lot: %d tasks, %d steps in all, %d done\n", cfg.Tasks, total, done)
}

func (p *lines) Update(pos *train.Position, acc float64) {
	if time.Since(p.last) < p.every {
		return
	}
	p.last = time.Now()
	eta := "?"
	if n := pos.Step - p.done0; n > 0 {
		rem := time.Duration(float64(time.Since(p.start)) / float64(n) * float64(p.total-pos.Step))
		eta = rem.Round(time.Second).String()
	}
	fmt.Fprintf(p.w, "task %d/%d  step %d/%d  acc %.3f  eta %s\n", pos.Task+1, p.cfg.Tasks, pos.Step, p.total, acc, eta)
}

func (p *lines) TaskDone(row train.TaskRow) {
	fmt.Fprintln(p.w, taskLine(row))
}

func (p *lines) Finish() {}

func taskLine(row train.TaskRow) string {
	return fmt.Sprintf("task %3d  online_acc %.4f  final_acc %.4f  final_loss %.4f  %.1fs",
		row.Task+1, row.OnlineAcc, row.FinalAcc, row.FinalLoss, row.WallSeconds)
}
