//go:build !unix

package rundir

import "os"

// Lock is a no-op where flock is missing: nothing stops two processes
// from training one run there.
func Lock(dir string) (unlock func(), err error) { return func() {}, nil }

// InUse reports false where Lock is a no-op.
func InUse(dir string) (bool, error) { return false, nil }

// LockHeld reports false where Lock is a no-op.
func LockHeld(f *os.File) (bool, error) { return false, nil }
