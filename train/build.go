package train

import (
	"runtime"
	"runtime/debug"
)

// Build identifies a build of lot that trained part of a run, and the
// first update it applied. A run that several sessions resumed lists each
// build in order, so that numbers can be traced to the code behind them.
type Build struct {
	// Revision is the source commit Go stamped into the binary, or
	// "unknown" for a build without one (go run, test binaries).
	Revision string `json:"revision"`
	// Modified says the tree had uncommitted changes.
	Modified bool   `json:"modified,omitempty"`
	Go       string `json:"go"`
	FromStep int64  `json:"from_step"`
}

// currentBuild is the running binary's Build (from step 0); tests
// replace it.
var currentBuild = func() Build {
	b := Build{Revision: "unknown", Go: runtime.Version()}
	if info, ok := debug.ReadBuildInfo(); ok {
		for _, s := range info.Settings {
			switch s.Key {
			case "vcs.revision":
				b.Revision = s.Value
			case "vcs.modified":
				b.Modified = s.Value == "true"
			}
		}
	}
	return b
}

// withBuild appends the running build, from step, to builds unless it is
// already the last entry.
func withBuild(builds []Build, step int64) []Build {
	b := currentBuild()
	if n := len(builds); n > 0 {
		last := builds[n-1]
		if last.Revision == b.Revision && last.Modified == b.Modified && last.Go == b.Go {
			return builds
		}
	}
	b.FromStep = step
	return append(builds, b)
}
