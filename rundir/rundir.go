// Package rundir owns a run directory on disk: the names of its files, the
// bytes of config.yaml (parsing them is package train's), the checkpoint
// layout (checkpoint.safetensors, checkpoints/task-NNN.safetensors and the
// metadata keys and tensor prefixes inside them), and the logs
// (metrics.jsonl, tasks.jsonl, summary.json): written by Log, read back
// by LogIndex as columns by dotted path.
//
// Every fault is one error that names the file, and its kind can be told
// apart with errors.Is: ErrNoRun (nothing there), ErrUnreadable (there but
// damaged or not readable), ErrOtherVersion (written by another version of
// lot), ErrExists (a run is there and would be overwritten) and ErrInUse
// (another process is training it: see Lock).
//
// Whole files are replaced atomically and durably (package atomicfile); the
// logs are appended and fsynced at each checkpoint, and a checkpoint records
// how many bytes of each log it covers, so that a resumed run cuts what was
// written after it and never pads a log.
package rundir

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	"github.com/lot-toolkit/lot/internal/atomicfile"
)

// The files of a run directory.
const (
	ConfigFile     = "config.yaml"
	MetricsFile    = "metrics.jsonl"
	TasksFile      = "tasks.jsonl"
	SummaryFile    = "summary.json"
	CheckpointFile = "checkpoint.safetensors"
	CheckpointsDir = "checkpoints" // per-task copies, when kept
	// LogFile is the output of the `lot run` processes that lot reproduce
	// and lot sweep start (their progress lines and errors), appended to
	// by each attempt; it does not make a directory hold a run.
	LogFile = "lot.log"
	// LockFile is what a live run holds locked (Lock); left behind, it
	// holds nothing and makes no run.
	LockFile = "lock"
)

// runFiles are the files whose presence makes a directory hold a run.
var runFiles = []string{ConfigFile, MetricsFile, TasksFile, SummaryFile, CheckpointFile, CheckpointsDir}

// Kinds of fault, for errors.Is.
var (
	ErrNoRun        = errors.New("not a run directory")
	ErrUnreadable   = errors.New("unreadable")
	ErrOtherVersion = errors.New("written by another version of lot")
	ErrExists       = errors.New("already holds a run")
	ErrInUse        = errors.New("in use by another lot process")
)

// Error is a fault of one file (or directory) of a run; Kind is one of the
// Err* sentinels and Err the cause, if any.
type Error struct {
	Path string
	Kind error
	Err  error
}

func (e *Error) Error() string {
	if e.Err == nil {
		return fmt.Sprintf("%s: %v", e.Path, e.Kind)
	}
	return fmt.Sprintf("%s: %v: %v", e.Path, e.Kind, e.Err)
}

func (e *Error) Unwrap() []error {
	if e.Err == nil {
		return []error{e.Kind}
	}
	return []error{e.Kind, e.Err}
}

// Config returns the path of dir's config.yaml, and so on for the others.
func Config(dir string) string     { return filepath.Join(dir, ConfigFile) }
func Metrics(dir string) string    { return filepath.Join(dir, MetricsFile) }
func Tasks(dir string) string      { return filepath.Join(dir, TasksFile) }
func Summary(dir string) string    { return filepath.Join(dir, SummaryFile) }
func Checkpoint(dir string) string { return filepath.Join(dir, CheckpointFile) }

// RunLog is the path of a run's process log, LogFile.
func RunLog(dir string) string { return filepath.Join(dir, LogFile) }

func lockPath(dir string) string { return filepath.Join(dir, LockFile) }

// TaskCheckpoint is the path of the kept checkpoint of a task's end.
func TaskCheckpoint(dir string, task int) string {
	return filepath.Join(dir, CheckpointsDir, fmt.Sprintf("task-%03d.safetensors", task))
}

