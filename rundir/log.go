package rundir

import (
	"bufio"
	"encoding/json"
	"errors"
	"fmt"
	"github.com/lot-toolkit/lot/internal/atomicfile"
	"io"
	"io/fs"
	"os"
)

// Log is an append-only JSON-lines file (metrics.jsonl, tasks.jsonl) that
// counts the bytes it holds, so that a checkpoint can record them.
type Log struct {
	path string
	f    *os.File
	w    *bufio.Writer
	n    int64
}

// OpenLog opens a log for appending after cutting it back to keep bytes,
// the length a checkpoint recorded: lines written after that checkpoint
// (the last one possibly torn by a crash) are dropped, to be written again.
// A log shorter than keep, or whose byte keep-1 is not a line's end, is
// ErrUnreadable: the checkpoint does not belong to it, and padding it
// would invent data.
func OpenLog(path string, keep int64) (*Log, error) {
	f, err := os.OpenFile(path, os.O_CREATE|os.O_RDWR, 0o644)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	fail := func(format string, a ...any) (*Log, error) {
		f.Close()
		return nil, &Error{Path: path, Kind: ErrUnreadable, Err: fmt.Errorf(format, a...)}
	}
	st, err := f.Stat()
	if err != nil {
		return fail("%v", err)
	}
	if st.Size() < keep {
		return fail("%d bytes, but the checkpoint covers %d: the log lost data", st.Size(), keep)
	}
	if keep > 0 {
		last := make([]byte, 1)
		if _, err := f.ReadAt(last, keep-1); err != nil {
			return fail("%v", err)
		}
		if last[0] != '\n' {
			return fail("byte %d, where the checkpoint's part ends, is not the end of a line", keep)
		}
	}
	if st.Size() > keep {
		if err := f.Truncate(keep); err != nil {
			return fail("%v", err)
		}
		if err := atomicfile.Fsync(f); err != nil {
			return fail("%v", err)
		}
	}
	if _, err := f.Seek(keep, io.SeekStart); err != nil {
		return fail("%v", err)
	}
	return &Log{path: path, f: f, w: bufio.NewWriterSize(f, 1<<16), n: keep}, nil
}

// WriteJSON appends v as one line.
func (l *Log) WriteJSON(v any) error {
	b, err := json.Marshal(v)
	if err != nil {
		return fmt.Errorf("%s: %w", l.path, err)
	}
	b = append(b, '\n')
	if _, err := l.w.Write(b); err != nil {
		return fmt.Errorf("%s: %w", l.path, err)
	}
	l.n += int64(len(b))
	return nil
}

// Size is the log's length in bytes, including what is still buffered.
func (l *Log) Size() int64 { return l.n }

// Sync writes what is buffered and fsyncs the file, so that a checkpoint
// recording Size never outlives the bytes it covers.
func (l *Log) Sync() error {
	if err := l.w.Flush(); err != nil {
		return fmt.Errorf("%s: %w", l.path, err)
	}
	if err := atomicfile.Fsync(l.f); err != nil {
		return fmt.Errorf("%s: %w", l.path, err)
	}
	return nil
}

// Close flushes and closes the log.
func (l *Log) Close() error {
	err := l.w.Flush()
	if cerr := l.f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("%s: %w", l.path, err)
	}
	return nil
}

// ReadLines decodes every line of a JSON-lines log into a new T, in order.
// A missing file is ErrNoRun.
func ReadLines[T any](path string) ([]T, error) {
	f, err := os.Open(path)
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return nil, &Error{Path: path, Kind: ErrNoRun, Err: errors.New("no such file")}
		}
		return nil, &Error{Path: path, Kind: ErrUnreadable, Err: err}
	}
	defer f.Close()
	var rows []T
	dec := json.NewDecoder(f)
	for {
		var row T
		if err := dec.Decode(&row); err == io.EOF {
			return rows, nil
		} else if err != nil {
			return nil, &Error{Path: path, Kind: ErrUnreadable, Err: err}
		}
		rows = append(rows, row)
	}
}
