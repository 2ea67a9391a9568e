package regularize

import (
	"math"
	"slices"

	"github.com/lot-toolkit/lot/model"
)

// Wasserstein is λ·Σ_tensors ‖sort(θ) − sort(θ0)‖², each weight and bias
// tensor its own distribution (Lewandowski et al., 2024). Its gradient at
// θ_i is 2λ(θ_i − sort(θ0)[rank of θ_i]), ranks taken in the stable order:
// by value, −NaN < −Inf < … < −0 < +0 < … < +Inf < +NaN (the order of
// sortableBits), ties by index.
//
// Ranking every parameter at every step is the cost. A step moves a
// parameter little in value but, with ~200,000 values packed ~1e-6 apart,
// hundreds to thousands of ranks (measured in training: a mean of 150–3,000,
// and every other element out of order), so repairing the last order by
// insertion would be quadratic. Instead each call visits a tensor's values
// in the last call's order, drops each into one of ~n buckets by its rank
// as the last call's values predict it (rankGuide), and finishes with one
// insertion pass, in which a value moves only within its bucket. Visiting
// in the last order keeps the bucket writes nearly sequential. Tensors
// under smallTensor values are radix-sorted from scratch instead.
//
// The state kept between calls (the last order and the rank prediction)
// only decides the speed, never the result: the bucket is a nondecreasing
// function of the value, so whatever the state, the result is the one
// order by (value, index). A resumed run, which starts from θ0's order,
// gets the same bits as an uninterrupted one.
type Wasserstein struct {
	Strength float64
	tensors  []tensorRanks
	sorted0  []float32 // each tensor's initial values, sorted, laid out as params
	keys     []uint64  // scratch: (sortableBits << 32 | index), in the last call's order
	buckets  []uint32  // scratch: each key's bucket
	sorted   []uint64  // scratch: the keys grouped by bucket, then sorted
	ends     []uint32  // scratch: bucket sizes, then each bucket's end in sorted
}

// tensorRanks is one tensor's share of the Wasserstein state.
type tensorRanks struct {
	off, n int
	order  []uint32 // the tensor's indices by ascending (value, index) at the last call (unread below smallTensor)
	guide  rankGuide
}

const (
	// rankFracBits is the guide's rank precision: ranks are predicted in
	// units of 1/(1<<rankFracBits).
	rankFracBits = 2
	// bucketShift turns a predicted rank in those units into a bucket: 2
	// gives one bucket per rank, so that most values share their bucket
	// with no other (fewer mispredicted comparisons in the final sort),
	// while the bucket counters stay within a 4-byte word per value.
	bucketShift = 2
	// guideBits is the number of leading key bits (sign, exponent and the
	// top of the mantissa) that pick a rank guide cell: 1/32 of an octave.
	guideBits = 14
	// guideStride is the sampling stride over the sorted values when the
	// guide is refitted.
	guideStride = 8
	// smallTensor: tensors with fewer values (biases, output layers) are
	// radix-sorted from scratch, cheaper there than refitting a guide.
	smallTensor = 4096
	// maxCollisions bounds Σ (bucket size)² per value for the final sort
	// by insertion; past it each bucket is sorted on its own.
	maxCollisions = 8
)

func newWasserstein(strength float64, m *model.MLP, anchor []float32) *Wasserstein {
	w := &Wasserstein{Strength: strength, sorted0: slices.Clone(anchor)}
	maxN := 0
	for _, t := range m.Tensors {
		maxN = max(maxN, len(t.Data))
	}
	w.keys, w.sorted, w.buckets = make([]uint64, maxN), make([]uint64, maxN), make([]uint32, maxN)
	w.ends = make([]uint32, bucketCount(maxN)+1)
	for _, t := range m.Tensors {
		tr := tensorRanks{off: t.Offset, n: len(t.Data), order: make([]uint32, len(t.Data))}
		s0 := w.sorted0[t.Offset : t.Offset+len(t.Data)]
		if tr.n >= smallTensor {
			// Start from θ0's order, as ranked by a full sort.
			keys := w.sorted[:tr.n]
			for i, v := range s0 {
				keys[i] = uint64(sortableBits(v))<<32 | uint64(i)
			}
			slices.Sort(keys)
			for r, k := range keys {
				tr.order[r] = uint32(k)
			}
			tr.guide.fit(keys)
		}
		slices.Sort(s0)
		w.tensors = append(w.tensors, tr)
	}
	return w
}

