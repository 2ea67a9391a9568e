//go:build cgo && !purego

package linalg

/*
#cgo LDFLAGS: -ldl
#include <dlfcn.h>
#include <stdlib.h>

// OpenBLAS is opened at run time rather than linked, so that lot can choose
// its kernel (OPENBLAS_CORETYPE) before OpenBLAS reads the variable in its
// load-time constructor.
typedef void (*sgemm_fn)(int, int, int, int, int, int, float, const float*, int,
                         const float*, int, float, float*, int);
typedef void (*threads_fn)(int);
typedef char* (*corename_fn)(void);
typedef float (*sdot_fn)(int, const float*, int, const float*, int);
typedef void (*dgemm_fn)(int, int, int, int, int, int, double, const double*, int,
                         const double*, int, double, double*, int);

static sgemm_fn lot_sgemm;
static threads_fn lot_set_threads;
static corename_fn lot_corename;
static sdot_fn lot_sdot_ptr;
static dgemm_fn lot_dgemm_ptr;

static const char* lot_open_blas(const char* name) {
	void* h = dlopen(name, RTLD_NOW | RTLD_LOCAL);
	if (!h) return dlerror();
	lot_sgemm = (sgemm_fn)dlsym(h, "cblas_sgemm");
	lot_set_threads = (threads_fn)dlsym(h, "openblas_set_num_threads");
	lot_corename = (corename_fn)dlsym(h, "openblas_get_corename");
	lot_sdot_ptr = (sdot_fn)dlsym(h, "cblas_sdot");
	lot_dgemm_ptr = (dgemm_fn)dlsym(h, "cblas_dgemm");
	if (!lot_sgemm || !lot_set_threads || !lot_sdot_ptr || !lot_dgemm_ptr)
		return "libopenblas lacks cblas_sgemm, cblas_dgemm, cblas_sdot or openblas_set_num_threads";
	return NULL;
}

// Subnormal operands make OpenBLAS's kernels ten to a hundred times slower
// (under weight decay with BatchNorm, dead units' weights decay into the
// subnormal range and a run slowed twentyfold). Each product therefore runs
// with flush-to-zero and denormals-are-zero set in the calling thread's
// MXCSR, restored afterwards so that Go code never runs under them. With
// one BLAS thread (lot's default) the product runs in this thread; more
// threads' workers keep their own MXCSR.
#if defined(__x86_64__)
#include <xmmintrin.h>
#define LOT_FTZ_BEGIN unsigned int lot_csr = _mm_getcsr(); _mm_setcsr(lot_csr | 0x8040);
#define LOT_FTZ_END _mm_setcsr(lot_csr);
#else
#define LOT_FTZ_BEGIN
#define LOT_FTZ_END
#endif

// CBLAS constants: row-major 101, no-transpose 111, transpose 112.
static void lot_gemm(int ta, int tb, int m, int n, int k, float alpha, const float* a, int lda,
                     const float* b, int ldb, float beta, float* c, int ldc) {
	LOT_FTZ_BEGIN
	lot_sgemm(101, ta ? 112 : 111, tb ? 112 : 111, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc);
	LOT_FTZ_END
}
// The Gram matrix a·aᵀ of n rows of length w, in double precision.
static void lot_gram64(int n, int w, const double* a, double* c) {
	lot_dgemm_ptr(101, 111, 112, n, n, w, 1.0, a, w, a, w, 0.0, c, n);
}
static float lot_sdot(int n, const float* a, const float* b) { return lot_sdot_ptr(n, a, 1, b, 1); }
static void lot_threads(int n) { lot_set_threads(n); }
static const char* lot_core(void) { return lot_corename ? lot_corename() : "unknown"; }
*/
import "C"

import (
	"fmt"
	"os"
	"sync"
	"unsafe"

	"golang.org/x/sys/cpu"
)

const backend = "openblas"

var (
	loadOnce sync.Once
	coreSet  string // the OPENBLAS_CORETYPE lot chose, "" if the environment's was kept
	loadErr  error  // why OpenBLAS could not be loaded; the products then use gonum
)

// libNames are the names OpenBLAS is looked for under, in order.
var libNames = []string{"libopenblas.so.0", "libopenblas.so", "libopenblasp.so.0"}

// load opens OpenBLAS once. Where OPENBLAS_CORETYPE is unset, lot chooses
// the kernel from the CPU's features: OpenBLAS 0.3.21's own detection reads
// the CPU model number, which virtual machines often hide, and then falls
// back to its slowest kernel (Prescott), six times slower here.
func load() {
	loadOnce.Do(func() {
		if _, set := os.LookupEnv("OPENBLAS_CORETYPE"); !set {
			switch {
			case cpu.X86.HasAVX512F && cpu.X86.HasAVX512BW && cpu.X86.HasAVX512VL:
				coreSet = "SkylakeX"
			case cpu.X86.HasAVX2 && cpu.X86.HasFMA:
				coreSet = "Haswell"
			}
			if coreSet != "" {
				os.Setenv("OPENBLAS_CORETYPE", coreSet)
			}
		}
		var msg string
		for _, name := range libNames {
			cname := C.CString(name)
			m := C.lot_open_blas(cname)
			C.free(unsafe.Pointer(cname))
			if m == nil {
				return
			}
			if msg == "" { // the first name's reason: the usual one
				msg = C.GoString(m)
			}
		}
		loadErr = fmt.Errorf("%w (%s); install libopenblas0 (Debian: apt-get install libopenblas-dev) or build with -tags purego", ErrNoOpenBLAS, msg)
	})
}

// loadError loads OpenBLAS if not yet done and says why it failed.
func loadError() error {
	load()
	return loadErr
}

func gemm(transA, transB bool, m, n, k int, alpha float32, a []float32, lda int, b []float32, ldb int, beta float32, c []float32, ldc int) {
	if loadError() != nil {
		gonumGemm(transA, transB, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc)
		return
	}
	C.lot_gemm(cbool(transA), cbool(transB), C.int(m), C.int(n), C.int(k),
		C.float(alpha), (*C.float)(unsafe.Pointer(&a[0])), C.int(lda),
		(*C.float)(unsafe.Pointer(&b[0])), C.int(ldb),
		C.float(beta), (*C.float)(unsafe.Pointer(&c[0])), C.int(ldc))
}

func dot(a, b []float32) float32 {
	if loadError() != nil {
		return gonumDot(a, b)
	}
	return float32(C.lot_sdot(C.int(len(a)), (*C.float)(unsafe.Pointer(&a[0])), (*C.float)(unsafe.Pointer(&b[0]))))
}

func gram64(a []float64, w, n int, out []float64) {
	if loadError() != nil {
		gonumGram64(a, w, n, out)
		return
	}
	C.lot_gram64(C.int(n), C.int(w), (*C.double)(unsafe.Pointer(&a[0])), (*C.double)(unsafe.Pointer(&out[0])))
}

func cbool(b bool) C.int {
	if b {
		return 1
	}
	return 0
}

func setThreads(n int) {
	if loadError() != nil {
		return
	}
	C.lot_threads(C.int(n))
}

// Kernel names the OpenBLAS kernel in use, and says when lot chose it.
func Kernel() string {
	if err := loadError(); err != nil {
		return "gonum (pure Go; " + err.Error() + ")"
	}
	k := C.GoString(C.lot_core())
	if coreSet != "" {
		k += " (chosen by lot from CPU features; OPENBLAS_CORETYPE was unset)"
	}
	return k
}