// ReadConfig returns the bytes of dir's config.yaml: ErrNoRun when there is
// none, ErrUnreadable when it cannot be read.
func ReadConfig(dir string) ([]byte, error) {
	p := Config(dir)
	b, err := os.ReadFile(p)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return nil, &Error{Path: dir, Kind: ErrNoRun, Err: errors.New("no " + ConfigFile)}
	case err != nil:
		return nil, &Error{Path: p, Kind: ErrUnreadable, Err: err}
	}
	return b, nil
}

// Holds reports whether dir holds (part of) a run: any of its files.
func Holds(dir string) (bool, error) {
	for _, name := range runFiles {
		_, err := os.Lstat(filepath.Join(dir, name))
		if err == nil {
			return true, nil
		}
		if !errors.Is(err, fs.ErrNotExist) {
			return false, &Error{Path: dir, Kind: ErrUnreadable, Err: err}
		}
	}
	return false, nil
}

// Create makes dir a new run directory holding config. It refuses, with
// ErrExists, a directory that already holds a run: nothing is overwritten.
func Create(dir string, config []byte) error {
	if held, err := Holds(dir); err != nil {
		return err
	} else if held {
		return &Error{Path: dir, Kind: ErrExists}
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	if err := atomicfile.Write(Config(dir), config); err != nil {
		return fmt.Errorf("%s: %w", Config(dir), err)
	}
	// The directory's own entry in its parent must be durable too.
	return atomicfile.SyncDir(filepath.Dir(filepath.Clean(dir)))
}

// MoveAside renames a directory holding a run to the first free DIR.old-N
// (N = 1, 2, ...) and returns that name; nothing is deleted. A directory
// that holds no run is left alone and "" returned, and one whose run a
// process is training is refused with ErrInUse.
func MoveAside(dir string) (string, error) {
	held, err := Holds(dir)
	if err != nil || !held {
		return "", err
	}
	if busy, err := InUse(dir); err != nil {
		return "", err
	} else if busy {
		return "", &Error{Path: dir, Kind: ErrInUse, Err: holder(dir)}
	}
	dir = filepath.Clean(dir)
	for n := 1; ; n++ {
		to := fmt.Sprintf("%s.old-%d", dir, n)
		if _, err := os.Lstat(to); err == nil {
			continue
		} else if !errors.Is(err, fs.ErrNotExist) {
			return "", err
		}
		if err := os.Rename(dir, to); err != nil {
			return "", err
		}
		return to, atomicfile.SyncDir(filepath.Dir(dir))
	}
}

// Prepare readies dir for resuming: temporary files left by a write that
// a crash interrupted are removed.
func Prepare(dir string) error {
	for _, d := range []string{dir, filepath.Join(dir, CheckpointsDir)} {
		if err := atomicfile.RemoveTemps(d); err != nil && !errors.Is(err, fs.ErrNotExist) {
			return err
		}
	}
	return nil
}

// WriteSummary replaces summary.json atomically.
func WriteSummary(dir string, b []byte) error {
	if err := atomicfile.Write(Summary(dir), b); err != nil {
		return fmt.Errorf("%s: %w", Summary(dir), err)
	}
	return nil
}

// KeepTaskCheckpoint copies the current checkpoint to the kept checkpoint
// of the task's end, atomically.
func KeepTaskCheckpoint(dir string, task int) error {
	dst := TaskCheckpoint(dir, task)
	if err := os.MkdirAll(filepath.Dir(dst), 0o755); err != nil {
		return err
	}
	b, err := os.ReadFile(Checkpoint(dir))
	if err != nil {
		return err
	}
	if err := atomicfile.Write(dst, b); err != nil {
		return fmt.Errorf("%s: %w", dst, err)
	}
	return nil
}

// holder says which process holds dir's lock, as its lock file records.
func holder(dir string) error {
	b, err := os.ReadFile(lockPath(dir))
	if pid := strings.TrimSpace(string(b)); err == nil && pid != "" {
		return fmt.Errorf("process %s is training it; stop that process first", pid)
	}
	return errors.New("another process is training it; stop that process first")
}
