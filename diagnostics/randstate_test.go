package diagnostics

import (
	"encoding/json"
	"math"
	"math/rand/v2"
	"strings"
	"testing"

	"github.com/lot-toolkit/lot/curvature"
	"github.com/lot-toolkit/lot/model"
	"github.com/lot-toolkit/lot/optim"
)

// coldStartRig is a monitor on a net whose first layer is wider than the
// batch (so the Lanczos setting uses the first-layer solver), with a
// training pass it can measure.
type coldStartRig struct {
	m    *model.MLP
	ws   *model.Workspace
	mon  *Monitor
	grad []float32
}

func newColdStartRig(t *testing.T, solver string) *coldStartRig {
	t.Helper()
	m, err := model.New(model.Spec{Input: 40, Hidden: []int{8}, Classes: 3})
	if err != nil {
		t.Fatal(err)
	}
	if err := m.Initialize(model.InitTorch, rand.New(rand.NewPCG(5, 5))); err != nil {
		t.Fatal(err)
	}
	groups := make([]optim.Group, len(m.Groups))
	for i, g := range m.Groups {
		groups[i] = optim.Group{Name: g.Name, Offset: g.Offset, Len: g.Len, LR: 1e-2}
	}
	ws := m.NewWorkspace(16)
	// A loose tolerance, so that the result depends on the start.
	mon := New(m, optim.NewAdam(len(m.Params), groups), ws, nil,
		filled(Options{Level: Full, Beta: 1, Solver: solver, PowerTol: 1e-2, PowerMaxIter: 30, FisherSamples: 10, GlobalSharpness: true}))
	return &coldStartRig{m: m, ws: ws, mon: mon, grad: make([]float32, len(m.Params))}
}

// step measures batch `seed`; nan makes its inputs NaN (all of them: BLAS
// back ends differ in whether a single NaN reaches every product).
func (r *coldStartRig) step(seed uint64, nan bool) []byte {
	const rows = 16
	rng := rand.New(rand.NewPCG(seed, 7))
	x := make([]float32, rows*40)
	for i := range x {
		x[i] = float32(rng.NormFloat64())
	}
	if nan {
		for i := range x {
			x[i] = float32(math.NaN())
		}
	}
	y := make([]int32, rows)
	for i := range y {
		y[i] = int32(rng.IntN(3))
	}
	r.m.Forward(r.ws, x, rows, true)
	r.m.CrossEntropy(r.ws, y)
	r.m.Backward(r.ws, r.grad)
	r.mon.Before(r.grad)
	b, _ := json.Marshal(r.mon.After())
	return b
}

// TestResumedMonitorColdStartsLikeUninterrupted: after the solvers lose
// their warm starts (a NaN batch does that with OpenBLAS; gonum's BLAS skips
// zero coefficients and can keep them finite, so the test also drops them
// by hand), a monitor restored from a checkpoint cold-starts from the same
// random draws as the uninterrupted one: its next rows are identical, for
// both solvers. Without the random streams in the state, the restored
// solvers would draw their first start again.
func TestResumedMonitorColdStartsLikeUninterrupted(t *testing.T) {
	for _, solver := range []string{"lanczos", "power"} {
		t.Run(solver, func(t *testing.T) {
			whole := newColdStartRig(t, solver)
			whole.step(1, false) // cold start: the first draws
			whole.step(2, true)  // NaN: warm starts dropped, NaN in the windows
			whole.mon.dropWarmStarts()
			js, vecs := whole.mon.State()
			resumed := newColdStartRig(t, solver)
			if err := resumed.mon.Restore(js, vecs); err != nil {
				t.Fatal(err)
			}
			fresh := newColdStartRig(t, solver) // a monitor that never drew
			if err := fresh.mon.Restore(js, vecs); err != nil {
				t.Fatal(err)
			}
			fresh.mon.restoreFreshStreams(t)
			for s := uint64(3); s <= 5; s++ {
				a, b, c := whole.step(s, false), resumed.step(s, false), fresh.step(s, false)
				if string(a) != string(b) {
					t.Fatalf("step %d differs after resume:\n%s\n%s", s, a, b)
				}
				if s == 3 && string(a) == string(c) {
					t.Fatalf("step 3: fresh random streams gave the same row; the test does not see the streams")
				}
			}
		})
	}
}

