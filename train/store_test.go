package train

import (
	"context"
	"encoding/json"
	"errors"
	"math"
	"os"
	"slices"
	"strings"
	"testing"

	"github.com/lot-toolkit/lot/checkpoint"
	"github.com/lot-toolkit/lot/model"
	"github.com/lot-toolkit/lot/rundir"
)

func readSummary(t *testing.T, dir string) Summary {
	t.Helper()
	b, err := os.ReadFile(rundir.Summary(dir))
	if err != nil {
		t.Fatal(err)
	}
	var s Summary
	if err := json.Unmarshal(b, &s); err != nil {
		t.Fatal(err)
	}
	return s
}

// TestRunNeverRetrainsOverAnUnreadableRun: a finished run whose config.yaml
// carries a key this version does not know (as one written by a newer lot
// would) is refused, not retrained from scratch over its logs.
func TestRunNeverRetrainsOverAnUnreadableRun(t *testing.T) {
	cfg := small()
	cfg.Tasks = 1
	dir := t.TempDir()
	mustRun(t, cfg, dir)
	if s := readSummary(t, dir); s.Status != StatusFinished || s.Divergence != nil {
		t.Fatalf("finished run: status %q, divergence %v", s.Status, s.Divergence)
	}
	before := map[string][]byte{}
	for _, p := range []string{rundir.Metrics(dir), rundir.Tasks(dir), rundir.Checkpoint(dir), rundir.Summary(dir)} {
		before[p], _ = os.ReadFile(p)
	}
	f, _ := os.OpenFile(rundir.Config(dir), os.O_APPEND|os.O_WRONLY, 0)
	f.WriteString("extra_key: 1\n")
	f.Close()
	_, err := Run(context.Background(), cfg, Options{Out: dir})
	if !errors.Is(err, rundir.ErrExists) || !errors.Is(err, rundir.ErrOtherVersion) {
		t.Fatalf("want ErrExists and ErrOtherVersion, got %v", err)
	}
	var ee *ExistsError
	if !errors.As(err, &ee) || ee.Dir != dir {
		t.Fatalf("want an ExistsError for %s, got %#v", dir, err)
	}
	for _, w := range []string{dir, "already holds a run", "extra_key"} {
		if !strings.Contains(err.Error(), w) {
			t.Errorf("message %q does not mention %s", err, w)
		}
	}
	for p, b := range before {
		if now, _ := os.ReadFile(p); string(now) != string(b) {
			t.Errorf("%s was overwritten", p)
		}
	}
	// A config.yaml that is not even YAML is unreadable, and refused too.
	os.WriteFile(rundir.Config(dir), []byte("tasks: [oops\n"), 0o644)
	if _, err := Run(context.Background(), cfg, Options{Out: dir}); !errors.Is(err, rundir.ErrExists) || !errors.Is(err, rundir.ErrUnreadable) {
		t.Fatalf("want ErrExists and ErrUnreadable, got %v", err)
	}
	// Another config is refused as before.
	other := t.TempDir()
	mustRun(t, cfg, other)
	cfg.Seed++
	if _, err := Run(context.Background(), cfg, Options{Out: other}); !errors.Is(err, rundir.ErrExists) {
		t.Fatalf("another config: want ErrExists, got %v", err)
	}
}

// TestResumeRefusesALogShorterThanItsCheckpoint: resuming never pads a log
// with NUL bytes; a log that lost data is an error naming it.
func TestResumeRefusesALogShorterThanItsCheckpoint(t *testing.T) {
	cfg := small()
	dir := t.TempDir()
	stopRunAt(t, cfg, dir, 20)
	b, _ := os.ReadFile(rundir.Metrics(dir))
	os.WriteFile(rundir.Metrics(dir), b[:len(b)/2], 0o644)
	_, err := Resume(context.Background(), dir, Options{})
	if !errors.Is(err, rundir.ErrUnreadable) || !strings.Contains(err.Error(), rundir.Metrics(dir)) {
		t.Fatalf("want ErrUnreadable naming metrics.jsonl, got %v", err)
	}
	if now, _ := os.ReadFile(rundir.Metrics(dir)); len(now) != len(b)/2 {
		t.Fatalf("metrics.jsonl went from %d to %d bytes", len(b)/2, len(now))
	}
}

