package data

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"io/fs"
	"math"
	"os"
	"strconv"
	"strings"
	"unicode"

	"codeberg.org/sbinet/npyio/npy"
)

// NumPy .npy files, as numpy.save writes them: the magic "\x93NUMPY", a
// major and minor version byte, the header length (2 bytes little-endian in
// version 1, 4 bytes in versions 2 and 3), a Python dict literal header and
// the raw array bytes. lot reads a user's inputs and labels from them for
// `lot diagnose`.

// maxNpyHeader bounds the header dict: numpy pads it to a few hundred bytes,
// so anything larger is a corrupt file, not an array description.
const maxNpyHeader = 1 << 16

// npyArray is a validated .npy file: its dtype, shape and the raw payload,
// whose length has been checked against the shape.
type npyArray struct {
	dtype   string // e.g. "<f4"
	shape   []int
	elems   int
	reader  *npy.Reader
	payload []byte
}

// ReadNpyInputs reads a float32 ('<f4'), C-order .npy array of shape
// [N, dim] (or [N, 28, 28], [N, 1, 28, 28]: any trailing dimensions whose
// product is dim) and returns its N·dim values row-major and N.
func ReadNpyInputs(path string, dim int) ([]float32, int, error) {
	raw, err := readFile(path)
	if err != nil {
		return nil, 0, err
	}
	return parseNpyInputs(path, raw, dim)
}

// ReadNpyLabels reads an int64 ('<i8') or int32 ('<i4') 1-D .npy array of
// exactly n labels, each in [0, classes).
func ReadNpyLabels(path string, n, classes int) ([]int32, error) {
	raw, err := readFile(path)
	if err != nil {
		return nil, err
	}
	return parseNpyLabels(path, raw, n, classes)
}

func readFile(path string) ([]byte, error) {
	raw, err := os.ReadFile(path)
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return nil, fmt.Errorf("data: %s: no such file", path)
		}
		var pe *fs.PathError
		if errors.As(err, &pe) {
			err = pe.Err
		}
		return nil, fmt.Errorf("data: %s: %v", path, err)
	}
	return raw, nil
}

// parseNpyInputs decodes the bytes of an inputs file; name is used in errors.
func parseNpyInputs(name string, raw []byte, dim int) ([]float32, int, error) {
	a, err := parseNpy(name, raw, map[string]int{"<f4": 4})
	if err != nil {
		if errors.Is(err, errDtype) {
			return nil, 0, fmt.Errorf("data: %s: inputs have dtype %s, want float32 (<f4)", name, a.dtype)
		}
		return nil, 0, err
	}
	want := fmt.Sprintf("want [N %d]", dim)
	if dim == 28*28 {
		want = "want [N 784], [N 28 28] or [N 1 28 28]"
	}
	if len(a.shape) < 2 || len(a.shape) > 4 {
		return nil, 0, fmt.Errorf("data: %s: shape %v, %s", name, a.shape, want)
	}
	trailing := 1
	for _, d := range a.shape[1:] {
		trailing *= d
	}
	if trailing != dim {
		return nil, 0, fmt.Errorf("data: %s: shape %v, %s", name, a.shape, want)
	}
	rows := a.shape[0]
	if rows == 0 {
		return nil, 0, fmt.Errorf("data: %s: shape %v holds no samples", name, a.shape)
	}
	x := make([]float32, a.elems)
	if err := readInto(name, a, &x); err != nil {
		return nil, 0, err
	}
	for i, v := range x {
		if math.IsNaN(float64(v)) || math.IsInf(float64(v), 0) {
			return nil, 0, fmt.Errorf("data: %s: input %d of sample %d is %v", name, i%dim, i/dim, v)
		}
	}
	return x, rows, nil
}

// parseNpyLabels decodes the bytes of a labels file; name is used in errors.
func parseNpyLabels(name string, raw []byte, n, classes int) ([]int32, error) {
	a, err := parseNpy(name, raw, map[string]int{"<i8": 8, "<i4": 4})
	if err != nil {
		if errors.Is(err, errDtype) {
			return nil, fmt.Errorf("data: %s: labels have dtype %s, want int64 or int32 (<i8 or <i4)", name, a.dtype)
		}
		return nil, err
	}
	if len(a.shape) != 1 {
		return nil, fmt.Errorf("data: %s: shape %v, want [%d] (one label per input)", name, a.shape, n)
	}
	if a.shape[0] != n {
		return nil, fmt.Errorf("data: %s: %d labels but %d inputs", name, a.shape[0], n)
	}
	y := make([]int32, n)
	switch a.dtype {
	case "<i8":
		v := make([]int64, n)
		if err := readInto(name, a, &v); err != nil {
			return nil, err
		}
		for i, l := range v {
			if l < 0 || l >= int64(classes) {
				return nil, fmt.Errorf("data: %s: label %d at index %d is outside 0..%d", name, l, i, classes-1)
			}
			y[i] = int32(l)
		}
	default:
		if err := readInto(name, a, &y); err != nil {
			return nil, err
		}
		for i, l := range y {
			if l < 0 || int(l) >= classes {
				return nil, fmt.Errorf("data: %s: label %d at index %d is outside 0..%d", name, l, i, classes-1)
			}
		}
	}
	return y, nil
}

// errDtype marks a dtype outside the accepted set; the caller words it.
var errDtype = errors.New("wrong dtype")

