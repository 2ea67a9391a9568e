// Package npytest writes .npy files exactly as numpy.save does, for tests
// of lot's readers and of `lot diagnose`.
package npytest

import (
	"encoding/binary"
	"fmt"
	"strings"
)

// Bytes is the .npy file (format 1.0: the header dict padded with spaces to
// a multiple of 64 bytes, ending "\n") of an array with numpy dtype string
// descr ("<f4", "<i8", …), the given shape and raw little-endian payload.
func Bytes(descr string, fortran bool, shape []int, payload []byte) []byte {
	dims := make([]string, len(shape))
	for i, d := range shape {
		dims[i] = fmt.Sprint(d)
	}
	tuple := "(" + strings.Join(dims, ", ") + ")"
	if len(shape) == 1 {
		tuple = "(" + dims[0] + ",)"
	}
	order := map[bool]string{false: "False", true: "True"}[fortran]
	dict := fmt.Sprintf("{'descr': '%s', 'fortran_order': %s, 'shape': %s, }", descr, order, tuple)
	dict += strings.Repeat(" ", (64-(10+len(dict)+1)%64)%64) + "\n"
	out := append([]byte("\x93NUMPY\x01\x00"), 0, 0)
	binary.LittleEndian.PutUint16(out[8:], uint16(len(dict)))
	return append(append(out, dict...), payload...)
}
