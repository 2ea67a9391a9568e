// Package checkpoint owns lot's on-disk tensor files: safetensors files of
// named float32 tensors plus string metadata. Writes are atomic and durable
// (package atomicfile: a fsynced temporary file renamed into place, then the
// directory fsynced), so a crash never leaves a torn checkpoint.
// Reads validate everything and name the file and the fault in one error,
// an *Error.
package checkpoint

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io/fs"
	"math"
	"os"
	"strings"

	"github.com/nlpodyssey/safetensors"

	"github.com/lot-toolkit/lot/internal/atomicfile"
)

// Error is a fault of one checkpoint file. Callers that name the file
// themselves word the fault from Err.
type Error struct {
	Path string // the file, or the name given to Parse
	Err  error  // what is wrong, without the path
}

func (e *Error) Error() string { return "checkpoint: " + e.Path + ": " + e.Err.Error() }
func (e *Error) Unwrap() error { return e.Err }

// fault returns an *Error for path with a formatted cause.
func fault(path, format string, a ...any) error {
	return &Error{Path: path, Err: fmt.Errorf(format, a...)}
}

// Tensor is a named float32 tensor, row-major.
type Tensor struct {
	Name  string
	Shape []int
	Data  []float32
}

// File is a checkpoint's content. Tensors keep the order they were written in
// when read back (sorted by name, as safetensors stores them).
type File struct {
	Tensors []Tensor
	Meta    map[string]string
}

// Get returns the tensor with the given name.
func (f *File) Get(name string) (Tensor, bool) {
	for _, t := range f.Tensors {
		if t.Name == name {
			return t, true
		}
	}
	return Tensor{}, false
}

// Write stores tensors and metadata at path atomically.
func Write(path string, tensors []Tensor, meta map[string]string) error {
	views := make(map[string]safetensors.TensorView, len(tensors))
	for _, t := range tensors {
		n := 1
		shape := make([]uint64, len(t.Shape))
		for i, d := range t.Shape {
			n *= d
			shape[i] = uint64(d)
		}
		if n != len(t.Data) {
			return fault(path, "tensor %s has shape %v but %d values", t.Name, t.Shape, len(t.Data))
		}
		buf := make([]byte, 4*len(t.Data))
		for i, v := range t.Data {
			binary.LittleEndian.PutUint32(buf[4*i:], math.Float32bits(v))
		}
		tv, err := safetensors.NewTensorView(safetensors.F32, shape, buf)
		if err != nil {
			return fault(path, "tensor %s: %v", t.Name, err)
		}
		views[t.Name] = tv
	}
	data, err := safetensors.Serialize(views, meta)
	if err != nil {
		return fault(path, "%v", err)
	}
	if err := atomicfile.Write(path, data); err != nil {
		return fault(path, "%w", err)
	}
	return nil
}

// Read loads a safetensors file. Only F32 tensors are accepted, except that
// non-F32 tensors named *.num_batches_tracked (PyTorch's BatchNorm counter)
// are skipped.
func Read(path string) (*File, error) {
	raw, err := os.ReadFile(path)
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return nil, fault(path, "no such file")
		}
		return nil, fault(path, "%v", err)
	}
	return Parse(path, raw)
}

// Parse decodes safetensors bytes; name is used in error messages only.
func Parse(name string, raw []byte) (f *File, err error) {
	defer func() {
		// The safetensors library validates offsets, but a malformed header
		// must never crash a run: turn any panic into this file's error.
		if r := recover(); r != nil {
			f, err = nil, fault(name, "malformed safetensors file (%v)", r)
		}
	}()
	if len(raw) < 8 {
		return nil, fault(name, "truncated: %d bytes, not a safetensors file", len(raw))
	}
	st, err := safetensors.Deserialize(raw)
	if err != nil {
		return nil, fault(name, "not a valid safetensors file: %v", err)
	}
	_, md, err := safetensors.ReadMetadata(raw)
	if err != nil {
		return nil, fault(name, "not a valid safetensors file: %v", err)
	}
	f = &File{Meta: md.Metadata()}
	if f.Meta == nil {
		f.Meta = map[string]string{}
	}
	for _, nt := range st.Tensors() {
		tv := nt.TensorView
		if tv.DType() != safetensors.F32 && strings.HasSuffix(nt.Name, ".num_batches_tracked") {
			// PyTorch's BatchNorm step counter (I64): bookkeeping, not a
			// parameter or a statistic that anything here uses.
			continue
		}
		if tv.DType() != safetensors.F32 {
			return nil, fault(name, "tensor %s has dtype %s, want F32", nt.Name, tv.DType())
		}
		shape := make([]int, len(tv.Shape()))
		n := uint64(1)
		for i, d := range tv.Shape() {
			if d > math.MaxInt32 {
				return nil, fault(name, "tensor %s has an impossible shape %v", nt.Name, tv.Shape())
			}
			shape[i] = int(d)
			n *= d
		}
		b := tv.Data()
		if uint64(len(b)) != 4*n {
			return nil, fault(name, "tensor %s: shape %v needs %d bytes, file has %d", nt.Name, shape, 4*n, len(b))
		}
		data := make([]float32, n)
		for i := range data {
			data[i] = math.Float32frombits(binary.LittleEndian.Uint32(b[4*i:]))
		}
		f.Tensors = append(f.Tensors, Tensor{Name: nt.Name, Shape: shape, Data: data})
	}
	return f, nil
}
