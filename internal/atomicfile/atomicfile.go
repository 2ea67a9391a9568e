// Package atomicfile owns durable whole-file replacement: a file is written
// to a temporary sibling, fsynced, renamed over its destination, and the
// directory is fsynced, so that after a crash the path holds either the
// old bytes or the new ones, never a torn mix or an empty file.
package atomicfile

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
)

// Fsync flushes f to stable storage; every fsync of lot's run files goes
// through it. Synced, when set (by tests), is told each synced file's or
// directory's name after it succeeds: the only way to see, short of a
// crash, that durability was asked for.
func Fsync(f *os.File) error {
	if err := f.Sync(); err != nil {
		return err
	}
	if Synced != nil {
		Synced(f.Name())
	}
	return nil
}

// Synced is a test hook: see Fsync. It is nil in normal use.
var Synced func(name string)

// TempPrefix starts the names of the temporary files Write creates; a
// crash can leave one behind, which RemoveTemps deletes.
const TempPrefix = ".tmp-"

// Write replaces path with data durably. Its errors name the operation
// that failed, not the temporary file's name.
func Write(path string, data []byte) error {
	err := write(path, data)
	var pe *fs.PathError
	if errors.As(err, &pe) {
		return fmt.Errorf("%s: %w", pe.Op, pe.Err)
	}
	return err
}

func write(path string, data []byte) error {
	dir := filepath.Dir(path)
	tmp, err := os.CreateTemp(dir, TempPrefix+filepath.Base(path)+"-*")
	if err != nil {
		return err
	}
	defer os.Remove(tmp.Name()) // a no-op once renamed
	if _, err := tmp.Write(data); err != nil {
		tmp.Close()
		return err
	}
	// Without this fsync a crash after the rename can leave an empty or
	// partial file under the final name on many filesystems.
	if err := Fsync(tmp); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Close(); err != nil {
		return err
	}
	if err := os.Chmod(tmp.Name(), 0o644); err != nil {
		return err
	}
	if err := os.Rename(tmp.Name(), path); err != nil {
		return err
	}
	return SyncDir(dir)
}

// SyncDir fsyncs a directory, making the renames and creations in it durable.
func SyncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	err = Fsync(d)
	if cerr := d.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("sync %s: %w", dir, err)
	}
	return nil
}

// RemoveTemps deletes the temporary files a crashed Write left in dir.
func RemoveTemps(dir string) error {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return err
	}
	for _, e := range entries {
		if strings.HasPrefix(e.Name(), TempPrefix) && e.Type().IsRegular() {
			if err := os.Remove(filepath.Join(dir, e.Name())); err != nil {
				return err
			}
		}
	}
	return nil
}
