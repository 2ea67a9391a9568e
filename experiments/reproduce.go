package experiments

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
)

// Reproduce runs and reports the named figures ("all" for every one) at a
// scale, writing runs/, the figures and report.md under dir.
func Reproduce(ctx context.Context, exe, dir string, names []string, scale string, seeds, jobs int, log func(string)) error {
	if _, err := Base(scale); err != nil {
		return err
	}
	if seeds < 1 || jobs < 1 {
		return fmt.Errorf("--seeds and --jobs must be at least 1")
	}
	if len(names) == 1 && names[0] == "all" {
		names = Names()
	}
	var figs []Figure
	for _, n := range names {
		f, ok := Figures[n]
		if !ok {
			return fmt.Errorf("unknown figure %q (want one of: all, %s)", n, strings.Join(Names(), ", "))
		}
		figs = append(figs, f)
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("--out %s: %v", dir, err)
	}
	// Figures may share runs (Fig. 6 reads Fig. 5's): each runs once.
	var all []Run
	seen := map[string]bool{}
	for _, f := range figs {
		for _, r := range f.Runs(scale, seeds) {
			if !seen[r.Name] {
				seen[r.Name] = true
				all = append(all, r)
			}
		}
	}
	if err := Execute(ctx, exe, dir, all, jobs, log); err != nil {
		return err
	}
	var b strings.Builder
	fmt.Fprintf(&b, "# Reproduction report (scale %s, %d seed(s))\n\nMade by `lot reproduce`; every run is under runs/, with its config.\n", scale, seeds)
	for _, f := range figs {
		section, err := f.Report(dir, f.Runs(scale, seeds))
		if err != nil {
			return fmt.Errorf("%s: %v", f.Name, err)
		}
		fmt.Fprintf(&b, "\n## %s\n\nPaper's claim: %s\n\n%s", f.Name, f.Claim, section)
	}
	return os.WriteFile(filepath.Join(dir, "report.md"), []byte(b.String()), 0o644)
}
