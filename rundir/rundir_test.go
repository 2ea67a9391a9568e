package rundir

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/lot-toolkit/lot/checkpoint"
)

func TestReadConfigTellsMissingFromUnreadable(t *testing.T) {
	dir := t.TempDir()
	if _, err := ReadConfig(filepath.Join(dir, "absent")); !errors.Is(err, ErrNoRun) || errors.Is(err, ErrUnreadable) {
		t.Fatalf("missing directory: want ErrNoRun only, got %v", err)
	}
	// A config.yaml that is a directory cannot be read.
	bad := filepath.Join(dir, "bad")
	if err := os.MkdirAll(filepath.Join(bad, ConfigFile), 0o755); err != nil {
		t.Fatal(err)
	}
	if _, err := ReadConfig(bad); !errors.Is(err, ErrUnreadable) || errors.Is(err, ErrNoRun) {
		t.Fatalf("unreadable config: want ErrUnreadable only, got %v", err)
	}
	good := filepath.Join(dir, "good")
	if err := Create(good, []byte("tasks: 3\n")); err != nil {
		t.Fatal(err)
	}
	if b, err := ReadConfig(good); err != nil || string(b) != "tasks: 3\n" {
		t.Fatalf("got %q, %v", b, err)
	}
}

func TestCreateNeverOverwritesAndMoveAsideKeepsEverything(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "run")
	if err := Create(dir, []byte("a: 1\n")); err != nil {
		t.Fatal(err)
	}
	if err := Create(dir, []byte("a: 2\n")); !errors.Is(err, ErrExists) {
		t.Fatalf("want ErrExists, got %v", err)
	}
	// Any run file marks a run, not only config.yaml.
	other := filepath.Join(filepath.Dir(dir), "other")
	os.MkdirAll(other, 0o755)
	os.WriteFile(Metrics(other), []byte("{}\n"), 0o644)
	if err := Create(other, []byte("a: 1\n")); !errors.Is(err, ErrExists) {
		t.Fatalf("metrics.jsonl without config: want ErrExists, got %v", err)
	}
	for n, want := range []string{dir + ".old-1", dir + ".old-2"} {
		moved, err := MoveAside(dir)
		if err != nil || moved != want {
			t.Fatalf("move %d: got %q, %v; want %q", n, moved, err, want)
		}
		if b, err := ReadConfig(moved); err != nil || len(b) == 0 {
			t.Fatalf("%s lost its config: %v", moved, err)
		}
		if err := Create(dir, []byte("a: 3\n")); err != nil {
			t.Fatal(err)
		}
	}
	// An empty directory holds no run and stays where it is.
	empty := filepath.Join(t.TempDir(), "empty")
	os.MkdirAll(empty, 0o755)
	if moved, err := MoveAside(empty); moved != "" || err != nil {
		t.Fatalf("empty directory: got %q, %v", moved, err)
	}
}

func TestOpenLogCutsOnlyWhatFollowsTheCheckpointAndNeverPads(t *testing.T) {
	dir := t.TempDir()
	p := filepath.Join(dir, MetricsFile)
	kept := "{\"step\":1}\n{\"step\":2}\n"
	os.WriteFile(p, []byte(kept+"{\"step\":3}\n{\"ste"), 0o644) // a torn last line
	l, err := OpenLog(p, int64(len(kept)))
	if err != nil {
		t.Fatal(err)
	}
	if err := l.WriteJSON(map[string]int{"step": 3}); err != nil {
		t.Fatal(err)
	}
	if err := l.Sync(); err != nil {
		t.Fatal(err)
	}
	l.Close()
	want := kept + "{\"step\":3}\n"
	if b, _ := os.ReadFile(p); string(b) != want {
		t.Fatalf("got %q, want %q", b, want)
	}
	if l.Size() != int64(len(want)) {
		t.Fatalf("Size %d, want %d", l.Size(), len(want))
	}
	// Shorter than the checkpoint says: an error naming the file, and the
	// file left as it is (no NUL padding).
	short := filepath.Join(dir, TasksFile)
	os.WriteFile(short, []byte("{}\n"), 0o644)
	if _, err := OpenLog(short, 100); !errors.Is(err, ErrUnreadable) || !strings.Contains(err.Error(), short) {
		t.Fatalf("short log: want ErrUnreadable naming %s, got %v", short, err)
	}
	if b, _ := os.ReadFile(short); string(b) != "{}\n" {
		t.Fatalf("short log changed to %q", b)
	}
	// A recorded length that is not a line's end does not belong to the log.
	if _, err := OpenLog(p, 5); !errors.Is(err, ErrUnreadable) {
		t.Fatalf("mid-line length: want ErrUnreadable, got %v", err)
	}
	// A new log starts empty.
	l, err = OpenLog(filepath.Join(dir, "new.jsonl"), 0)
	if err != nil || l.Size() != 0 {
		t.Fatalf("new log: %v", err)
	}
	l.Close()
}

