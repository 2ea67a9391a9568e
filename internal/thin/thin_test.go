package thin

import (
	"math"
	"math/rand/v2"
	"reflect"
	"slices"
	"testing"
)

// TestMinMaxKeepsEachBucketsMinAndMax recomputes the buckets naively.
func TestMinMaxKeepsEachBucketsMinAndMax(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	for _, n := range []int{0, 1, 7, 200, 201, 10007} {
		p := Series{}
		for i := range n {
			p.X = append(p.X, float64(3*i))
			p.Y = append(p.Y, rng.NormFloat64())
			p.Lo = append(p.Lo, -rng.Float64())
			p.Hi = append(p.Hi, rng.Float64())
		}
		const maxPoints = 200
		d := MinMax(p, maxPoints)
		if n <= maxPoints {
			if !reflect.DeepEqual(d, p) {
				t.Errorf("n=%d: a series that fits was changed", n)
			}
			continue
		}
		if len(d.X) > maxPoints || len(d.Y) != len(d.X) || len(d.Lo) != len(d.X) || len(d.Hi) != len(d.X) {
			t.Fatalf("n=%d: %d points (max %d)", n, len(d.X), maxPoints)
		}
		if !slices.IsSorted(d.X) {
			t.Errorf("n=%d: x out of order", n)
		}
		kept := map[float64]float64{}
		for i, x := range d.X {
			kept[x] = d.Y[i]
		}
		if d.X[0] != p.X[0] || d.X[len(d.X)-1] != p.X[n-1] {
			t.Errorf("n=%d: x from %v to %v, want the first and last %v, %v", n, d.X[0], d.X[len(d.X)-1], p.X[0], p.X[n-1])
		}
		// Every bucket's extremes, found naively, are among the kept points.
		buckets := (maxPoints - 2) / 2
		for b := range buckets {
			s, e := b*n/buckets, (b+1)*n/buckets
			lo, hi, bl, bh := math.Inf(1), math.Inf(-1), math.Inf(1), math.Inf(-1)
			var xlo, xhi float64
			for i := s; i < e; i++ {
				if p.Y[i] < lo {
					lo, xlo = p.Y[i], p.X[i]
				}
				if p.Y[i] > hi {
					hi, xhi = p.Y[i], p.X[i]
				}
				bl, bh = min(bl, p.Lo[i]), max(bh, p.Hi[i])
			}
			if kept[xlo] != lo || kept[xhi] != hi {
				t.Fatalf("n=%d bucket %d: min %v at %v or max %v at %v lost", n, b, lo, xlo, hi, xhi)
			}
			i := slices.Index(d.X, xlo)
			if d.Lo[i] != bl || d.Hi[i] != bh {
				t.Fatalf("n=%d bucket %d: band %v–%v, want %v–%v", n, b, d.Lo[i], d.Hi[i], bl, bh)
			}
		}
	}
}

// TestMinMaxFlatSeries: a constant series (every bucket's min and max
// one point) still spans its whole x range.
func TestMinMaxFlatSeries(t *testing.T) {
	p := Series{X: make([]float64, 5000), Y: make([]float64, 5000)}
	for i := range p.X {
		p.X[i] = float64(i)
	}
	d := MinMax(p, 100)
	if len(d.X) > 100 || d.X[0] != 0 || d.X[len(d.X)-1] != 4999 {
		t.Errorf("%d points from %v to %v", len(d.X), d.X[0], d.X[len(d.X)-1])
	}
}
