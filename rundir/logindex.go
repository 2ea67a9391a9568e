package rundir

import (
	"bytes"
	"errors"
	"io"
	"math"
	"os"
	"slices"
	"strconv"
	"time"
	"unsafe"
)

// LogIndex holds the numbers of one JSON-lines log (metrics.jsonl or
// tasks.jsonl) as columns by dotted path ("acc", "lr.fc1",
// "diag.layers.fc1.alpha_tilde"), each row placed by one field (its x).
// It is read incrementally: a refresh reads only the bytes appended since
// the last one, so a live run's log stays cheap to follow, and a report
// that reads many metrics of a run parses its log once. A log that shrank
// or whose last read line changed (a resumed run cuts its log back) is
// read again from the start. Make one with NewLogIndex; it is not safe for
// concurrent use.
type LogIndex struct {
	xKey string  // the field each row is placed by: step, or task
	xAdd float64 // added to it: tasks are shown 1-based, as lot plot does

	consumed int64  // bytes of whole lines read so far
	tail     []byte // the last whole line read, to notice a rewritten log
	modTime  time.Time
	x        []float64 // each accepted row's xKey value
	cols     map[string]*column
	// malformed counts whole lines that are not a JSON object with a
	// numeric xKey; partial is set while the log ends without a newline
	// (a line being written, or torn by a crash).
	malformed, firstMalformed int
	lines                     int // whole lines read, blank ones included
	partial                   bool

	scratch []cell // the line being parsed, kept only if it parses
	pathBuf []byte // the dotted path of the value being parsed
}

// column is one dotted path's values, in row order; rows index x.
type column struct {
	rows []int32
	y    []float64
}

type cell struct {
	col *column
	v   float64
}

// NewLogIndex returns an empty index whose rows are placed by the number
// at xKey ("step", or "task"), plus xAdd (1 shows tasks 1-based).
func NewLogIndex(xKey string, xAdd float64) *LogIndex {
	return &LogIndex{xKey: xKey, xAdd: xAdd, cols: map[string]*column{}}
}

func (ix *LogIndex) reset() {
	ix.consumed, ix.tail, ix.x, ix.cols = 0, nil, nil, map[string]*column{}
	ix.malformed, ix.firstMalformed, ix.lines, ix.partial = 0, 0, 0, false
}

// Refresh reads what was appended to the log since the last call. open
// opens the log (a server confines it to its root). A missing log is an
// empty one.
func (ix *LogIndex) Refresh(open func() (*os.File, error)) error {
	f, err := open()
	if errors.Is(err, os.ErrNotExist) {
		ix.reset()
		return nil
	} else if err != nil {
		return err
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return err
	}
	size := st.Size()
	// The clock that stamps a write ticks in milliseconds: a log rewritten
	// within one tick to the same size is told apart by its last line.
	if size == ix.consumed && st.ModTime().Equal(ix.modTime) && ix.tailUnchanged(f) {
		return nil
	}
	if size < ix.consumed || !ix.tailUnchanged(f) {
		ix.reset()
	}
	ix.modTime = st.ModTime()
	return ix.readFrom(f, size)
}

// tailUnchanged reports whether the last line read is still where it was.
func (ix *LogIndex) tailUnchanged(f *os.File) bool {
	if len(ix.tail) == 0 {
		return true
	}
	b := make([]byte, len(ix.tail))
	_, err := f.ReadAt(b, ix.consumed-int64(len(b)))
	return err == nil && bytes.Equal(b, ix.tail)
}

// readFrom reads the log's whole lines from ix.consumed to size in chunks;
// a trailing part without a newline is left for the next refresh.
func (ix *LogIndex) readFrom(f *os.File, size int64) error {
	// A live run appends a few rows between refreshes: a small buffer.
	buf := make([]byte, min(1<<20, max(size-ix.consumed, 4096)))
	pos, carry := ix.consumed, 0
	ix.partial = false
	first, rowsBefore := true, len(ix.x)
	for pos+int64(carry) < size {
		if carry == len(buf) { // one line longer than the buffer
			buf = append(buf, make([]byte, len(buf))...)
		}
		want := min(int64(len(buf)-carry), size-pos-int64(carry))
		n, err := f.ReadAt(buf[carry:carry+int(want)], pos+int64(carry))
		if err != nil && !(errors.Is(err, io.EOF) && n > 0) {
			return err
		}
		data := buf[:carry+n]
		start, last := 0, -1
		for {
			nl := bytes.IndexByte(data[start:], '\n')
			if nl < 0 {
				break
			}
			ix.addLine(data[start : start+nl])
			last = start
			start += nl + 1
		}
		if last >= 0 {
			ix.tail = append(ix.tail[:0], data[last:start]...)
		}
		pos += int64(start)
		if first && size-pos > int64(len(buf)) && start > 0 {
			ix.reserve(rowsBefore, start, size-pos)
		}
		first = false
		carry = copy(buf, data[start:])
		if n == 0 {
			break
		}
	}
	ix.consumed = pos
	ix.partial = pos < size
	return nil
}