// TestDivergenceStopsAtOnceWithItsPlace: SGD at lr 1e8 stops with a
// DivergedError naming step, task, layer and value, a diverged summary,
// and logs holding only finite rows before it.
func TestDivergenceStopsAtOnceWithItsPlace(t *testing.T) {
	cfg := small()
	cfg.Optimizer, cfg.LR, cfg.LogEvery = "sgd", 1e8, 1
	dir := t.TempDir()
	s, err := Run(context.Background(), cfg, Options{Out: dir})
	var de *DivergedError
	if !errors.As(err, &de) || !errors.Is(err, ErrDiverged) {
		t.Fatalf("want a DivergedError, got %v", err)
	}
	if de.What != "loss" || de.Layer != "fc2" || de.Task != 0 || de.Step < 2 {
		t.Fatalf("divergence %+v", de.Divergence)
	}
	for _, w := range []string{"step", "task 0", "fc2", "loss"} {
		if !strings.Contains(err.Error(), w) || strings.Contains(err.Error(), "\n") {
			t.Errorf("message %q: want one line mentioning %q", err, w)
		}
	}
	got := readSummary(t, dir)
	if s == nil || got.Status != StatusDiverged || got.Divergence == nil || *got.Divergence != de.Divergence || got.Steps != de.Step-1 {
		t.Fatalf("summary %+v, want status diverged with %+v", got, de.Divergence)
	}
	rows := readRows(t, rundir.Metrics(dir))
	if int64(len(rows)) != de.Step-1 {
		t.Fatalf("%d metrics rows, want one per step before the divergence (%d)", len(rows), de.Step-1)
	}
	for _, r := range rows {
		if l, ok := r["loss"].(float64); !ok || math.IsInf(l, 0) {
			t.Fatalf("row %v: loss not finite", r)
		}
	}
}

// TestDivergenceKeepsTheLastGoodCheckpoint: a run resumed from a checkpoint
// whose weights make the loss overflow diverges at its first step and
// leaves that checkpoint as it was.
func TestDivergenceKeepsTheLastGoodCheckpoint(t *testing.T) {
	cfg := small()
	dir := t.TempDir()
	stopRunAt(t, cfg, dir, 20)
	f, err := checkpoint.Read(rundir.Checkpoint(dir))
	if err != nil {
		t.Fatal(err)
	}
	for _, ts := range f.Tensors {
		if ts.Name == "fc2.weight" {
			for i := range ts.Data {
				ts.Data[i] = 1e38
			}
		}
	}
	if err := checkpoint.Write(rundir.Checkpoint(dir), f.Tensors, f.Meta); err != nil {
		t.Fatal(err)
	}
	good, _ := os.ReadFile(rundir.Checkpoint(dir))
	var pos Position
	json.Unmarshal([]byte(f.Meta[rundir.MetaPosition]), &pos)
	_, err = Resume(context.Background(), dir, Options{})
	var de *DivergedError
	if !errors.As(err, &de) || de.Step != pos.Step+1 || de.Task != pos.Task {
		t.Fatalf("want divergence at step %d task %d, got %v", pos.Step+1, pos.Task, err)
	}
	if now, _ := os.ReadFile(rundir.Checkpoint(dir)); string(now) != string(good) {
		t.Fatal("the checkpoint was overwritten by the diverged state")
	}
}

func TestCheckUpdateNamesTheCulprit(t *testing.T) {
	relu, _ := model.ParseActivation("relu")
	m, err := model.New(model.Spec{Input: 3, Hidden: []int{4}, Classes: 2, Activation: relu})
	if err != nil {
		t.Fatal(err)
	}
	grad := make([]float32, len(m.Params))
	if d := checkUpdate(m, grad, 7, 2); d != nil {
		t.Fatalf("all finite: got %+v", d)
	}
	fc1, fc2 := m.Groups[0], m.Groups[len(m.Groups)-1]
	m.Params[fc2.Offset+1] = float32(math.NaN()) // what a NaN gradient leaves
	grad[fc2.Offset+1] = float32(math.NaN())
	if d := checkUpdate(m, grad, 7, 2); d == nil || *d != (Divergence{Step: 7, Task: 2, Layer: "fc2", What: "gradient"}) {
		t.Fatalf("NaN gradient in fc2: got %+v", d)
	}
	grad[fc2.Offset+1], m.Params[fc2.Offset+1] = 0, 0
	m.Params[fc1.Offset+fc1.Len-1] = float32(math.Inf(-1)) // an overflowing update
	if d := checkUpdate(m, grad, 7, 2); d == nil || *d != (Divergence{Step: 7, Task: 2, Layer: "fc1", What: "parameter"}) {
		t.Fatalf("-Inf parameter in fc1: got %+v", d)
	}
	if d := checkLoss(m, 1, math.NaN(), 3, 0); d == nil || d.What != "loss" || d.Layer != "fc2" {
		t.Fatalf("NaN regulariser loss: got %+v", d)
	}
	if d := checkLoss(m, 1, 0, 3, 0); d != nil {
		t.Fatalf("finite loss: got %+v", d)
	}
}

