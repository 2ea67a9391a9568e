package diagnostics

import (
	"encoding/json"
	"fmt"
	"math"
	"strconv"
)

// state is what a checkpoint keeps of a monitor besides the power
// iteration's warm vectors: enough that a resumed run logs exactly what an
// uninterrupted one would.
type state struct {
	Windows      []windowState `json:"windows"`
	TaskLogged   int           `json:"task_logged"`
	TaskExceeded int           `json:"task_exceeded"`
	// RandStates are the sharpness solvers' random streams by solver name
	// (see powerName), for those that keep one: a solver that cold-starts
	// after a resume (its last run was not finite, say) must draw what it
	// would have drawn without the interruption. Checkpoints from before
	// this field restore with fresh streams.
	RandStates map[string][]byte `json:"rand_states,omitempty"`
}

// randStream is a solver whose random starts come from one stream that
// advances with each cold start (the Lanczos solver instead redraws from its
// seed every time, and keeps no state).
type randStream interface {
	RandState() []byte
	SetRandState([]byte) error
}

type windowState struct {
	Vals    []exactFloat `json:"vals"`
	Next, N int
	EmaMu   exactFloat `json:"ema_mu"`
	EmaVar  exactFloat `json:"ema_var"`
	EmaInit bool       `json:"ema_init"`
}

// exactFloat is a float64 that JSON carries exactly, NaN and ±Inf included
// (as the strings "NaN", "+Inf", "-Inf"): a diverged step puts a NaN λ̄ in
// the volatility window, and a plain float64 would make the state
// unmarshalable. Plain numbers, as older checkpoints hold, read as before.
type exactFloat float64

func (f exactFloat) MarshalJSON() ([]byte, error) {
	x := float64(f)
	if math.IsNaN(x) || math.IsInf(x, 0) {
		return []byte(`"` + strconv.FormatFloat(x, 'g', -1, 64) + `"`), nil
	}
	return strconv.AppendFloat(nil, x, 'g', -1, 64), nil
}

func (f *exactFloat) UnmarshalJSON(b []byte) error {
	s := string(b)
	if u, err := strconv.Unquote(s); err == nil {
		if u != "NaN" && u != "+Inf" && u != "-Inf" {
			return fmt.Errorf("%q is not a number", u)
		}
		s = u
	}
	x, err := strconv.ParseFloat(s, 64)
	*f = exactFloat(x)
	return err
}

// State returns the monitor's state as JSON and its warm-start vectors by
// name. The vectors are float32-exact (see roundWarm), so a float32
// checkpoint keeps them without loss.
func (mon *Monitor) State() (string, map[string][]float32) {
	st := state{TaskLogged: mon.taskLogged, TaskExceeded: mon.taskExceeded}
	for _, w := range mon.windows {
		vals := make([]exactFloat, len(w.vals))
		for i, v := range w.vals {
			vals[i] = exactFloat(v)
		}
		st.Windows = append(st.Windows, windowState{vals, w.next, w.n, exactFloat(w.emaMu), exactFloat(w.emaVar), w.emaInitialised})
	}
	for k, it := range mon.power {
		if r, ok := it.(randStream); ok {
			if st.RandStates == nil {
				st.RandStates = map[string][]byte{}
			}
			st.RandStates[mon.powerName(k)] = r.RandState()
		}
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

// Restore sets the state saved by State; a state that does not fit the
// monitor (a damaged or foreign checkpoint) is an error, never a panic
// later.
func (mon *Monitor) Restore(js string, vecs map[string][]float32) error {
	var st state
	if err := json.Unmarshal([]byte(js), &st); err != nil {
		return fmt.Errorf("diagnostics state: %w", err)
	}
	if len(st.Windows) != len(mon.windows) {
		return fmt.Errorf("diagnostics state: %d windows saved, the run has %d (diagnostics level changed?)", len(st.Windows), len(mon.windows))
	}
	for i, s := range st.Windows {
		w := mon.windows[i]
		if len(s.Vals) != len(w.vals) {
			return fmt.Errorf("diagnostics state: window of %d saved, the run uses %d", len(s.Vals), len(w.vals))
		}
		if s.Next < 0 || s.Next >= len(w.vals) || s.N < 0 || s.N > len(w.vals) {
			return fmt.Errorf("diagnostics state: window position %d and count %d do not fit a window of %d", s.Next, s.N, len(w.vals))
		}
		for j, v := range s.Vals {
			w.vals[j] = float64(v)
		}
		w.next, w.n, w.emaMu, w.emaVar, w.emaInitialised = s.Next, s.N, float64(s.EmaMu), float64(s.EmaVar), s.EmaInit
	}
	mon.taskLogged, mon.taskExceeded = st.TaskLogged, st.TaskExceeded
	for k, it := range mon.power {
		r, ok := it.(randStream)
		b, saved := st.RandStates[mon.powerName(k)]
		if !ok || !saved {
			continue
		}
		if err := r.SetRandState(b); err != nil {
			return fmt.Errorf("diagnostics state: %s: %w", mon.powerName(k), err)
		}
	}
	for k, it := range mon.power {
		f, ok := vecs[mon.powerName(k)]
		if !ok {
			continue // no run yet when saved
		}
		if want := mon.powerLen(k); len(f) != want {
			return fmt.Errorf("diagnostics state: warm-start vector %s has %d values, the run's has %d", mon.powerName(k), len(f), want)
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

// powerLen is the length of power iterator k's vector: its group's
// parameters, or all of them.
func (mon *Monitor) powerLen(k int) int {
	if k < len(mon.m.Groups) {
		return mon.m.Groups[k].Len
	}
	return len(mon.m.Params)
}

// roundWarm rounds a warm-start vector to float32 values: the Hessian
// operator sees float32 vectors anyway, and this makes checkpoints exact.
func roundWarm(v []float64) {
	for i, x := range v {
		v[i] = float64(float32(x))
	}
}
