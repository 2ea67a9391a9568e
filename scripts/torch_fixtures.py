#!/usr/bin/python3
"""Write PyTorch reference fixtures for the Go MLP engine.

The committed file is reproduced byte for byte on lot's build machine with
OPENBLAS_CORETYPE=Prescott (OpenBLAS's own choice there; PyTorch 1.13 from
Debian): another OpenBLAS kernel rounds the float32 steps differently.

Output: testdata/torch/adam_cases.json, one JSON object
  {"README": str, "torch": torch.__version__, "cases": [case, ...]}

Everything is float32 (like the Go engine); floats are written as the repr of
the python float of each float32 value (exact, round-trips through float64).
Tensors are flattened row-major; nn.Linear weights have PyTorch shape
[out, in].

Per case (see CASES below):
  torch.manual_seed(seed); build the net in order fc1[,bn1],fc2[,bn2],...,
  fc{L+1} (default nn.Linear / nn.BatchNorm1d init); then
  x = torch.randn(16, 12); y = torch.randint(0, 4, (16,)).
  Net: for hidden layer i: z = fc{i}(h); [z = bn{i}(z)]; h = act(z); then
  logits = fc{L+1}(h).  act: relu | crelu (cat([relu(z), relu(-z)], 1), which
  doubles the next input width) | leaky_relu:<slope> | linear (identity).
  3 steps on the same batch, in train mode:
    opt.zero_grad(set_to_none=True)
    loss = F.cross_entropy(logits, y)           # mean CE -> "loss"
    reg  = lam * sum_t R(theta_t, theta0_t)     # -> "reg_loss" (0 if none)
      l2init:      R = sum((theta - theta0)**2)
      wasserstein: R = sum((sort(theta.flatten()) - sort(theta0.flatten()))**2)
      over every weight and bias tensor (BN affine weight/bias included).
    (loss + reg).backward()                      # p.grad -> "grads" (step 0)
    opt.step()                                   # state_dict -> "params_after"
  Adam: torch.optim.Adam(..., foreach=False) (coupled L2 weight_decay: adds
  wd*theta to grad inside step; "grads" are p.grad, BEFORE that addition).
  SGD: torch.optim.SGD(momentum, dampening=0, nesterov=False, weight_decay).

Run:  /usr/bin/python3 scripts/torch_fixtures.py [--out testdata/torch/adam_cases.json]
"""
import argparse
import json
import os

import torch
import torch.nn as nn
import torch.nn.functional as F

IN_DIM = 12
N_CLASSES = 4
BATCH = 16
N_STEPS = 3

ADAM = lambda lr, wd=0.0: {"type": "adam", "lr": lr, "betas": [0.9, 0.999],
                           "eps": 1e-8, "weight_decay": wd}
NOREG = {"kind": "none", "strength": 0.0}

CASES = [
    dict(name="relu_h8_adam", seed=101, activation="relu", hidden=[8],
         batchnorm=False, optimizer=ADAM(1e-2), reg=NOREG),
    dict(name="relu_h8x6_adam_wd", seed=102, activation="relu", hidden=[8, 6],
         batchnorm=False, optimizer=ADAM(1e-2, 1e-2), reg=NOREG),
    dict(name="crelu_h8_adam", seed=103, activation="crelu", hidden=[8],
         batchnorm=False, optimizer=ADAM(1e-2), reg=NOREG),
    dict(name="leaky0.3_h8_sgd_momentum", seed=104, activation="leaky_relu:0.3",
         hidden=[8], batchnorm=False,
         optimizer={"type": "sgd", "lr": 0.1, "momentum": 0.9,
                    "weight_decay": 1e-3},
         reg=NOREG),
    dict(name="linear_h8x8_adam", seed=105, activation="linear", hidden=[8, 8],
         batchnorm=False, optimizer=ADAM(1e-2), reg=NOREG),
    dict(name="relu_bn_h8_adam", seed=106, activation="relu", hidden=[8],
         batchnorm=True, optimizer=ADAM(1e-2), reg=NOREG),
    dict(name="relu_h8_adam_wasserstein", seed=107, activation="relu",
         hidden=[8], batchnorm=False, optimizer=ADAM(1e-2),
         reg={"kind": "wasserstein", "strength": 1e-1}),
    dict(name="relu_h8_adam_l2init", seed=108, activation="relu", hidden=[8],
         batchnorm=False, optimizer=ADAM(1e-2),
         reg={"kind": "l2init", "strength": 1e-1}),
]


