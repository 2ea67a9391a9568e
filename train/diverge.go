package train

import (
	"errors"
	"fmt"
	"math"
	"unsafe"

	"github.com/lot-toolkit/lot/model"
)

// ErrDiverged is returned (as a *DivergedError) when a loss, gradient or
// parameter went non-finite: the run stopped, its last checkpoint is the
// last good state and summary.json says "status": "diverged".
var ErrDiverged = errors.New("diverged")

// Divergence says where a run's numbers first went non-finite.
type Divergence struct {
	Step  int64  `json:"step"`  // the update that produced it, numbered as metrics.jsonl's step
	Task  int    `json:"task"`  // 0-based, as tasks.jsonl
	Layer string `json:"layer"` // parameter group (fc1, bn1, ...); the loss's is the output layer
	What  string `json:"what"`  // loss, gradient or parameter
}

// DivergedError is a run's divergence, in the directory Dir.
type DivergedError struct {
	Dir string
	Divergence
}

func (e *DivergedError) Error() string {
	return fmt.Sprintf("%s: diverged: non-finite %s in %s at step %d (task %d); summary.json records it, and the checkpoint, if any, is the last good state",
		e.Dir, e.What, e.Layer, e.Step, e.Task)
}

func (e *DivergedError) Unwrap() error { return ErrDiverged }

// checkLoss returns the divergence of a non-finite loss, else nil.
func checkLoss(m *model.MLP, loss, regLoss float64, step int64, task int) *Divergence {
	if isFinite(loss) && isFinite(regLoss) {
		return nil
	}
	// The loss is computed from the output layer's logits.
	return &Divergence{Step: step, Task: task, Layer: m.Groups[len(m.Groups)-1].Name, What: "loss"}
}

// checkUpdate returns the divergence of a step whose update left a
// non-finite parameter, else nil. A non-finite gradient always shows in
// the parameters after the update (SGD and Adam carry it into them), so one
// scan of the parameters a step covers both; only when it fires are the
// groups searched, the gradient first, to name the culprit.
func checkUpdate(m *model.MLP, grad []float32, step int64, task int) *Divergence {
	if allFinite(m.Params) {
		return nil
	}
	for _, what := range []struct {
		name string
		buf  []float32
	}{{"gradient", grad}, {"parameter", m.Params}} {
		for _, g := range m.Groups {
			if !allFinite(what.buf[g.Offset : g.Offset+g.Len]) {
				return &Divergence{Step: step, Task: task, Layer: g.Name, What: what.name}
			}
		}
	}
	return nil // unreachable: some group holds the non-finite parameter
}

func isFinite(f float64) bool { return !math.IsNaN(f) && !math.IsInf(f, 0) }

// allFiniteGo reports whether every value of x is finite, in Go: the
// fallback of allFinite without cgo. A float32 is NaN or ±Inf exactly when
// its exponent bits are all ones; adding one to that exponent field then
// carries into the bit above it. Two values are tested per uint64 word with
// integer operations only and the results OR-ed, with no branch per value.
func allFiniteGo(x []float32) bool {
	const (
		exp   = 0x7f800000_7f800000
		one   = 0x00800000_00800000
		carry = 0x80000000_80000000
	)
	var a0, a1, a2, a3 uint64
	if len(x) > 0 && uintptr(unsafe.Pointer(&x[0]))%8 != 0 {
		// The word view needs 8-byte alignment: test a leading value alone.
		a0 = uint64((math.Float32bits(x[0])&0x7f800000)+0x00800000) & 0x80000000
		x = x[1:]
	}
	n := len(x) / 2
	var words []uint64
	if n > 0 {
		words = unsafe.Slice((*uint64)(unsafe.Pointer(&x[0])), n)
	}
	i := 0
	for ; i+4 <= n; i += 4 {
		a0 |= (words[i] & exp) + one
		a1 |= (words[i+1] & exp) + one
		a2 |= (words[i+2] & exp) + one
		a3 |= (words[i+3] & exp) + one
	}
	for ; i < n; i++ {
		a0 |= (words[i] & exp) + one
	}
	if len(x)%2 == 1 {
		a1 |= uint64((math.Float32bits(x[len(x)-1])&0x7f800000)+0x00800000) & 0x80000000
	}
	return (a0|a1|a2|a3)&carry == 0
}