// TestAllFiniteAgreesWithANaiveLoop at every length, alignment and position.
func TestAllFiniteAgreesWithANaiveLoop(t *testing.T) {
	naive := func(x []float32) bool {
		for _, v := range x {
			if math.IsNaN(float64(v)) || math.IsInf(float64(v), 0) {
				return false
			}
		}
		return true
	}
	bad := []float32{float32(math.NaN()), float32(math.Inf(1)), float32(math.Inf(-1)), math.Float32frombits(0x7fc00001), math.Float32frombits(0xff800001)}
	good := []float32{0, -0, math.MaxFloat32, -math.MaxFloat32, math.SmallestNonzeroFloat32, 1, -3.5}
	buf := make([]float32, 40)
	for start := 0; start < 3; start++ {
		for n := 0; n+start <= len(buf); n++ {
			x := buf[start : start+n]
			for i := range x {
				x[i] = good[i%len(good)]
			}
			if !allFinite(x) || !allFiniteGo(x) {
				t.Fatalf("start %d n %d: finite values reported non-finite", start, n)
			}
			for i := range x {
				for _, b := range bad {
					x[i] = b
					if allFinite(x) != naive(x) || allFiniteGo(x) != naive(x) {
						t.Fatalf("start %d n %d: %v at %d missed", start, n, b, i)
					}
				}
				x[i] = good[i%len(good)]
			}
		}
	}
}

// TestFloatIsJSONSafeAndKeepsFloat64Bytes: non-finite values are null;
// finite ones are written byte for byte as encoding/json writes a float64.
func TestFloatIsJSONSafeAndKeepsFloat64Bytes(t *testing.T) {
	for _, v := range []float64{0, 1, 0.1, 5e-5, 1.234e-7, 2.5e21, -17.25, 0.9999999} {
		want, _ := json.Marshal(v)
		got, err := json.Marshal(Float(v))
		if err != nil || string(got) != string(want) {
			t.Errorf("%v: got %s, want %s", v, got, want)
		}
	}
	for _, v := range []float64{math.NaN(), math.Inf(1), math.Inf(-1)} {
		b, err := json.Marshal(MetricsRow{Loss: Float(v)})
		if err != nil || !strings.Contains(string(b), `"loss":null`) {
			t.Errorf("%v: got %s, %v", v, b, err)
		}
	}
	var back MetricsRow
	if err := json.Unmarshal([]byte(`{"loss":null,"acc":0.5}`), &back); err != nil || !math.IsNaN(float64(back.Loss)) || back.Acc != 0.5 {
		t.Errorf("decode: %+v %v", back, err)
	}
}

// stepBench is the paper's step (784-256-10 ReLU, Adam, batch 256) with or
// without the per-step divergence checks, to show they cost about nothing:
// go test ./train -run '^$' -bench StepDivergence
func stepBench(b *testing.B, checked bool) {
	relu, _ := model.ParseActivation("relu")
	m, err := model.New(model.Spec{Input: 784, Hidden: []int{256}, Classes: 10, Activation: relu})
	if err != nil {
		b.Fatal(err)
	}
	for i := range m.Params {
		m.Params[i] = float32(i%13-6) * 1e-3
	}
	cfg := Default()
	st := NewStepper(m, NewOptimizer(&cfg, m), nil, 256)
	x, y := make([]float32, 256*784), make([]int32, 256)
	for i := range x {
		x[i] = float32(i%251) / 251
	}
	for i := range y {
		y[i] = int32(i % 10)
	}
	for b.Loop() {
		loss, regLoss, _ := st.Step(x, y)
		if checked && (checkLoss(m, loss, regLoss, 1, 0) != nil || checkUpdate(m, st.Grad, 1, 0) != nil) {
			b.Fatal("diverged")
		}
	}
}

