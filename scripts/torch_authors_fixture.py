#!/usr/bin/python3
"""Write the PyTorch fixture for `lot diagnose` on the authors' layout.

The committed files are reproduced byte for byte on lot's build machine
with OPENBLAS_CORETYPE=SkylakeX (another kernel rounds the float32 Adam
steps differently).

The authors' MLP (github.com/sheeerio/continual, models/mlp.py) has two
hidden layers whose linear modules are named fc1, fc2 and fc4 (there is no
fc3); with CReLU each hidden layer keeps its pre-activation width and the
next layer reads twice as many inputs. This fixture is that layout at a
small width (784-16-16-10, CReLU 784-16-[32]-16-[32]-10), so that lot's
reading of gapped layer names, CReLU widths inferred from shapes, and every
per-layer signal on three linear layers are checked against PyTorch.

Output, under testdata/torch/diagnose-authors/ (about 110 KB):
  relu.safetensors, crelu.safetensors   state_dicts (fc1, fc2, fc4)
  expected.json                         PyTorch float64 autograd values of
                                        every field of `lot diagnose --json`,
                                        layers named fc1, fc2, fc4
The inputs and labels are testdata/torch/diagnose/x.npy and y.npy (B = 60).

Each model: torch.manual_seed(seed), the authors' init (Kaiming-uniform with
ReLU gain on the weights, zero biases), 8 Adam steps (lr 1e-3) on
minibatches of 20 of x. Reference values are computed exactly as in
scripts/torch_diagnose_fixture.py (see its docstring), whose helpers this
script imports: per-sample gradients via per-sample parameter copies,
confirmed by an explicit per-sample loop; sharpness by Lanczos with full
reorthogonalisation to residual 1e-10, blocks of at most 1000 parameters
also solved densely; the same margins on module outputs and on the Fisher
rule, with re-seeding (seed + 100) when one is missed.

Run:  /usr/bin/python3 scripts/torch_authors_fixture.py [--out testdata/torch/diagnose-authors]
"""
import argparse
import json
import os
import sys

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from torch_diagnose_fixture import signals, write_safetensors  # noqa: E402

WIDTH = 16
FCS = ["fc1", "fc2", "fc4"]


class AuthorsNet(nn.Module):
    def __init__(self, act):
        super().__init__()
        self.act = act
        f = 2 if act == "crelu" else 1
        self.fc1 = nn.Linear(784, WIDTH)
        self.fc2 = nn.Linear(WIDTH * f, WIDTH)
        self.fc4 = nn.Linear(WIDTH * f, 10)
        for m in (self.fc1, self.fc2, self.fc4):
            nn.init.kaiming_uniform_(m.weight, nonlinearity="relu")
            nn.init.zeros_(m.bias)

    def forward(self, x):
        h = x
        for fc in (self.fc1, self.fc2):
            z = fc(h)
            h = torch.cat([F.relu(z), F.relu(-z)], 1) if self.act == "crelu" else F.relu(z)
        return self.fc4(h)


def names():
    return [f"{fc}.{p}" for fc in FCS for p in ("weight", "bias")]


def forward64(P, x, y, act, per_sample=False):
    """Mean loss and each linear module's output (float64)."""
    def lin(a, w, b):
        if per_sample:
            return torch.einsum("bi,boi->bo", a, w) + b
        return a @ w.T + b
    outs, h = {}, x
    for i, fc in enumerate(FCS):
        z = lin(h, P[fc + ".weight"], P[fc + ".bias"])
        outs[fc] = z
        if i < len(FCS) - 1:
            h = torch.cat([F.relu(z), F.relu(-z)], 1) if act == "crelu" else F.relu(z)
    return F.cross_entropy(z, y), outs


def reference(model, act, x32, y, seed):
    B = x32.shape[0]
    ns = names()
    sd = model.state_dict()
    theta = {n: sd[n].double().clone() for n in ns}
    x = x32.double()

    P = {n: theta[n].clone().requires_grad_() for n in ns}
    loss, outs = forward64(P, x, y, act)
    gbar = dict(zip(ns, torch.autograd.grad(loss, [P[n] for n in ns])))
    mod = AuthorsNet(act).double()
    mod.load_state_dict({k: v.double() for k, v in sd.items()})
    l2 = F.cross_entropy(mod(x), y)
    l2.backward()
    assert abs(l2.item() - loss.item()) < 1e-12, (l2.item(), loss.item())
    for n in ns:
        assert torch.allclose(dict(mod.named_parameters())[n].grad, gbar[n], rtol=1e-10, atol=1e-14), n

    C = {n: theta[n].unsqueeze(0).expand(B, *theta[n].shape).clone().requires_grad_() for n in ns}
    lc, _ = forward64(C, x, y, act, per_sample=True)
    G = {n: B * g for n, g in zip(ns, torch.autograd.grad(lc, [C[n] for n in ns]))}
    for i in range(B):  # each sample's own loss, one backward each
        Pi = {n: theta[n].clone().requires_grad_() for n in ns}
        li, _ = forward64(Pi, x[i:i + 1], y[i:i + 1], act)
        for n, g in zip(ns, torch.autograd.grad(li, [Pi[n] for n in ns])):
            assert torch.allclose(G[n][i], g, rtol=1e-9, atol=1e-13), (i, n)

    groups = {fc: [fc + ".weight", fc + ".bias"] for fc in FCS}
    return signals(lambda Q, xx, yy: forward64(Q, xx, yy, act), theta, x, y, ns, groups, G, gbar, loss, outs, seed)

def main():
    here = os.path.dirname(os.path.abspath(__file__))
    ap = argparse.ArgumentParser()
    ap.add_argument("--out", default=os.path.join(here, "..", "testdata", "torch", "diagnose-authors"))
    args = ap.parse_args()
    os.makedirs(args.out, exist_ok=True)
    inputs = os.path.join(here, "..", "testdata", "torch", "diagnose")
    x = torch.from_numpy(np.load(os.path.join(inputs, "x.npy")))
    y = torch.from_numpy(np.load(os.path.join(inputs, "y.npy")))
    cases = {}
    for act, seed in [("relu", 11), ("crelu", 12)]:
        exp = None
        while exp is None:
            torch.manual_seed(seed)
            model = AuthorsNet(act)
            opt = torch.optim.Adam(model.parameters(), lr=1e-3)
            for step in range(8):
                idx = torch.arange(20) + 20 * (step % 3)
                opt.zero_grad()
                F.cross_entropy(model(x[idx]), y[idx]).backward()
                opt.step()
            exp = reference(model, act, x, y, seed)
            if exp is None:
                print(act, "seed", seed, "misses a margin; trying", seed + 100)
                seed += 100
        fname = act + ".safetensors"
        write_safetensors(os.path.join(args.out, fname), model.state_dict())
        cases[act] = {"checkpoint": fname, "activation": act, "batchnorm": False, "seed": seed, "expected": exp}
        print(act, json.dumps({k: v for k, v in exp.items() if k != "layers"}))
    doc = {"README": "Written by scripts/torch_authors_fixture.py; see its docstring.",
           "torch": torch.__version__, "inputs": "../diagnose/x.npy", "labels": "../diagnose/y.npy", "cases": cases}
    with open(os.path.join(args.out, "expected.json"), "w") as f:
        json.dump(doc, f, indent=1)
        f.write("\n")


if __name__ == "__main__":
    main()
