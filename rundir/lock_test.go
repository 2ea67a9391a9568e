//go:build unix

package rundir

import (
	"bufio"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"testing"
)

// TestLockRefusesASecondHolder: while the lock is held, a second Lock is
// refused with ErrInUse naming the holder, InUse says so and MoveAside
// refuses to move the run; once released, all three let go.
func TestLockRefusesASecondHolder(t *testing.T) {
	dir := t.TempDir()
	if err := Create(dir, []byte("seed: 1\n")); err != nil {
		t.Fatal(err)
	}
	unlock, err := Lock(dir)
	if err != nil {
		t.Fatal(err)
	}
	_, err = Lock(dir)
	if !errors.Is(err, ErrInUse) || !strings.Contains(err.Error(), fmt.Sprintf("process %d", os.Getpid())) {
		t.Fatalf("second Lock: %v, want ErrInUse naming process %d", err, os.Getpid())
	}
	if busy, err := InUse(dir); err != nil || !busy {
		t.Fatalf("InUse while locked: %v %v", busy, err)
	}
	if _, err := MoveAside(dir); !errors.Is(err, ErrInUse) {
		t.Fatalf("MoveAside while locked: %v, want ErrInUse", err)
	}
	unlock()
	if busy, err := InUse(dir); err != nil || busy {
		t.Fatalf("InUse after unlock: %v %v", busy, err)
	}
	again, err := Lock(dir)
	if err != nil {
		t.Fatalf("Lock after unlock: %v", err)
	}
	again()
	if held, _ := Holds(t.TempDir()); held {
		t.Fatal("an empty directory holds a run")
	}
	if _, err := Lock(dir + "/absent"); !errors.Is(err, ErrNoRun) {
		t.Fatalf("Lock on a missing directory: %v, want ErrNoRun", err)
	}
	// A file where a run directory should be is in no one's use.
	if busy, err := InUse(Config(dir)); err != nil || busy {
		t.Fatalf("InUse on a file: %v %v, want false and no error", busy, err)
	}
}

// TestKilledHolderLeavesNoStaleLock: a process holding the lock is killed
// with SIGKILL; the lock goes with it.
func TestKilledHolderLeavesNoStaleLock(t *testing.T) {
	if dir := os.Getenv("LOT_TEST_HOLD_LOCK"); dir != "" {
		if _, err := Lock(dir); err != nil {
			fmt.Println("error:", err)
			os.Exit(1)
		}
		fmt.Println("locked")
		select {} // hold it until killed
	}
	dir := t.TempDir()
	cmd := exec.Command(os.Args[0], "-test.run=^TestKilledHolderLeavesNoStaleLock$")
	cmd.Env = append(os.Environ(), "LOT_TEST_HOLD_LOCK="+dir)
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	if line, _ := bufio.NewReader(out).ReadString('\n'); line != "locked\n" {
		cmd.Process.Kill()
		t.Fatalf("the holder said %q", line)
	}
	_, err = Lock(dir)
	if !errors.Is(err, ErrInUse) || !strings.Contains(err.Error(), fmt.Sprintf("process %d", cmd.Process.Pid)) {
		t.Fatalf("Lock while another process holds it: %v, want ErrInUse naming process %d", err, cmd.Process.Pid)
	}
	cmd.Process.Kill()
	cmd.Wait()
	unlock, err := Lock(dir)
	if err != nil {
		t.Fatalf("Lock after the holder was killed: %v", err)
	}
	unlock()
}