func BenchmarkStepDivergenceUnchecked(b *testing.B) { stepBench(b, false) }
func BenchmarkStepDivergenceChecked(b *testing.B)   { stepBench(b, true) }

func BenchmarkAllFiniteParams203k(b *testing.B) {
	x := make([]float32, 784*256+256+256*10+10)
	for b.Loop() {
		if !allFinite(x) {
			b.Fatal("not finite")
		}
	}
}

func BenchmarkAllFiniteGoParams203k(b *testing.B) {
	x := make([]float32, 784*256+256+256*10+10)
	for b.Loop() {
		if !allFiniteGo(x) {
			b.Fatal("not finite")
		}
	}
}

// TestRunInUseIsRefused: while another process trains a run (its lock
// held), neither Resume nor Run with its config touches it: both are
// refused with rundir.ErrInUse and every file stays as it was. Once the
// lock is free, the run resumes and finishes.
func TestRunInUseIsRefused(t *testing.T) {
	cfg := small()
	dir := t.TempDir()
	stopRunAt(t, cfg, dir, 7)
	before := map[string][]byte{}
	for _, p := range []string{rundir.Config(dir), rundir.Metrics(dir), rundir.Tasks(dir), rundir.Checkpoint(dir)} {
		before[p], _ = os.ReadFile(p)
	}
	unlock, err := rundir.Lock(dir) // as the other process would
	if err != nil {
		t.Fatal(err)
	}
	if _, err := Resume(context.Background(), dir, Options{}); !errors.Is(err, rundir.ErrInUse) || !strings.Contains(err.Error(), dir) {
		t.Fatalf("Resume of a run in use: %v, want ErrInUse naming %s", err, dir)
	}
	if _, err := Run(context.Background(), cfg, Options{Out: dir}); !errors.Is(err, rundir.ErrInUse) {
		t.Fatalf("Run on a run in use: %v, want ErrInUse", err)
	}
	for p, b := range before {
		if now, _ := os.ReadFile(p); string(now) != string(b) {
			t.Errorf("%s changed while the run was in use", p)
		}
	}
	unlock()
	if _, err := Resume(context.Background(), dir, Options{}); err != nil {
		t.Fatalf("Resume once free: %v", err)
	}
	if s := readSummary(t, dir); s.Status != StatusFinished {
		t.Fatalf("status %q after resuming", s.Status)
	}
}

// TestSummaryListsTheBuildsThatTrainedTheRun: a run started by one build
// and resumed by another lists both, the second from the checkpoint's
// step; resuming with the same build again, or a finished run, adds
// nothing.
func TestSummaryListsTheBuildsThatTrainedTheRun(t *testing.T) {
	defer func(f func() Build) { currentBuild = f }(currentBuild)
	build := func(rev string) func() Build {
		return func() Build { return Build{Revision: rev, Go: "go-test"} }
	}
	cfg := small()
	dir := t.TempDir()
	currentBuild = build("aaa")
	stopRunAt(t, cfg, dir, 7)
	f, err := rundir.ReadCheckpoint(rundir.Checkpoint(dir))
	if err != nil {
		t.Fatal(err)
	}
	var ck Position
	if err := json.Unmarshal([]byte(f.Meta[rundir.MetaPosition]), &ck); err != nil {
		t.Fatal(err)
	}
	if want := []Build{{Revision: "aaa", Go: "go-test"}}; !slices.Equal(ck.Builds, want) {
		t.Fatalf("checkpoint's builds %+v, want %+v", ck.Builds, want)
	}
	currentBuild = build("bbb")
	stopResumeAt(t, dir, 29)
	s, err := Resume(context.Background(), dir, Options{}) // bbb again
	if err != nil {
		t.Fatal(err)
	}
	want := []Build{{Revision: "aaa", Go: "go-test"}, {Revision: "bbb", Go: "go-test", FromStep: ck.Step}}
	if ck.Step == 0 || !slices.Equal(s.Builds, want) {
		t.Fatalf("builds %+v, want %+v", s.Builds, want)
	}
	currentBuild = build("ccc")
	if s, err = Resume(context.Background(), dir, Options{}); err != nil || !slices.Equal(s.Builds, want) {
		t.Fatalf("resuming the finished run: builds %+v (%v), want %+v", s.Builds, err, want)
	}
	if got := readSummary(t, dir); !slices.Equal(got.Builds, want) {
		t.Fatalf("summary.json: builds %+v, want %+v", got.Builds, want)
	}
}
