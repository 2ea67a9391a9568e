package plotting

import (
	"fmt"
	"strings"
	"testing"

	"gonum.org/v1/plot"
)

// labels are a ticker's labelled ticks as "value=label", and how many
// unlabelled (minor) ticks it gave.
func labels(ts []plot.Tick) (string, int) {
	var out []string
	minor := 0
	for _, t := range ts {
		if t.Label == "" {
			minor++
			continue
		}
		out = append(out, fmt.Sprintf("%g=%s", t.Value, t.Label))
	}
	return strings.Join(out, " "), minor
}

func TestLinearTicks(t *testing.T) {
	for _, c := range []struct {
		lo, hi float64
		want   string
		minor  int
	}{
		// A 40-task axis: tens, not gonum's 5, 20, 35.
		{1, 40, "10=10 20=20 30=30 40=40", 16},
		// Update steps: grouped digits, not "250000.00".
		{0, 2.35e6, "0=0 500000=500,000 1e+06=1,000,000 1.5e+06=1,500,000 2e+06=2,000,000", 19},
		{0, 1.15, "0=0.0 0.2=0.2 0.4=0.4 0.6=0.6 0.8=0.8 1=1.0", 18},
		{-0.5, 0.5, "-0.4=-0.4 -0.2=-0.2 0=0.0 0.2=0.2 0.4=0.4", 16},
		{3.2e-4, 6.1e-4, "0.00035=0.00035 0.0004=0.00040 0.00045=0.00045 0.0005=0.00050 0.00055=0.00055 0.0006=0.00060", 24},
		// Just past a 2 step: a 5 step, and only two labels.
		{0.3, 14.37, "5=5 10=10", 12},
		{-12345, 98765, "0=0 20000=20,000 40000=40,000 60000=60,000 80000=80,000", 17},
	} {
		got, minor := labels(linearTicks{}.Ticks(c.lo, c.hi))
		if got != c.want || minor != c.minor {
			t.Errorf("[%g, %g]: labels %q with %d minor, want %q with %d", c.lo, c.hi, got, minor, c.want, c.minor)
		}
	}
}

func TestLogTicks(t *testing.T) {
	for _, c := range []struct {
		lo, hi float64
		want   string
		minor  int
	}{
		// Two decades or more: the powers only.
		{1e-4, 0.1, "0.0001=0.0001 0.001=0.001 0.01=0.01 0.1=0.1", 24},
		// Beyond 0.0001–90000, every label as d e k, not "100000" beside "1e+06".
		{0.5, 2e6, "1=1e0 10=1e1 100=1e2 1000=1e3 10000=1e4 100000=1e5 1e+06=1e6", 54},
		// Under two decades: 1, 2 and 5 times the powers.
		{2e-4, 1.2e-2, "0.0002=0.0002 0.0005=0.0005 0.001=0.001 0.002=0.002 0.005=0.005 0.01=0.01", 12},
		// L2's learned rates (Fig. 6): 1, 2 and 5 give two labels, so every
		// multiple is labelled; gonum labelled only 0.001.
		{3.7e-4, 1.3e-3, "0.0004=0.0004 0.0005=0.0005 0.0006=0.0006 0.0007=0.0007 0.0008=0.0008 0.0009=0.0009 0.001=0.001", 0},
	} {
		got, minor := labels(logTicks{}.Ticks(c.lo, c.hi))
		if got != c.want || minor != c.minor {
			t.Errorf("[%g, %g]: labels %q with %d minor, want %q with %d", c.lo, c.hi, got, minor, c.want, c.minor)
		}
	}
}

func TestFormatTick(t *testing.T) {
	for _, c := range []struct {
		v        float64
		decimals int
		want     string
	}{
		{1234567, 0, "1,234,567"}, {12345.5, 1, "12,345.5"}, {9999, 0, "9999"},
		{-25000, 0, "-25,000"}, {-1e-9, 2, "0.00"}, {100000, 0, "100,000"},
	} {
		if got := formatTick(c.v, c.decimals); got != c.want {
			t.Errorf("formatTick(%g, %d) = %q, want %q", c.v, c.decimals, got, c.want)
		}
	}
}