func (w *Wasserstein) Name() string          { return "wasserstein" }
func (w *Wasserstein) HessianScale() float64 { return 2 * w.Strength }

func (w *Wasserstein) AddGrad(params, grad []float32) float64 {
	var sum float64
	c := float32(2 * w.Strength)
	for t := range w.tensors {
		tr := &w.tensors[t]
		p, g, s0 := params[tr.off:tr.off+tr.n], grad[tr.off:tr.off+tr.n], w.sorted0[tr.off:tr.off+tr.n]
		var sorted []uint64
		if tr.n < smallTensor {
			sorted = w.keys[:tr.n]
			for i, v := range p {
				sorted[i] = uint64(sortableBits(v))<<32 | uint64(i)
			}
			radixSortHigh32(sorted, w.sorted[:tr.n])
		} else {
			sorted = w.sortTensor(tr, p)
		}
		// In rank order: the gradient, the value (summed in rank order, so
		// its bits do not depend on how the ranks were found) and the order
		// the next call starts from.
		order := tr.order[:len(sorted)]
		s0 = s0[:len(sorted)]
		for r, k := range sorted {
			i := uint32(k)
			d := valueOf(uint32(k>>32)) - s0[r]
			sum += float64(d) * float64(d)
			g[i] += c * d
			order[r] = i
		}
		if tr.n >= smallTensor {
			tr.guide.fit(sorted)
		}
	}
	return w.Strength * sum
}

// sortTensor returns the keys (sortableBits(p[i]) << 32 | i) of p sorted
// ascending, in w.sorted.
func (w *Wasserstein) sortTensor(tr *tensorRanks, p []float32) []uint64 {
	n := len(p)
	nb := bucketCount(n)
	keys, buckets, sorted, ends := w.keys[:n], w.buckets[:n], w.sorted[:n], w.ends[:nb+1]
	g := &tr.guide
	// Visit in the last order, so that successive values, and so their
	// buckets, are nearly sorted: the counter and bucket writes then stay
	// in a few cache lines. The gather is a loop of its own: short, it
	// keeps many of its cache misses in flight.
	for r, i := range tr.order[:n] {
		keys[r] = uint64(sortableBits(p[i]))<<32 | uint64(i)
	}
	collisions := countBuckets(g, keys, buckets, ends)
	if collisions > maxCollisions*n {
		// Crowded buckets: the values moved far since the guide was
		// fitted (the first call after a resume starts from θ0's); fit it
		// to these, once.
		g.fit(keys)
		collisions = countBuckets(g, keys, buckets, ends)
	}
	// ends[b] is now bucket b's start; advancing it while filling leaves
	// it at bucket b's end.
	for r, k := range keys {
		b := buckets[r]
		sorted[ends[b]] = k
		ends[b]++
	}
	// A value moves less than its bucket's size, so insertion costs at
	// most collisions/2 moves. Buckets still crowded (many equal values)
	// are sorted one by one instead.
	if collisions <= maxCollisions*n {
		insertionSort(sorted)
		return sorted
	}
	start := uint32(0)
	for _, end := range ends[:nb] {
		if end-start > 1 {
			slices.Sort(sorted[start:end])
		}
		start = end
	}
	return sorted
}

// countBuckets sets buckets to each key's bucket and ends[b] to the
// start of bucket b (ends[b+1] its end), and returns Σ (bucket size)²:
// about 2n for buckets of one value on average, far more when crowded.
func countBuckets(g *rankGuide, keys []uint64, buckets, ends []uint32) int {
	clear(ends)
	for r, k := range keys {
		b := g.bucket(uint32(k >> 32))
		buckets[r] = b
		ends[b+1]++
	}
	total, collisions := uint32(0), 0
	for b, c := range ends {
		total += c
		ends[b] = total
		collisions += int(c) * int(c)
	}
	return collisions
}

