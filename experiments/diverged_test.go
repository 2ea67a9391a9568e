package experiments

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestDivergedRunIsAResultNotAFailure: a `lot run` that exits non-zero
// with a diverged summary.json is logged as diverged and the reproduction
// goes on; its figure notes it. A run that fails otherwise stays an error.
func TestDivergedRunIsAResultNotAFailure(t *testing.T) {
	dir := t.TempDir()
	exe := filepath.Join(dir, "fake-lot")
	// Writes a diverged summary into --out and exits 3, as lot does.
	script := `#!/bin/sh
out=$3
mkdir -p "$out"
printf '{"status":"diverged","divergence":{"step":12,"task":1,"layer":"fc2","what":"loss"}}' > "$out/summary.json"
exit 3
`
	if err := os.WriteFile(exe, []byte(script), 0o755); err != nil {
		t.Fatal(err)
	}
	r := fig5Subset(Setup{Scale: "smoke", Seeds: 1, Protocol: "paper"}, "scheduled")[0]
	var logged []string
	if err := Execute(context.Background(), exe, dir, []Run{r}, 1, func(s string) { logged = append(logged, s) }); err != nil {
		t.Fatalf("Execute: %v", err)
	}
	if !strings.Contains(strings.Join(logged, "\n"), "diverged: "+r.Name) {
		t.Fatalf("log does not say the run diverged: %q", logged)
	}
	kept, notes := withoutDiverged(dir, []Run{r})
	if len(kept) != 0 || len(notes) != 1 || !strings.Contains(notes[0], "loss in fc2 at step 12, task 2") {
		t.Fatalf("kept %v, notes %q", kept, notes)
	}
	// Without a diverged summary a failing run is an error.
	os.WriteFile(exe, []byte("#!/bin/sh\nexit 1\n"), 0o755)
	other := fig5Subset(Setup{Scale: "smoke", Seeds: 1, Protocol: "paper"}, "vanilla")[0]
	if err := Execute(context.Background(), exe, dir, []Run{other}, 1, func(string) {}); err == nil {
		t.Fatal("a failed run was not reported")
	}
}
