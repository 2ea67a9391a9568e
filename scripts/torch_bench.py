#!/usr/bin/python3
"""Time the "standard step" in PyTorch, as a reference for the Go engine.

Standard step: MLP 784-256-10 (nn.Linear, ReLU, nn.Linear), float32,
batch 256, mean cross-entropy loss, torch.optim.Adam(lr=1e-3).  The input
batch (random normal [256,784], random int labels 0..9) is fixed across
iterations, like a preloaded batch.

Reported (median of per-iteration time.perf_counter deltas; 30 warm-up then
200 timed iterations by default):
  train_step_ms  zero_grad(set_to_none=True) + forward + backward + opt.step()
  grad_ms        forward + backward only (no optimizer step)
plus threads, the torch version, and the OpenBLAS core type / thread count in
use.  Debian's torch 1.13 runs its GEMMs in the system OpenBLAS 0.3.21
(pthread build); torch.set_num_threads does NOT limit OpenBLAS' own thread
pool, so this script sets OPENBLAS_NUM_THREADS=<--threads> before importing
torch, unless it is already set in the environment.

Fair-comparison notes
---------------------
* Run with OPENBLAS_CORETYPE and OPENBLAS_L2_SIZE unset:
      env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE \\
          /usr/bin/python3 scripts/torch_bench.py --threads 1 --json
  CAVEAT: on the dev machine (Xeon with AVX-512/AMX, 2 vCPUs) OpenBLAS
  0.3.21's DYNAMIC_ARCH does not recognise the CPU when OPENBLAS_CORETYPE is
  unset and falls back to its "Prescott" (SSE3) kernels; the JSON field
  "openblas_core" shows which kernels ran.  OPENBLAS_CORETYPE=SkylakeX makes
  the step 2-3x faster (see MEASURED).
* glibc malloc tuning changes PyTorch's speed a lot.  Backward and the Adam
  step allocate and free ~800 KB tensors every iteration; by default glibc
  serves these with mmap/munmap (above its dynamic mmap threshold) or trims
  the heap top, so every iteration pays fresh page faults (~5x more minor
  faults measured).  Keeping them in the heap:
      env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE \\
          MALLOC_MMAP_THRESHOLD_=1000000000 MALLOC_TRIM_THRESHOLD_=1000000000 \\
          /usr/bin/python3 scripts/torch_bench.py --threads 1 --json
  Either variable alone helped less / inconsistently; MALLOC_TOP_PAD_=1e9
  alone was similar to the pair but noisier.
* A previous measurement found 1.6 ms "with glibc's malloc tuned" vs 7.3 ms
  as installed.  On the dev machine malloc tuning alone did NOT reach 1.6 ms
  (~4.5-5 ms at best, threads 1); 1.5-2.5 ms was only reached with OpenBLAS'
  core type forced as well:
      env -u OPENBLAS_L2_SIZE OPENBLAS_CORETYPE=SkylakeX \\
          MALLOC_MMAP_THRESHOLD_=1000000000 MALLOC_TRIM_THRESHOLD_=1000000000 \\
          /usr/bin/python3 scripts/torch_bench.py --threads 1 --json
  so the 1.6 ms figure very likely also had OPENBLAS_CORETYPE set.

Measured figures, with the commands that made them, are in the README.
"""
import argparse
import ctypes
import json
import os
import statistics
import time

torch = nn = F = None  # imported in main(), after OPENBLAS_NUM_THREADS is set


def openblas_info():
    """(core name, threads) of the OpenBLAS that torch uses, or (None, None)."""
    try:
        lib = ctypes.CDLL("libblas.so.3")  # already loaded by torch
        lib.openblas_get_corename.restype = ctypes.c_char_p
        return (lib.openblas_get_corename().decode(),
                int(lib.openblas_get_num_threads()))
    except (OSError, AttributeError):
        return None, None


def build(seed=0):
    torch.manual_seed(seed)
    model = nn.Sequential(nn.Linear(784, 256), nn.ReLU(), nn.Linear(256, 10))
    x = torch.randn(256, 784, dtype=torch.float32)
    y = torch.randint(0, 10, (256,))
    return model, x, y


def time_loop(fn, warmup, iters):
    for _ in range(warmup):
        fn()
    ts = []
    for _ in range(iters):
        t0 = time.perf_counter()
        fn()
        ts.append(time.perf_counter() - t0)
    return statistics.median(ts) * 1e3


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--warmup", type=int, default=30)
    ap.add_argument("--iters", type=int, default=200)
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args()

    # OpenBLAS reads this when it is loaded (by "import torch").
    os.environ.setdefault("OPENBLAS_NUM_THREADS", str(args.threads))
    global torch, nn, F
    import torch
    import torch.nn as nn
    import torch.nn.functional as F
    torch.set_num_threads(args.threads)
    ob_core, ob_threads = openblas_info()

    model, x, y = build()
    opt = torch.optim.Adam(model.parameters(), lr=1e-3)

    def train_step():
        opt.zero_grad(set_to_none=True)
        loss = F.cross_entropy(model(x), y)
        loss.backward()
        opt.step()

    def grad_only():
        # Fresh gradients each time (no accumulation), no optimizer step.
        for p in model.parameters():
            p.grad = None
        loss = F.cross_entropy(model(x), y)
        loss.backward()

    train_ms = time_loop(train_step, args.warmup, args.iters)
    grad_ms = time_loop(grad_only, args.warmup, args.iters)

    res = {
        "train_step_ms": round(train_ms, 4),
        "grad_ms": round(grad_ms, 4),
        "threads": args.threads,
        "torch": torch.__version__,
        "openblas_core": ob_core,
        "openblas_threads": ob_threads,
    }
    if args.json:
        print(json.dumps(res))
    else:
        print("torch %s threads=%d openblas=%s/%s  train_step %.3f ms  "
              "grad %.3f ms" % (torch.__version__, args.threads, ob_core,
                                ob_threads, train_ms, grad_ms))


if __name__ == "__main__":
    main()
