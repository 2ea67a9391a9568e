package main

import (
	"flag"
	"fmt"
	"os"
	"strings"
	"testing"

	"github.com/lot-toolkit/lot/train"
)

var update = flag.Bool("update", false, "rewrite README.md's flag tables from the table of knobs")

// flagTables renders README's two `lot run` flag tables: the run's own
// flags and every config key but the controller's, then the controller's
// (schedule.*).
func flagTables() (main, sched string) {
	head := "| flag | config key | default | meaning |\n|---|---|---|---|\n"
	var m, s strings.Builder
	m.WriteString(head)
	s.WriteString(head)
	for _, c := range commandFlags {
		name := "--" + c.name
		if c.arg != "" {
			name += " " + c.arg
		}
		fmt.Fprintf(&m, "| `%s` | | %s | %s |\n", name, c.def, c.help)
	}
	def := train.Default()
	for _, k := range train.Knobs() {
		v := k.Get(&def)
		switch {
		case k.DefaultDoc != "":
			v = k.DefaultDoc
		case k.Kind() == "bool":
			v = map[string]string{"false": "off", "true": "on"}[v]
		case k.Kind() == "string":
			v = "`" + v + "`"
		}
		row := fmt.Sprintf("| `--%s` | `%s` | %s | %s |\n", k.Flag, k.Key, v, k.Help)
		if strings.HasPrefix(k.Key, "schedule.") {
			s.WriteString(row)
		} else {
			m.WriteString(row)
		}
	}
	return m.String(), s.String()
}

// TestREADMEFlagTables: README's flag tables are the table of knobs and the
// run's own flags, as flagTables renders them; -update rewrites them.
func TestREADMEFlagTables(t *testing.T) {
	const path = "../../README.md"
	raw, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	readme := string(raw)
	main, sched := flagTables()
	for name, table := range map[string]string{"run-flags": main, "schedule-flags": sched} {
		begin := "<!-- " + name + ": generated from train's table of knobs; go test ./cmd/lot -run TestREADMEFlagTables -update -->\n"
		end := "<!-- end " + name + " -->"
		i, j := strings.Index(readme, begin), strings.Index(readme, end)
		if i < 0 || j < i {
			t.Fatalf("README.md: no %q ... %q section", strings.TrimSpace(begin), end)
		}
		if got := readme[i+len(begin) : j]; got != table {
			if !*update {
				t.Errorf("README.md's %s table is out of date (go test ./cmd/lot -run TestREADMEFlagTables -update):\n--- README\n%s--- table\n%s", name, got, table)
				continue
			}
			readme = readme[:i+len(begin)] + table + readme[j:]
		}
	}
	if *update {
		if err := os.WriteFile(path, []byte(readme), 0o644); err != nil {
			t.Fatal(err)
		}
	}
}