// reserve grows the index once for the rows still to read, estimated
// from the first chunk (rows of its bytes), so that a long log is not
// copied by repeated appends.
func (ix *LogIndex) reserve(rowsBefore, chunkBytes int, left int64) {
	more := int(float64(left)*float64(len(ix.x)-rowsBefore)/float64(chunkBytes)) + 1
	ix.x = slices.Grow(ix.x, more)
	for _, c := range ix.cols {
		c.rows, c.y = slices.Grow(c.rows, more), slices.Grow(c.y, more)
	}
}

// addLine adds one line's numbers, or counts it malformed; a blank line
// is neither.
func (ix *LogIndex) addLine(line []byte) {
	ix.lines++
	line = bytes.TrimSpace(line)
	if len(line) == 0 {
		return
	}
	ix.scratch = ix.scratch[:0]
	x, ok := ix.parseRow(line)
	if !ok {
		if ix.malformed++; ix.malformed == 1 {
			ix.firstMalformed = ix.lines
		}
		return
	}
	row := int32(len(ix.x))
	ix.x = append(ix.x, x+ix.xAdd)
	for _, c := range ix.scratch {
		c.col.rows = append(c.col.rows, row)
		c.col.y = append(c.col.y, c.v)
	}
}

// parseRow flattens one JSON object into ix.scratch, (column, value) for
// each finite number or boolean at a dotted path, and returns the row's
// xKey value. Strings, nulls and arrays are skipped; any syntax error
// rejects the whole line. It is a small scanner rather than
// encoding/json because a 60,000-row log with per-layer diagnostics must
// be read in well under a second.
func (ix *LogIndex) parseRow(b []byte) (x float64, ok bool) {
	p := parser{b: b, ix: ix, path: ix.pathBuf[:0]}
	p.skipSpace()
	if p.i >= len(b) || b[p.i] != '{' {
		return 0, false
	}
	if !p.object() {
		return 0, false
	}
	p.skipSpace()
	ix.pathBuf = p.path
	if p.i != len(b) || !p.haveX {
		return 0, false
	}
	return p.x, true
}

type parser struct {
	b       []byte
	i       int
	ix      *LogIndex
	path    []byte
	x       float64
	haveX   bool
	depth   int
	inArray int
}

func (p *parser) skipSpace() {
	for p.i < len(p.b) && (p.b[p.i] == ' ' || p.b[p.i] == '\t' || p.b[p.i] == '\r' || p.b[p.i] == '\n') {
		p.i++
	}
}

// object parses {...} at p.i, extending p.path with each key.
func (p *parser) object() bool {
	p.depth++
	if p.depth > 32 {
		return false
	}
	p.i++ // {
	base := len(p.path)
	p.skipSpace()
	if p.i < len(p.b) && p.b[p.i] == '}' {
		p.i++
		p.depth--
		return true
	}
	for {
		p.skipSpace()
		key, ok := p.str()
		if !ok {
			return false
		}
		p.skipSpace()
		if p.i >= len(p.b) || p.b[p.i] != ':' {
			return false
		}
		p.i++
		p.skipSpace()
		p.path = p.path[:base]
		if base > 0 {
			p.path = append(p.path, '.')
		}
		p.path = append(p.path, key...)
		if !p.value() {
			return false
		}
		p.skipSpace()
		if p.i >= len(p.b) {
			return false
		}
		switch p.b[p.i] {
		case ',':
			p.i++
		case '}':
			p.i++
			p.path = p.path[:base]
			p.depth--
			return true
		default:
			return false
		}
	}
}