// insertionSort sorts s, whose values are out of place only within
// buckets of about one value on average. Each step swaps a pair out of
// order without branching (the common move, of one place; mispredicted
// branches are the cost), and branches only for longer moves.
func insertionSort(s []uint64) {
	if len(s) < 2 {
		return
	}
	top := s[0] // the largest of s[:j], which is sorted
	for j := 1; j < len(s); j++ {
		k := s[j]
		lo := min(top, k)
		s[j-1] = lo
		top = max(top, k)
		s[j] = top
		if j >= 2 && lo < s[j-2] { // k belongs further back
			i := j - 1
			for i > 0 && s[i-1] > lo {
				s[i] = s[i-1]
				i--
			}
			s[i] = lo
		}
	}
}

// bucketCount is the number of buckets for n values: the rank guide
// predicts ranks up to n.
func bucketCount(n int) int { return n<<rankFracBits>>bucketShift + 1 }

// rankGuide predicts a value's rank from the last call's sorted values.
// A value's key (sortableBits) picks a cell by its leading guideBits bits;
// each cell edge holds the number of sampled values below it, and the
// remaining key bits interpolate linearly in between. Within an octave a
// key is linear in the value, so cells of 1/32 octave follow any smooth
// distribution, and the cells span every float, NaN and infinity included.
// The prediction is nondecreasing in the key, which is all exactness
// needs; its accuracy only sets the bucket sizes.
type rankGuide struct {
	below *[1<<guideBits + 1]uint32 // below[c]: sampled values with keys in cells before c
}

const guideFracBits = 32 - guideBits

// bucket returns the bucket of the value with key k.
func (g *rankGuide) bucket(k uint32) uint32 {
	c := k >> guideFracBits
	lo, hi := g.below[c], g.below[c+1] // c < 1<<guideBits: no bounds checks
	rank := lo<<rankFracBits + uint32(uint64(hi-lo)*uint64(k&(1<<guideFracBits-1))>>(guideFracBits-rankFracBits))
	return rank >> bucketShift
}

// fit fits the guide to keys, in any order (sorted, after a call; as
// gathered, when the values have moved too far for the last fit).
func (g *rankGuide) fit(keys []uint64) {
	if g.below == nil {
		g.below = new([1<<guideBits + 1]uint32)
	}
	clear(g.below[:])
	// Count every guideStride-th value in its cell (below[c+1] for cell
	// c), weighted guideStride, then accumulate; capped at len(keys), so
	// that ranks stay within the buckets.
	for r := 0; r < len(keys); r += guideStride {
		g.below[keys[r]>>(32+guideFracBits)+1] += guideStride
	}
	total := uint32(0)
	for c := range g.below {
		total += g.below[c]
		g.below[c] = min(total, uint32(len(keys)))
	}
}

// radixSortHigh32 sorts keys by their upper 32 bits, stably, in four
// byte-wide passes, using tmp (as long as keys) as scratch.
func radixSortHigh32(keys, tmp []uint64) {
	src, dst := keys, tmp
	for shift := uint(32); shift < 64; shift += 8 {
		var count [257]int
		for _, k := range src {
			count[(k>>shift)&0xff+1]++
		}
		for i := 1; i < 257; i++ {
			count[i] += count[i-1]
		}
		for _, k := range src {
			b := (k >> shift) & 0xff
			dst[count[b]] = k
			count[b]++
		}
		src, dst = dst, src
	}
	// Four passes leave the result back in keys.
}

// sortableBits maps a float32 to a uint32 whose unsigned order is the
// float's numeric order (−0 before +0; NaNs beyond the infinities on the
// side of their sign bit).
func sortableBits(f float32) uint32 {
	b := math.Float32bits(f)
	// Negative: flip every bit; otherwise set the sign bit.
	return b ^ (uint32(int32(b)>>31) | 0x80000000)
}

// valueOf inverts sortableBits, bit for bit.
func valueOf(k uint32) float32 {
	return math.Float32frombits(k ^ (uint32(int32(^k)>>31) | 0x80000000))
}
