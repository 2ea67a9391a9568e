package diagnostics

import (
	"encoding/json"
	"fmt"
)

// state is what a checkpoint keeps of a monitor besides the power
// iteration's warm vectors: enough that a resumed run logs exactly what an
// uninterrupted one would.
type state struct {
	Windows      []windowState `json:"windows"`
	TaskLogged   int           `json:"task_logged"`
	TaskExceeded int           `json:"task_exceeded"`
}

type windowState struct {
	Vals    []float64 `json:"vals"`
	Next, N int
	EmaMu   float64 `json:"ema_mu"`
	EmaVar  float64 `json:"ema_var"`
	EmaInit bool    `json:"ema_init"`
}

// State returns the monitor's state as JSON and its warm-start vectors by
// name. The vectors are float32-exact (see roundWarm), so a float32
// checkpoint keeps them without loss.
func (mon *Monitor) State() (string, map[string][]float32) {
	st := state{TaskLogged: mon.taskLogged, TaskExceeded: mon.taskExceeded}
	for _, w := range mon.windows {
		st.Windows = append(st.Windows, windowState{w.vals, w.next, w.n, w.emaMu, w.emaVar, w.emaInitialised})
	}
	b, _ := json.Marshal(st)
	vecs := map[string][]float32{}
	for k, it := range mon.power {
		if mon.opts.SharpnessStart == StartCold {
			break // every start is redrawn from its named stream
		}
		if v := it.Warm(); v != nil {
			f := make([]float32, len(v))
			for i, x := range v {
				f[i] = float32(x)
			}
			vecs[mon.powerName(k)] = f
		}
	}
	return string(b), vecs
}

// Restore sets the state saved by State.
func (mon *Monitor) Restore(js string, vecs map[string][]float32) error {
	var st state
	if err := json.Unmarshal([]byte(js), &st); err != nil {
		return fmt.Errorf("diagnostics state: %v", err)
	}
	if len(st.Windows) != len(mon.windows) {
		return fmt.Errorf("diagnostics state: %d windows saved, the run has %d (diagnostics level changed?)", len(st.Windows), len(mon.windows))
	}
	for i, s := range st.Windows {
		w := mon.windows[i]
		if len(s.Vals) != len(w.vals) {
			return fmt.Errorf("diagnostics state: window of %d saved, the run uses %d", len(s.Vals), len(w.vals))
		}
		copy(w.vals, s.Vals)
		w.next, w.n, w.emaMu, w.emaVar, w.emaInitialised = s.Next, s.N, s.EmaMu, s.EmaVar, s.EmaInit
	}
	mon.taskLogged, mon.taskExceeded = st.TaskLogged, st.TaskExceeded
	for k, it := range mon.power {
		f, ok := vecs[mon.powerName(k)]
		if !ok {
			continue // no run yet when saved
		}
		v := make([]float64, len(f))
		for i, x := range f {
			v[i] = float64(x)
		}
		it.SetWarm(v)
	}
	return nil
}

// powerName names power iterator k's vector: its group, or "all".
func (mon *Monitor) powerName(k int) string {
	if k < len(mon.m.Groups) {
		return mon.m.Groups[k].Name
	}
	return "all"
}

// roundWarm rounds a warm-start vector to float32 values: the Hessian
// operator sees float32 vectors anyway, and this makes checkpoints exact.
func roundWarm(v []float64) {
	for i, x := range v {
		v[i] = float64(float32(x))
	}
}
