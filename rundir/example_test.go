//go:build unix

package rundir_test

import (
	"errors"
	"fmt"
	"os"

	"github.com/lot-toolkit/lot/rundir"
)

// A process that trains a run holds its lock; a second one is refused
// and can tell why with errors.Is.
func ExampleLock() {
	dir, _ := os.MkdirTemp("", "run")
	defer os.RemoveAll(dir)
	unlock, err := rundir.Lock(dir)
	if err != nil {
		panic(err)
	}
	_, err = rundir.Lock(dir) // as a second `lot run --resume` would
	fmt.Println("second holder refused:", errors.Is(err, rundir.ErrInUse))
	unlock()
	busy, _ := rundir.InUse(dir)
	fmt.Println("in use after unlock:", busy)
	// Output:
	// second holder refused: true
	// in use after unlock: false
}