// value parses one value at p.i and records it if it is a number or bool.
func (p *parser) value() bool {
	if p.i >= len(p.b) {
		return false
	}
	switch c := p.b[p.i]; {
	case c == '{':
		return p.object()
	case c == '[':
		return p.array()
	case c == '"':
		_, ok := p.str()
		return ok
	case c == 't':
		return p.word("true") && p.put(1)
	case c == 'f':
		return p.word("false") && p.put(0)
	case c == 'n':
		return p.word("null")
	default:
		j := p.i
		for j < len(p.b) && isNumberByte(p.b[j]) {
			j++
		}
		v, err := strconv.ParseFloat(bytesString(p.b[p.i:j]), 64)
		if j == p.i || err != nil && !errors.Is(err, strconv.ErrRange) {
			return false
		}
		p.i = j
		if math.IsInf(v, 0) {
			return true // out of float64's range: dropped, like a null
		}
		return p.put(v)
	}
}

// array skips [...]: no logged metric is a list of numbers.
func (p *parser) array() bool {
	p.i++
	p.inArray++ // values inside are not recorded
	defer func() { p.inArray-- }()
	p.skipSpace()
	if p.i < len(p.b) && p.b[p.i] == ']' {
		p.i++
		return true
	}
	for {
		p.skipSpace()
		if !p.skipValue() {
			return false
		}
		p.skipSpace()
		if p.i >= len(p.b) {
			return false
		}
		if p.b[p.i] == ']' {
			p.i++
			return true
		}
		if p.b[p.i] != ',' {
			return false
		}
		p.i++
	}
}

// skipValue parses a value inside an array; put records nothing there.
func (p *parser) skipValue() bool { return p.value() }

func isNumberByte(c byte) bool {
	return c >= '0' && c <= '9' || c == '-' || c == '+' || c == '.' || c == 'e' || c == 'E'
}

func (p *parser) word(w string) bool {
	if !bytes.HasPrefix(p.b[p.i:], []byte(w)) {
		return false
	}
	p.i += len(w)
	return true
}

// str parses a string at p.i and returns its raw bytes (escapes kept:
// logged keys have none).
func (p *parser) str() ([]byte, bool) {
	if p.i >= len(p.b) || p.b[p.i] != '"' {
		return nil, false
	}
	start := p.i + 1
	for j := start; j < len(p.b); j++ {
		switch p.b[j] {
		case '\\':
			j++
		case '"':
			p.i = j + 1
			return p.b[start:j], true
		}
	}
	return nil, false
}

// put records v at the current path.
func (p *parser) put(v float64) bool {
	if p.inArray > 0 {
		return true
	}
	if string(p.path) == p.ix.xKey {
		p.x, p.haveX = v, true
	}
	col := p.ix.cols[string(p.path)] // no allocation: the compiler reuses p.path
	if col == nil {
		col = &column{}
		p.ix.cols[string(p.path)] = col
	}
	p.ix.scratch = append(p.ix.scratch, cell{col, v})
	return true
}

// bytesString views b as a string for strconv without copying; the
// string does not outlive the call.
func bytesString(b []byte) string {
	if len(b) == 0 {
		return ""
	}
	return unsafe.String(&b[0], len(b))
}

// Rows is the number of rows read: lines that are a JSON object with a
// number at xKey.
func (ix *LogIndex) Rows() int { return len(ix.x) }

// Malformed is the number of whole lines that are not a JSON object with
// a number at xKey, and FirstMalformed the first one's line number
// (1-based; 0 if none).
func (ix *LogIndex) Malformed() int { return ix.malformed }

// FirstMalformed: see Malformed.
func (ix *LogIndex) FirstMalformed() int { return ix.firstMalformed }

// Partial reports whether the log ends inside a line (a line being
// written, or torn by a crash); that part is read once it is whole.
func (ix *LogIndex) Partial() bool { return ix.partial }

// Names are the dotted paths that hold numbers, sorted.
func (ix *LogIndex) Names() []string {
	out := make([]string, 0, len(ix.cols))
	for k := range ix.cols {
		out = append(out, k)
	}
	slices.Sort(out)
	return out
}

// Series returns the x and y of one path, copied, over the rows that
// hold a number there.
func (ix *LogIndex) Series(name string) (x, y []float64, ok bool) {
	col := ix.cols[name]
	if col == nil {
		return nil, nil, false
	}
	x = make([]float64, len(col.rows))
	for i, r := range col.rows {
		x[i] = ix.x[r]
	}
	return x, slices.Clone(col.y), true
}

// Value returns a path's value in a row (0-based), if the row has it.
func (ix *LogIndex) Value(name string, row int) (float64, bool) {
	col := ix.cols[name]
	if col == nil {
		return 0, false
	}
	i, found := slices.BinarySearch(col.rows, int32(row))
	if !found {
		return 0, false
	}
	return col.y[i], true
}
