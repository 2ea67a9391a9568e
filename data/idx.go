package data

import (
	"bufio"
	"compress/gzip"
	"encoding/binary"
	"fmt"
	"io"
	"math"
	"os"
)

// IDX magic numbers: two zero bytes, the data type (0x08 = unsigned byte)
// and the number of dimensions.
const (
	imageMagic = 0x00000803
	labelMagic = 0x00000801
	typeUint8  = 0x08
)

// Header sanity limits. They are far above MNIST's sizes but keep a corrupt
// header from describing a payload of terabytes.
const (
	maxSide  = 1 << 12
	maxCount = 1 << 24
)

// The payload buffer starts at firstChunk bytes and grows only as bytes
// actually arrive, so a lying header cannot make us allocate gigabytes up
// front. Once the first chunk has filled, it jumps to bulkChunk (enough for
// all of MNIST) to avoid repeated copying.
const (
	firstChunk = 1 << 20
	bulkChunk  = 1 << 26
)

// Images is the content of an IDX image file: N images of Rows×Cols pixels,
// row-major, one byte per pixel (0 = background, 255 = ink).
type Images struct {
	N, Rows, Cols int
	Pixels        []uint8
}

// ReadImages reads an IDX3 unsigned-byte image file, gzip-compressed or raw.
func ReadImages(path string) (*Images, error) {
	f, err := openIDX(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	return parseImages(path, f)
}

// ReadLabels reads an IDX1 unsigned-byte label file, gzip-compressed or raw.
func ReadLabels(path string) ([]uint8, error) {
	f, err := openIDX(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	return parseLabels(path, f)
}

// openIDX opens path, turning os errors into one-line messages that keep
// the underlying error for errors.Is.
func openIDX(path string) (*os.File, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("data: %s: %w", path, unwrapPathError(err))
	}
	return f, nil
}

// parseImages decodes an image file from r; name is used in errors only.
func parseImages(name string, r io.Reader) (*Images, error) {
	src, err := newIDXSource(name, r, 16)
	if err != nil {
		return nil, err
	}
	if err := src.checkMagic(imageMagic, "an IDX image file"); err != nil {
		return nil, err
	}
	n := src.dim(0)
	rows, cols := src.dim(1), src.dim(2)
	shape := fmt.Sprintf("%d images of %dx%d", n, rows, cols)
	switch {
	case n == 0 || rows == 0 || cols == 0:
		return nil, src.errorf("zero dimension: header says %s", shape)
	case n > maxCount || rows > maxSide || cols > maxSide:
		return nil, src.errorf("implausible dimensions: header says %s (limits: %d images, %d pixels a side)", shape, maxCount, maxSide)
	}
	want := n * rows * cols
	if want > math.MaxInt {
		return nil, src.errorf("implausible dimensions: header says %s, too large for this platform", shape)
	}
	pixels, err := src.payload(want, fmt.Sprintf("%s (%d bytes)", shape, want))
	if err != nil {
		return nil, err
	}
	return &Images{N: int(n), Rows: int(rows), Cols: int(cols), Pixels: pixels}, nil
}

// parseLabels decodes a label file from r; name is used in errors only.
func parseLabels(name string, r io.Reader) ([]uint8, error) {
	src, err := newIDXSource(name, r, 8)
	if err != nil {
		return nil, err
	}
	if err := src.checkMagic(labelMagic, "an IDX label file"); err != nil {
		return nil, err
	}
	n := src.dim(0)
	switch {
	case n == 0:
		return nil, src.errorf("zero dimension: header says 0 labels")
	case n > maxCount:
		return nil, src.errorf("implausible dimensions: header says %d labels (limit %d)", n, maxCount)
	}
	return src.payload(n, fmt.Sprintf("%d labels", n))
}

// idxSource is an IDX stream after its header has been read.
type idxSource struct {
	name    string
	r       io.Reader
	gzipped bool
	header  []byte
}

// newIDXSource detects gzip by its magic bytes and reads headerLen bytes.
func newIDXSource(name string, r io.Reader, headerLen int) (*idxSource, error) {
	s := &idxSource{name: name}
	br := bufio.NewReaderSize(r, 64<<10)
	head, err := br.Peek(2)
	if len(head) == 0 {
		if err == io.EOF {
			return nil, s.errorf("empty file")
		}
		return nil, s.readError(err)
	}
	s.r = br
	if len(head) == 2 && head[0] == 0x1f && head[1] == 0x8b {
		s.gzipped = true
		zr, err := gzip.NewReader(br)
		if err != nil {
			return nil, s.errorf("corrupt gzip header: %v", err)
		}
		s.r = zr
	}
	s.header = make([]byte, headerLen)
	n, err := readFull(s.r, s.header)
	switch {
	case n == headerLen:
	case err != nil && err != io.EOF:
		return nil, s.readError(err)
	case n == 0 && s.gzipped:
		return nil, s.errorf("empty file after gzip decompression")
	default:
		return nil, s.errorf("truncated header: %d of %d bytes", n, headerLen)
	}
	return s, nil
}

func (s *idxSource) checkMagic(want uint32, what string) error {
	got := binary.BigEndian.Uint32(s.header)
	if got == want {
		return nil
	}
	if got>>16 == 0 && byte(got>>8) != typeUint8 {
		return s.errorf("unsupported data type 0x%02x in magic number 0x%08x, want type 0x%02x (unsigned byte) as in 0x%08x (%s)",
			byte(got>>8), got, typeUint8, want, what)
	}
	return s.errorf("bad magic number 0x%08x, want 0x%08x (%s)", got, want, what)
}

// dim returns the i'th dimension size from the header.
func (s *idxSource) dim(i int) uint64 {
	return uint64(binary.BigEndian.Uint32(s.header[4+4*i:]))
}

// payload reads exactly want bytes and then requires the end of the stream;
// what describes the expected content for the truncation message.
func (s *idxSource) payload(want uint64, what string) ([]byte, error) {
	buf := make([]byte, min(want, firstChunk))
	filled := 0
	for {
		n, err := readFull(s.r, buf[filled:])
		filled += n
		if filled < len(buf) {
			if err == io.EOF {
				return nil, s.errorf("truncated: header says %s but only %d bytes follow", what, filled)
			}
			return nil, s.readError(err)
		}
		if uint64(filled) == want {
			break
		}
		grown := make([]byte, min(want, max(bulkChunk, 2*uint64(len(buf)))))
		copy(grown, buf)
		buf = grown
	}
	// Reading to the end also makes gzip verify its checksum.
	var probe [1]byte
	n, err := readFull(s.r, probe[:])
	if n > 0 {
		extra, err := io.Copy(io.Discard, s.r)
		if err != nil {
			return nil, s.readError(err)
		}
		return nil, s.errorf("%d trailing bytes after the %d-byte payload (%s)", extra+1, want, what)
	}
	if err != io.EOF {
		return nil, s.readError(err)
	}
	return buf, nil
}

func (s *idxSource) errorf(format string, args ...any) error {
	return fmt.Errorf("data: %s: "+format, append([]any{s.name}, args...)...)
}

// readError reports a failure of the underlying reader. Inside a gzip stream
// every failure (bad deflate data, checksum, cut-off stream) means the
// compressed file is damaged.
func (s *idxSource) readError(err error) error {
	if s.gzipped {
		return fmt.Errorf("data: %s: corrupt or truncated gzip data: %w", s.name, err)
	}
	return fmt.Errorf("data: %s: read failed: %w", s.name, err)
}

// readFull is io.ReadFull without the conversion of a clean end of data into
// io.ErrUnexpectedEOF: it returns io.EOF only when the stream ended normally,
// which is how a short but intact gzip file differs from a broken one.
func readFull(r io.Reader, buf []byte) (int, error) {
	n := 0
	for n < len(buf) {
		m, err := r.Read(buf[n:])
		n += m
		if err != nil {
			if n == len(buf) && err == io.EOF {
				return n, nil
			}
			return n, err
		}
	}
	return n, nil
}
