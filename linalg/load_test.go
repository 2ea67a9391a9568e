//go:build cgo && !purego

package linalg

import (
	"errors"
	"os"
	"os/exec"
	"strings"
	"testing"
)

// TestMissingOpenBLASIsAnError: where libopenblas cannot be loaded, the
// library neither exits nor panics: Ready returns an error wrapping
// ErrNoOpenBLAS, and products still come out right, from gonum. The check
// runs in a fresh test process, since OpenBLAS loads once per process.
func TestMissingOpenBLASIsAnError(t *testing.T) {
	if os.Getenv("LINALG_TEST_NO_OPENBLAS") == "1" {
		missingOpenBLAS(t)
		return
	}
	cmd := exec.Command(os.Args[0], "-test.run=^TestMissingOpenBLASIsAnError$", "-test.v")
	cmd.Env = append(os.Environ(), "LINALG_TEST_NO_OPENBLAS=1")
	out, err := cmd.CombinedOutput()
	if err != nil || !strings.Contains(string(out), "--- PASS") {
		t.Fatalf("the child test failed (%v):\n%s", err, out)
	}
}

func missingOpenBLAS(t *testing.T) {
	libNames = []string{"liblot-no-such-blas.so"}
	err := Ready()
	if !errors.Is(err, ErrNoOpenBLAS) || !strings.Contains(err.Error(), "liblot-no-such-blas.so") {
		t.Fatalf("Ready() = %v, want an error wrapping ErrNoOpenBLAS naming the library", err)
	}
	if Backend() != "gonum" || !strings.Contains(Kernel(), "gonum") {
		t.Fatalf("Backend() = %q, Kernel() = %q, want gonum", Backend(), Kernel())
	}
	SetThreads(2)
	a, b, c := []float32{1, 2, 3, 4}, []float32{5, 6, 7, 8}, make([]float32, 4)
	Gemm(false, false, 2, 2, 2, 1, a, 2, b, 2, 0, c, 2)
	if want := []float32{19, 22, 43, 50}; c[0] != want[0] || c[1] != want[1] || c[2] != want[2] || c[3] != want[3] {
		t.Fatalf("Gemm = %v, want %v", c, want)
	}
	if d := Dot(a, b); d != 70 {
		t.Fatalf("Dot = %v, want 70", d)
	}
	g := make([]float64, 4)
	Gram64(a, 2, 2, g)
	if g[0] != 5 || g[1] != 11 || g[2] != 11 || g[3] != 25 {
		t.Fatalf("Gram64 = %v, want [5 11 11 25]", g)
	}
}
