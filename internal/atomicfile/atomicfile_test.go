package atomicfile

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestWriteReplacesWholeAndLeavesNoTemp(t *testing.T) {
	dir := t.TempDir()
	p := filepath.Join(dir, "f")
	for _, content := range []string{"first version, long", "second"} {
		if err := Write(p, []byte(content)); err != nil {
			t.Fatal(err)
		}
		if b, _ := os.ReadFile(p); string(b) != content {
			t.Fatalf("got %q, want %q", b, content)
		}
	}
	if st, _ := os.Stat(p); st.Mode().Perm() != 0o644 {
		t.Errorf("mode %v, want 0644", st.Mode().Perm())
	}
	entries, _ := os.ReadDir(dir)
	if len(entries) != 1 {
		t.Fatalf("left behind: %v", entries)
	}
	// A failed write names the operation, not the temporary file.
	err := Write(filepath.Join(dir, "absent", "f"), []byte("x"))
	if err == nil || strings.Contains(err.Error(), TempPrefix) {
		t.Fatalf("got %v", err)
	}
	os.WriteFile(filepath.Join(dir, TempPrefix+"f-123"), []byte("torn"), 0o644)
	if err := RemoveTemps(dir); err != nil {
		t.Fatal(err)
	}
	if entries, _ := os.ReadDir(dir); len(entries) != 1 {
		t.Fatalf("RemoveTemps left: %v", entries)
	}
}
