package plotting

import (
	"math"
	"strconv"
	"strings"

	"gonum.org/v1/plot"
)

// linearTicks labels an axis at multiples of 1, 2 or 5 × 10^k, the
// finest that gives at most eight labels (as few as two), written in full
// ("1,250,000", "0.0005"). gonum's default ticker may start at an offset
// (5, 20, 35 on a 1–40 task axis) and prints large steps as "250000.00".
type linearTicks struct{}

func (linearTicks) Ticks(lo, hi float64) []plot.Tick {
	if !(hi > lo) || math.IsInf(hi-lo, 0) {
		return plot.DefaultTicks{}.Ticks(lo, hi)
	}
	step, minorPer := niceStep((hi - lo) / 7)
	decimals := max(-int(math.Floor(math.Log10(step)+1e-9)), 0)
	// Minor ticks are i × m × 10^e, m an integer, so that each value is one
	// exactly rounded product or quotient (0.0006, not 0.0006000000000000001).
	minor := step / float64(minorPer)
	e := int(math.Floor(math.Log10(minor) + 1e-9))
	m := math.Round(minor / math.Pow10(e))
	var ticks []plot.Tick
	for i := math.Ceil(lo / minor); i*minor <= hi+minor*1e-9; i++ {
		t := plot.Tick{Value: decimal(i*m, e)}
		if math.Mod(i, float64(minorPer)) == 0 {
			t.Label = formatTick(t.Value, decimals)
		}
		ticks = append(ticks, t)
	}
	return ticks
}

// decimal is n × 10^e for an integer n, exactly rounded.
func decimal(n float64, e int) float64 {
	if e < 0 {
		return n / math.Pow10(-e)
	}
	return n * math.Pow10(e)
}

// niceStep is the smallest of 1, 2 or 5 × 10^k at least x, and how many
// minor ticks divide it.
func niceStep(x float64) (step float64, minorPer int) {
	p := math.Pow10(int(math.Floor(math.Log10(x))))
	for _, m := range []struct {
		lead  float64
		minor int
	}{{1, 5}, {2, 4}, {5, 5}} {
		if m.lead*p >= x*(1-1e-12) {
			return m.lead * p, m.minor
		}
	}
	return 10 * p, 5
}

// logTicks labels a log axis at powers of ten where it spans two decades
// or more. A narrower axis (a learning rate cooling from 1e-3 to 4e-4,
// say), where gonum's LogTicks can leave a single label, is labelled at 1,
// 2 and 5 times the powers, or at every multiple when those are fewer
// than three.
type logTicks struct{}

func (logTicks) Ticks(lo, hi float64) []plot.Tick {
	if !(lo > 0) || !(hi > lo) || math.IsInf(hi, 0) {
		return plot.LogTicks{Prec: -1}.Ticks(lo, hi)
	}
	var ticks []plot.Tick
	var leads, e []int // each tick's d and k in d × 10^k
	for k := int(math.Floor(math.Log10(lo))); k <= int(math.Ceil(math.Log10(hi))); k++ {
		for d := 1; d < 10; d++ {
			if v := decimal(float64(d), k); v >= lo*(1-1e-12) && v <= hi*(1+1e-12) {
				ticks, leads, e = append(ticks, plot.Tick{Value: v}), append(leads, d), append(e, k)
			}
		}
	}
	labelled := func(d int) bool { return d == 1 }
	if hi/lo < 100 {
		labelled = func(d int) bool { return d == 1 || d == 2 || d == 5 }
		n := 0
		for _, d := range leads {
			if labelled(d) {
				n++
			}
		}
		if n < 3 {
			labelled = func(int) bool { return true }
		}
	}
	// One notation per axis: in full while every label is within
	// 0.0001–90000, else all as "1e6", "2e-5", where 'g' formatting would
	// mix "100000" with "1e+06".
	full := true
	for i, d := range leads {
		full = full && (!labelled(d) || (e[i] >= -4 && e[i] <= 4))
	}
	for i, d := range leads {
		switch {
		case !labelled(d):
		case full:
			ticks[i].Label = strconv.FormatFloat(ticks[i].Value, 'f', -1, 64)
		default:
			ticks[i].Label = strconv.Itoa(d) + "e" + strconv.Itoa(e[i])
		}
	}
	return ticks
}

// formatTick writes v with the given decimals, its integer part grouped
// by thousands when it has five digits or more.
func formatTick(v float64, decimals int) string {
	s := strconv.FormatFloat(v, 'f', decimals, 64)
	if strings.Trim(s, "-0.") == "" {
		return strings.TrimPrefix(s, "-") // no "-0"
	}
	sign, digits := "", s
	if strings.HasPrefix(s, "-") {
		sign, digits = "-", s[1:]
	}
	whole, frac, hasFrac := strings.Cut(digits, ".")
	if len(whole) >= 5 {
		var b strings.Builder
		for i, c := range whole {
			if i > 0 && (len(whole)-i)%3 == 0 {
				b.WriteByte(',')
			}
			b.WriteRune(c)
		}
		whole = b.String()
	}
	if hasFrac {
		whole += "." + frac
	}
	return sign + whole
}
