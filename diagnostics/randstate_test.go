package diagnostics

import (
	"encoding/json"
	"math"
	"math/rand/v2"
	"testing"

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
	mon := New(m, optim.NewAdam(len(m.Params), groups), ws, 0,
		Options{Level: Full, Beta: 1, Solver: solver, PowerTol: 1e-2, PowerMaxIter: 30, FisherSamples: 10, GlobalSharpness: true})
	return &coldStartRig{m: m, ws: ws, mon: mon, grad: make([]float32, len(m.Params))}
}

// step measures batch `seed`; nan puts a NaN in its first input.
func (r *coldStartRig) step(seed uint64, nan bool) []byte {
	const rows = 16
	rng := rand.New(rand.NewPCG(seed, 7))
	x := make([]float32, rows*40)
	for i := range x {
		x[i] = float32(rng.NormFloat64())
	}
	if nan {
		x[0] = float32(math.NaN())
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

// TestResumedMonitorColdStartsLikeUninterrupted: after a batch that makes
// every sharpness solve NaN (so the solvers lose their warm starts), a
// monitor restored from a checkpoint cold-starts from the same random draws
// as the uninterrupted one: its next rows are identical, for both solvers.
// Without the random streams in the state, the restored solvers would draw
// their first start again.
func TestResumedMonitorColdStartsLikeUninterrupted(t *testing.T) {
	for _, solver := range []string{"lanczos", "power"} {
		t.Run(solver, func(t *testing.T) {
			whole := newColdStartRig(t, solver)
			whole.step(1, false) // cold start: the first draws
			whole.step(2, true)  // NaN: warm starts dropped
			js, vecs := whole.mon.State()
			if len(vecs) != 0 {
				t.Fatalf("warm vectors %v after a NaN step", vecs)
			}
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

// restoreFreshStreams puts back the solvers' streams as New made them (what
// a checkpoint without them restored).
func (mon *Monitor) restoreFreshStreams(t *testing.T) {
	t.Helper()
	again := New(mon.m, mon.opt, mon.ws, mon.regScale, mon.opts)
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
