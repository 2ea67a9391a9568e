package rundir_test

import (
	"fmt"
	"os"
	"path/filepath"

	"github.com/lot-toolkit/lot/rundir"
)

// A log indexed once and refreshed as the run appends to it: each refresh
// reads only the new lines, and a line still being written waits.
func ExampleLogIndex() {
	dir, _ := os.MkdirTemp("", "run")
	defer os.RemoveAll(dir)
	path := filepath.Join(dir, rundir.MetricsFile)
	os.WriteFile(path, []byte(`{"step":40,"acc":0.25,"lr":{"fc1":0.001}}`+"\n"+`{"step":80,"acc":0.5,"lr":{"fc1":0.002}}`+"\n"), 0o644)

	ix := rundir.NewLogIndex("step", 0)
	open := func() (*os.File, error) { return os.Open(path) }
	ix.Refresh(open)
	x, y, _ := ix.Series("lr.fc1")
	fmt.Println(ix.Names(), x, y)

	f, _ := os.OpenFile(path, os.O_APPEND|os.O_WRONLY, 0)
	f.WriteString(`{"step":120,"acc":0.75,"lr":{"fc1":0.004}}` + "\n" + `{"step":160,"acc"`)
	f.Close()
	ix.Refresh(open)
	x, y, _ = ix.Series("acc")
	fmt.Println(x, y, "partial:", ix.Partial())
	// Output:
	// [acc lr.fc1 step] [40 80] [0.001 0.002]
	// [40 80 120] [0.25 0.5 0.75] partial: true
}