// parseNpy validates the header of a .npy file and that the payload has
// exactly the bytes its shape needs, before anything is allocated for the
// array. accept maps each accepted dtype to its element size.
func parseNpy(name string, raw []byte, accept map[string]int) (a npyArray, err error) {
	defer func() {
		// npyio parses the header dict by slicing between its keys; a
		// malformed header must give this file's error, never a crash.
		if r := recover(); r != nil {
			a, err = npyArray{}, fmt.Errorf("data: %s: malformed .npy header", name)
		}
	}()
	if len(raw) < 10 || !bytes.Equal(raw[:6], npy.Magic[:]) {
		if len(raw) < 10 && bytes.HasPrefix(npy.Magic[:], raw[:min(len(raw), 6)]) && len(raw) > 0 {
			return a, fmt.Errorf("data: %s: truncated: %d bytes, no complete .npy header", name, len(raw))
		}
		return a, fmt.Errorf("data: %s: not a .npy file (no \\x93NUMPY magic)", name)
	}
	var hdrLen, prefix int
	switch raw[6] {
	case 1:
		hdrLen, prefix = int(binary.LittleEndian.Uint16(raw[8:])), 10
	case 2:
		if len(raw) < 12 {
			return a, fmt.Errorf("data: %s: truncated: %d bytes, no complete .npy header", name, len(raw))
		}
		hdrLen, prefix = int(binary.LittleEndian.Uint32(raw[8:])), 12
	default:
		return a, fmt.Errorf("data: %s: .npy format version %d.%d is not supported (want 1.0 or 2.0)", name, raw[6], raw[7])
	}
	if hdrLen > maxNpyHeader {
		return a, fmt.Errorf("data: %s: malformed .npy header: it claims %d bytes", name, hdrLen)
	}
	if prefix+hdrLen > len(raw) {
		return a, fmt.Errorf("data: %s: truncated: the header needs %d bytes, the file has %d", name, prefix+hdrLen, len(raw))
	}
	if !bytes.Contains(raw[prefix:prefix+hdrLen], []byte("\n")) {
		return a, fmt.Errorf("data: %s: malformed .npy header (no terminating newline)", name)
	}
	br := bytes.NewReader(raw)
	r, err := npy.NewReader(br)
	if err != nil {
		return a, fmt.Errorf("data: %s: malformed .npy header (%w)", name, oneLine{err})
	}
	a.reader, a.payload = r, raw[len(raw)-br.Len():]
	a.dtype = strings.Trim(strings.TrimSpace(r.Header.Descr.Type), `'"`)
	if len(a.dtype) > 40 || strings.ContainsAny(a.dtype, "\n\r") {
		return a, fmt.Errorf("data: %s: malformed .npy header (unreadable dtype)", name)
	}
	esize, ok := accept[a.dtype]
	if !ok {
		return a, errDtype
	}
	if r.Header.Descr.Fortran {
		return a, fmt.Errorf("data: %s: array is in Fortran order; save a C-order array (numpy.ascontiguousarray)", name)
	}
	a.shape = r.Header.Descr.Shape
	if len(a.shape) == 0 {
		return a, fmt.Errorf("data: %s: a scalar, not an array", name)
	}
	// The element count, checked against the payload as it grows, so that
	// neither an overflowing product nor a lying header gets further.
	for _, d := range a.shape {
		if d < 0 {
			return a, fmt.Errorf("data: %s: malformed .npy header: negative dimension in shape %v", name, a.shape)
		}
	}
	limit := len(a.payload) / esize
	elems, over := 1, false
	for _, d := range a.shape {
		if d == 0 {
			elems, over = 0, false
			break
		}
		if over || elems > limit/d {
			over = true
			continue
		}
		elems *= d
	}
	if over {
		return a, fmt.Errorf("data: %s: truncated: shape %v needs more than the %d bytes of data present", name, a.shape, len(a.payload))
	}
	if need := elems * esize; need != len(a.payload) {
		if need > len(a.payload) {
			return a, fmt.Errorf("data: %s: truncated: shape %v needs %d bytes of data, the file has %d", name, a.shape, need, len(a.payload))
		}
		return a, fmt.Errorf("data: %s: trailing data: shape %v needs %d bytes of data, the file has %d", name, a.shape, need, len(a.payload))
	}
	a.elems = elems
	return a, nil
}

// readInto decodes the validated payload into *dst, preallocated to the
// array's size, through npyio.
func readInto[T any](name string, a npyArray, dst *[]T) (err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("data: %s: malformed .npy data", name)
		}
	}()
	if a.elems == 0 {
		return nil
	}
	if err := a.reader.Read(dst); err != nil {
		return fmt.Errorf("data: %s: malformed .npy data (%w)", name, oneLine{err})
	}
	return nil
}

// oneLine is the decoder's error, which may quote bytes of the file, with
// every character that is not printable escaped, so that the message stays
// one line.
type oneLine struct{ err error }

func (e oneLine) Error() string {
	var b strings.Builder
	for _, r := range e.err.Error() {
		if unicode.IsPrint(r) {
			b.WriteRune(r)
		} else {
			q := strconv.QuoteRune(r)
			b.WriteString(q[1 : len(q)-1])
		}
	}
	return b.String()
}
func (e oneLine) Unwrap() error { return e.err }
