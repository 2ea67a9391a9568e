//go:build cgo && !purego

package train

/*
#cgo CFLAGS: -O3
#include <stdint.h>

// The test of allFiniteGo, which gcc vectorises (integer operations only):
// the scan of the parameters each step then costs well under 1% of it.
static int lot_all_finite(const uint32_t* x, long n) {
	uint32_t acc = 0;
	for (long i = 0; i < n; i++) {
		acc |= (x[i] & 0x7f800000u) + 0x00800000u;
	}
	return (acc & 0x80000000u) == 0;
}
*/
import "C"

import "unsafe"

// allFinite reports whether every value of x is finite (see allFiniteGo).
func allFinite(x []float32) bool {
	if len(x) == 0 {
		return true
	}
	return C.lot_all_finite((*C.uint32_t)(unsafe.Pointer(&x[0])), C.long(len(x))) != 0
}
