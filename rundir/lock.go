//go:build unix

package rundir

import (
	"errors"
	"io/fs"
	"os"
	"strconv"
	"syscall"
)

// Lock takes dir's run lock for this process: an exclusive flock on its
// lock file, which it creates in dir (dir must exist). While one process
// trains a run, another that tries to (a second `lot run --resume`, two
// `lot reproduce` on one --out) gets an *Error of kind ErrInUse naming the
// holder's process ID, and writes nothing. The returned function releases
// the lock; so does the end of the process, however it ends, so a killed
// run leaves no stale lock. A process must not take the same lock twice.
func Lock(dir string) (unlock func(), err error) {
	f, err := os.OpenFile(lockPath(dir), os.O_RDWR|os.O_CREATE, 0o644)
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return nil, &Error{Path: dir, Kind: ErrNoRun}
		}
		return nil, &Error{Path: lockPath(dir), Kind: ErrUnreadable, Err: err}
	}
	if err := flock(f, syscall.LOCK_EX); err != nil {
		f.Close()
		if errors.Is(err, syscall.EWOULDBLOCK) {
			return nil, &Error{Path: dir, Kind: ErrInUse, Err: holder(dir)}
		}
		return nil, &Error{Path: lockPath(dir), Kind: ErrUnreadable, Err: err}
	}
	// The holder's PID, for the message a second process gets; best effort.
	if f.Truncate(0) == nil {
		f.WriteAt([]byte(strconv.Itoa(os.Getpid())+"\n"), 0)
	}
	return func() { f.Close() }, nil // closing the descriptor drops the flock
}

// InUse reports whether a process holds dir's run lock (see Lock).
func InUse(dir string) (bool, error) {
	f, err := os.Open(lockPath(dir))
	if errors.Is(err, fs.ErrNotExist) || errors.Is(err, syscall.ENOTDIR) { // no lock, or dir is no directory
		return false, nil
	} else if err != nil {
		return false, &Error{Path: lockPath(dir), Kind: ErrUnreadable, Err: err}
	}
	defer f.Close()
	return LockHeld(f)
}

// LockHeld reports whether a process holds the run lock on f, a run
// directory's LockFile opened as the caller confines its paths (lot
// serve opens it inside an os.Root).
func LockHeld(f *os.File) (bool, error) {
	switch err := flock(f, syscall.LOCK_SH); {
	case errors.Is(err, syscall.EWOULDBLOCK):
		return true, nil
	case err != nil:
		return false, &Error{Path: f.Name(), Kind: ErrUnreadable, Err: err}
	}
	return false, nil // the shared lock goes when the caller closes f
}

// flock tries the lock without waiting, retrying when a signal interrupts.
func flock(f *os.File, how int) error {
	for {
		err := syscall.Flock(int(f.Fd()), how|syscall.LOCK_NB)
		if !errors.Is(err, syscall.EINTR) {
			return err
		}
	}
}