class MLP(nn.Module):
    def __init__(self, activation, hidden, batchnorm):
        super().__init__()
        self.activation = activation
        self.hidden = list(hidden)
        self.batchnorm = batchnorm
        width = IN_DIM
        for i, h in enumerate(hidden, start=1):
            setattr(self, "fc%d" % i, nn.Linear(width, h))
            if batchnorm:
                setattr(self, "bn%d" % i, nn.BatchNorm1d(h))
            width = 2 * h if activation == "crelu" else h
        setattr(self, "fc%d" % (len(hidden) + 1), nn.Linear(width, N_CLASSES))

    def act(self, z):
        a = self.activation
        if a == "relu":
            return F.relu(z)
        if a == "crelu":
            return torch.cat([F.relu(z), F.relu(-z)], dim=1)
        if a.startswith("leaky_relu:"):
            return F.leaky_relu(z, float(a.split(":", 1)[1]))
        if a == "linear":
            return z
        raise ValueError(a)

    def forward(self, x):
        h = x
        for i in range(1, len(self.hidden) + 1):
            z = getattr(self, "fc%d" % i)(h)
            if self.batchnorm:
                z = getattr(self, "bn%d" % i)(z)
            h = self.act(z)
        return getattr(self, "fc%d" % (len(self.hidden) + 1))(h)


def flat(t):
    t = t.detach()
    assert t.dtype == torch.float32, t.dtype
    return [float(v) for v in t.reshape(-1).tolist()]


def state(model):
    out = {}
    for k, v in model.state_dict().items():
        if k.endswith("num_batches_tracked"):
            continue
        out[k] = {"shape": list(v.shape), "data": flat(v)}
    return out


def regulariser(model, theta0, reg):
    kind, lam = reg["kind"], reg["strength"]
    if kind == "none":
        return None
    total = None
    for name, p in model.named_parameters():
        p0 = theta0[name]
        if kind == "l2init":
            r = ((p - p0) ** 2).sum()
        elif kind == "wasserstein":
            r = ((torch.sort(p.reshape(-1))[0]
                  - torch.sort(p0.reshape(-1))[0]) ** 2).sum()
        else:
            raise ValueError(kind)
        total = r if total is None else total + r
    return lam * total


def run_case(c):
    torch.manual_seed(c["seed"])
    model = MLP(c["activation"], c["hidden"], c["batchnorm"])
    x = torch.randn(BATCH, IN_DIM)
    y = torch.randint(0, N_CLASSES, (BATCH,))
    o = c["optimizer"]
    if o["type"] == "adam":
        opt = torch.optim.Adam(model.parameters(), lr=o["lr"],
                               betas=tuple(o["betas"]), eps=o["eps"],
                               weight_decay=o["weight_decay"], foreach=False)
    else:
        opt = torch.optim.SGD(model.parameters(), lr=o["lr"],
                              momentum=o["momentum"], dampening=0,
                              nesterov=False, weight_decay=o["weight_decay"],
                              foreach=False)
    theta0 = {n: p.detach().clone() for n, p in model.named_parameters()}
    rec = {k: c[k] for k in ("name", "seed", "activation", "hidden",
                             "batchnorm", "optimizer", "reg")}
    rec["x"] = flat(x)
    rec["y"] = [int(v) for v in y.tolist()]
    rec["init"] = state(model)
    steps = []
    model.train()
    for s in range(N_STEPS):
        opt.zero_grad(set_to_none=True)
        logits = model(x)
        loss = F.cross_entropy(logits, y)
        r = regulariser(model, theta0, c["reg"])
        total = loss if r is None else loss + r
        total.backward()
        st = {"loss": float(loss.item()),
              "reg_loss": 0.0 if r is None else float(r.item())}
        if s == 0:
            st["grads"] = {n: flat(p.grad) for n, p in model.named_parameters()}
        opt.step()
        st["params_after"] = state(model)
        steps.append(st)
    rec["steps"] = steps
    model.eval()
    with torch.no_grad():
        rec["eval_logits_after"] = flat(model(x))
    model.train()
    return rec


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--out", default=os.path.join(
        os.path.dirname(os.path.abspath(__file__)), "..", "testdata", "torch",
        "adam_cases.json"))
    args = ap.parse_args()
    torch.set_num_threads(1)
    torch.use_deterministic_algorithms(True)
    cases = [run_case(c) for c in CASES]
    doc = {
        "README": ("Generated by scripts/torch_fixtures.py with PyTorch %s "
                   "(CPU, float32). See that script's docstring for the exact "
                   "procedure and schema. Regenerate: /usr/bin/python3 "
                   "scripts/torch_fixtures.py" % torch.__version__),
        "torch": torch.__version__,
        "cases": cases,
    }
    out = os.path.normpath(args.out)
    os.makedirs(os.path.dirname(out), exist_ok=True)
    with open(out, "w") as f:
        json.dump(doc, f, separators=(",", ":"))
        f.write("\n")
    print("wrote %s (%d bytes, %d cases)" % (out, os.path.getsize(out),
                                             len(cases)))


if __name__ == "__main__":
    main()