// dropWarmStarts makes the solvers that draw from a stream cold-start at
// their next run, as a non-finite run does.
func (mon *Monitor) dropWarmStarts() {
	for _, it := range mon.power {
		switch s := it.(type) {
		case *curvature.PowerIterator:
			s.Reset()
		case *firstLayerSolver:
			s.warm = false
		}
	}
}

// TestStateCarriesNonFiniteWindowValues: a NaN or infinite λ̄ in a
// volatility window survives State and Restore bit for bit (plain JSON
// floats cannot carry it, and the whole state was lost).
func TestStateCarriesNonFiniteWindowValues(t *testing.T) {
	r := newColdStartRig(t, "power")
	w := r.mon.windows[0]
	for _, x := range []float64{1.5, math.NaN(), math.Inf(1), math.Inf(-1), 0.1} {
		w.push(x)
	}
	js, vecs := r.mon.State()
	back := newColdStartRig(t, "power")
	if err := back.mon.Restore(js, vecs); err != nil {
		t.Fatal(err)
	}
	got := back.mon.windows[0]
	for i, x := range w.vals {
		if math.Float64bits(got.vals[i]) != math.Float64bits(x) && !(math.IsNaN(x) && math.IsNaN(got.vals[i])) {
			t.Fatalf("window value %d: %v restored as %v", i, x, got.vals[i])
		}
	}
	if got.next != w.next || got.n != w.n || !(math.IsNaN(got.emaMu) && math.IsNaN(w.emaMu)) {
		t.Fatalf("window position or EMA not restored: %+v vs %+v", got, w)
	}
}

// restoreFreshStreams puts back the solvers' streams as New made them (what
// a checkpoint without them restored).
func (mon *Monitor) restoreFreshStreams(t *testing.T) {
	t.Helper()
	again := New(mon.m, mon.opt, mon.ws, mon.term, mon.opts)
	for k, it := range again.power {
		if r, ok := it.(randStream); ok {
			if err := mon.power[k].(randStream).SetRandState(r.RandState()); err != nil {
				t.Fatal(err)
			}
		}
	}
}

func TestRestoreRejectsBadRandState(t *testing.T) {
	r := newColdStartRig(t, "power")
	js, vecs := r.mon.State()
	var st state
	if err := json.Unmarshal([]byte(js), &st); err != nil {
		t.Fatal(err)
	}
	st.RandStates["fc1"] = []byte("not a pcg")
	b, _ := json.Marshal(st)
	if err := newColdStartRig(t, "power").mon.Restore(string(b), vecs); err == nil {
		t.Fatal("a corrupt random state was accepted")
	}
}

// TestRestoreRejectsDamagedState: a window position or count outside the
// window, or a warm-start vector of another length, is refused by Restore
// (they made the resumed run panic at its next logged step).
func TestRestoreRejectsDamagedState(t *testing.T) {
	r := newColdStartRig(t, "power")
	r.mon.windows[0].push(1.5)
	js, vecs := r.mon.State()
	W := len(r.mon.windows[0].vals)
	for _, c := range []struct {
		name string
		edit func(*state)
	}{
		{"next past the end", func(st *state) { st.Windows[0].Next = W }},
		{"negative next", func(st *state) { st.Windows[0].Next = -1 }},
		{"count past the end", func(st *state) { st.Windows[0].N = W + 1 }},
		{"negative count", func(st *state) { st.Windows[0].N = -1 }},
	} {
		var st state
		if err := json.Unmarshal([]byte(js), &st); err != nil {
			t.Fatal(err)
		}
		c.edit(&st)
		b, _ := json.Marshal(st)
		if err := newColdStartRig(t, "power").mon.Restore(string(b), vecs); err == nil || !strings.Contains(err.Error(), "window position") {
			t.Errorf("%s: got %v", c.name, err)
		}
	}
	short := map[string][]float32{"fc1": make([]float32, 3)}
	if err := newColdStartRig(t, "power").mon.Restore(js, short); err == nil || !strings.Contains(err.Error(), "warm-start vector fc1 has 3 values") {
		t.Errorf("short warm vector: got %v", err)
	}
}