func TestReadCheckpointKinds(t *testing.T) {
	dir := t.TempDir()
	if _, err := ReadCheckpoint(Checkpoint(dir)); !errors.Is(err, ErrNoRun) {
		t.Fatalf("missing: want ErrNoRun, got %v", err)
	}
	ts := []checkpoint.Tensor{{Name: "fc1.weight", Shape: []int{1, 2}, Data: []float32{1, 2}},
		{Name: "optimizer.m.fc1.weight", Shape: []int{1, 2}, Data: []float32{3, 4}}}
	if err := WriteCheckpoint(Checkpoint(dir), ts, map[string]string{MetaSpec: `{"input":2,"hidden":[],"classes":1,"activation":"relu"}`}); err != nil {
		t.Fatal(err)
	}
	f, err := ReadCheckpoint(Checkpoint(dir))
	if err != nil {
		t.Fatal(err)
	}
	sm, model, err := ModelState(Checkpoint(dir), f)
	if err != nil || sm.Input != 2 || len(model) != 1 || model[0].Name != "fc1.weight" {
		t.Fatalf("ModelState: %+v %v %v", sm, model, err)
	}
	newer := filepath.Join(dir, "newer.safetensors")
	if err := checkpoint.Write(newer, ts, map[string]string{MetaFormat: "2"}); err != nil {
		t.Fatal(err)
	}
	if _, err := ReadCheckpoint(newer); !errors.Is(err, ErrOtherVersion) {
		t.Fatalf("format 2: want ErrOtherVersion, got %v", err)
	}
	torn := filepath.Join(dir, "torn.safetensors")
	b, _ := os.ReadFile(Checkpoint(dir))
	os.WriteFile(torn, b[:len(b)/2], 0o644)
	// The file is named once, with checkpoint's own wording of the fault.
	if _, err := ReadCheckpoint(torn); !errors.Is(err, ErrUnreadable) || strings.Count(err.Error(), torn) != 1 ||
		!strings.HasPrefix(err.Error(), torn+": unreadable: not a valid safetensors file") {
		t.Fatalf("torn: want ErrUnreadable naming the file once, got %v", err)
	}
}

func TestPrepareRemovesTempFilesOfACrashedWrite(t *testing.T) {
	dir := t.TempDir()
	os.MkdirAll(filepath.Join(dir, CheckpointsDir), 0o755)
	left := []string{filepath.Join(dir, ".tmp-checkpoint.safetensors-123"), filepath.Join(dir, CheckpointsDir, ".tmp-task-000.safetensors-9")}
	for _, p := range left {
		os.WriteFile(p, []byte("partial"), 0o644)
	}
	os.WriteFile(Summary(dir), []byte("{}"), 0o644)
	if err := Prepare(dir); err != nil {
		t.Fatal(err)
	}
	for _, p := range left {
		if _, err := os.Stat(p); err == nil {
			t.Errorf("%s left behind", p)
		}
	}
	if b, _ := os.ReadFile(Summary(dir)); !bytes.Equal(b, []byte("{}")) {
		t.Error("Prepare touched summary.json")
	}
}
