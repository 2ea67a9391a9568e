#!/usr/bin/python3
"""Write the PyTorch fixture for `lot diagnose`.

The committed files are reproduced byte for byte on lot's build machine
with OPENBLAS_CORETYPE=Prescott (OpenBLAS's own choice there): another
kernel rounds the float32 Adam steps differently, which moves the weights
and so the references in about the 9th significant digit.

Output, under testdata/torch/diagnose/ (about 400 KB in all):
  x.npy                 float32 [B, 784] inputs (numpy.save), B = 60
  y.npy                 int64 [B] labels in 0..9 (numpy.save)
  relu_bn.safetensors   state_dict of fc1=Linear(784,32), bn1=BatchNorm1d(32),
                        relu, fc2=Linear(32,10); bn1.num_batches_tracked as I64
  crelu.safetensors     state_dict of fc1=Linear(784,32), crelu
                        (cat([relu(z), relu(-z)], 1)), fc2=Linear(64,10)
  expected.json         PyTorch autograd values of every field of
                        `lot diagnose --json` for both models

(B is 60, not 64, to keep the fixture under 400 KB.)

Each model: torch.manual_seed(seed), default init, 8 Adam steps (lr 1e-3) in
train() mode on minibatches of 20 of x, which also moves BatchNorm's running
statistics. The safetensors files are written by hand (torch 1.13 has no
safetensors library): 8-byte little-endian header length, JSON header
{name: {"dtype", "shape", "data_offsets"}, "__metadata__": {"format": "pt"}}
padded with spaces to a multiple of 8 bytes, then the raw little-endian
tensor bytes in name order.

Reference values, all in float64 from the saved float32 weights and inputs,
on the whole batch with BatchNorm in training mode (batch statistics, biased
variance, eps 1e-5), as lot's default --bn-mode train:
  loss          mean cross-entropy
  grad_norm_sq  ||grad of the mean loss||^2, total and per module
                (fc1 = fc1.weight + fc1.bias, bn1 = bn1.weight + bn1.bias, ...)
  grad_noise    (1/B) sum_i ||g_i - mean g||^2, total = sum over modules.
                g_i is sample i's term of the batch gradient (model/noise.go):
                B * d(mean loss)/d(theta_i), where the forward pass gives
                sample i its own copy theta_i of every parameter (all copies
                equal to theta), BatchNorm's batch statistics computed from
                all rows as usual. Without BatchNorm that is the gradient of
                sample i's own loss, which an explicit loop (one backward
                per sample) confirms; with BatchNorm it is NOT a batch-of-one
                gradient, and the fc1 part is checked against hooks:
                B * delta_i (x) [x_i, 1].
  sharpness     top (algebraically largest) eigenvalue of the Hessian of the
                mean loss, whole network and each module's diagonal block:
                Lanczos with full reorthogonalisation on double-backward
                Hessian-vector products, run until the top Ritz pair's
                residual is below 1e-10 relative; blocks of at most 1000
                parameters are also built densely from HVPs on the basis
                vectors and solved with torch.linalg.eigvalsh (must agree).
                sharpness_min records the smallest eigenvalue, for reference.
  fisher_rank   the empirical-Fisher 99% rule on the per-sample gradients
                (all parameters) of the first min(B, 100) samples: eigenvalues
                s of their Gram matrix, descending; the smallest j with
                sum_{i<=j} s_i >= 0.99 sum s; reported as j/n.
  use           per module, the mean over units of the binary entropy (bits)
                of the sign (> 0) of the module's output across the batch:
                fc1: its linear output; bn1: its output; the last fc: logits.
  weight_norm   ||(weight, bias)|| of the module.
The script asserts margins so that float32 rounding in lot cannot flip a
discrete answer: every module output is at least 2e-5 away from 0 (lot's
float32 outputs are accurate to about 1e-6), and the Fisher rule's
cumulative sums are not within 1e-4 (relative) of the 99% threshold; a seed
that misses a margin is replaced by the next (seed + 100).

Run:  /usr/bin/python3 scripts/torch_diagnose_fixture.py [--out testdata/torch/diagnose]
"""
import argparse
import json
import math
import os
import struct

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

B = 60
EPS = 1e-5


class Net(nn.Module):
    def __init__(self, act, bn):
        super().__init__()
        self.act = act
        self.fc1 = nn.Linear(784, 32)
        if bn:
            self.bn1 = nn.BatchNorm1d(32)
        self.fc2 = nn.Linear(64 if act == "crelu" else 32, 10)

    def forward(self, x):
        z = self.fc1(x)
        if hasattr(self, "bn1"):
            z = self.bn1(z)
        if self.act == "crelu":
            h = torch.cat([F.relu(z), F.relu(-z)], 1)
        else:
            h = F.relu(z)
        return self.fc2(h)


def write_safetensors(path, state):
    header, blobs, off = {}, [], 0
    for name in sorted(state):
        t = state[name].detach().cpu().contiguous()
        if t.dtype == torch.float32:
            dtype, raw = "F32", t.numpy().astype("<f4").tobytes()
        elif t.dtype == torch.int64:
            dtype, raw = "I64", t.numpy().astype("<i8").tobytes()
        else:
            raise ValueError(f"{name}: dtype {t.dtype}")
        header[name] = {"dtype": dtype, "shape": list(t.shape), "data_offsets": [off, off + len(raw)]}
        blobs.append(raw)
        off += len(raw)
    header["__metadata__"] = {"format": "pt"}
    h = json.dumps(header, separators=(",", ":")).encode()
    h += b" " * (-len(h) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(h)))
        f.write(h)
        for b in blobs:
            f.write(b)


# Parameter layout: lot's model.Params order, one module per group.
def layout(bn):
    names = ["fc1.weight", "fc1.bias"]
    if bn:
        names += ["bn1.weight", "bn1.bias"]
    names += ["fc2.weight", "fc2.bias"]
    groups = {"fc1": ["fc1.weight", "fc1.bias"]}
    if bn:
        groups["bn1"] = ["bn1.weight", "bn1.bias"]
    groups["fc2"] = ["fc2.weight", "fc2.bias"]
    return names, groups


def forward64(P, x, y, act, bn, per_sample=False):
    """Mean loss and module outputs; P maps names to float64 tensors, with a
    leading batch dimension (per-sample copies) when per_sample."""
    def lin(a, w, b):
        if per_sample:
            return torch.einsum("bi,boi->bo", a, w) + b
        return a @ w.T + b
    z = lin(x, P["fc1.weight"], P["fc1.bias"])
    outs = {"fc1": z}
    pre = z
    if bn:
        mean = z.mean(0)
        var = ((z - mean) ** 2).mean(0)
        xhat = (z - mean) / torch.sqrt(var + EPS)
        pre = P["bn1.weight"] * xhat + P["bn1.bias"]
        outs["bn1"] = pre
    h = torch.cat([F.relu(pre), F.relu(-pre)], 1) if act == "crelu" else F.relu(pre)
    logits = lin(h, P["fc2.weight"], P["fc2.bias"])
    outs["fc2"] = logits
    return F.cross_entropy(logits, y), outs


def entropy_bits(out):
    p = (out > 0).double().mean(0)
    h = torch.zeros_like(p)
    m = (p > 0) & (p < 1)
    q = p[m]
    h[m] = -(q * torch.log2(q) + (1 - q) * torch.log2(1 - q))
    return h.mean().item()


def lanczos_extremes(hvp, n, gen, tol=1e-10, maxit=600):
    """Top and bottom eigenvalues of a symmetric operator (float64)."""
    V = torch.zeros(min(maxit, n) + 1, n, dtype=torch.float64)
    v = torch.randn(n, generator=gen, dtype=torch.float64)
    V[0] = v / v.norm()
    alphas, betas = [], []
    top = bottom = None
    for j in range(min(maxit, n)):
        w = hvp(V[j])
        a = torch.dot(w, V[j]).item()
        alphas.append(a)
        w = w - a * V[j] - (betas[-1] * V[j - 1] if j > 0 else 0)
        for _ in range(2):  # full reorthogonalisation
            w = w - V[: j + 1].T @ (V[: j + 1] @ w)
        b = w.norm().item()
        k = j + 1
        T = torch.diag(torch.tensor(alphas, dtype=torch.float64))
        if k > 1:
            off = torch.tensor(betas, dtype=torch.float64)
            T += torch.diag(off, 1) + torch.diag(off, -1)
        evals, evecs = torch.linalg.eigh(T)
        top, bottom = evals[-1].item(), evals[0].item()
        res_top = abs(b * evecs[-1, -1].item())
        res_bot = abs(b * evecs[-1, 0].item())
        scale = max(abs(top), abs(bottom))
        if (res_top <= tol * scale and res_bot <= tol * scale) or b < 1e-14 * scale or k == n:
            return top, bottom, k
        betas.append(b)
        V[k] = w / b
    raise RuntimeError("Lanczos did not converge")


def reference(model, act, bn, x32, y, seed):
    names, groups = layout(bn)
    sd = model.state_dict()
    theta = {n: sd[n].double().clone() for n in names}
    x = x32.double()

    # Loss and batch gradient on shared parameters; checked against the
    # nn.Module itself (float64 copy, train mode).
    P = {n: theta[n].clone().requires_grad_() for n in names}
    loss, outs = forward64(P, x, y, act, bn)
    grads = torch.autograd.grad(loss, [P[n] for n in names])
    gbar = dict(zip(names, grads))
    mod = Net(act, bn).double()
    mod.load_state_dict({k: v.double() if v.is_floating_point() else v for k, v in sd.items()})
    mod.train()
    mod.zero_grad()
    l2 = F.cross_entropy(mod(x), y)
    l2.backward()
    assert abs(l2.item() - loss.item()) < 1e-12, (l2.item(), loss.item())
    for n in names:
        assert torch.allclose(dict(mod.named_parameters())[n].grad, gbar[n], rtol=1e-10, atol=1e-14), n

    # Per-sample terms of the batch gradient via per-sample parameter copies.
    C = {n: theta[n].unsqueeze(0).expand(B, *theta[n].shape).clone().requires_grad_() for n in names}
    lc, _ = forward64(C, x, y, act, bn, per_sample=True)
    assert abs(lc.item() - loss.item()) < 1e-12
    gc = torch.autograd.grad(lc, [C[n] for n in names])
    G = {n: B * g for n, g in zip(names, gc)}  # [B, *shape]
    for n in names:
        assert torch.allclose(G[n].mean(0), gbar[n], rtol=1e-10, atol=1e-14), n
    if not bn:
        # Without BatchNorm: the gradient of each sample's own loss.
        for i in range(B):
            Pi = {n: theta[n].clone().requires_grad_() for n in names}
            li, _ = forward64(Pi, x[i:i + 1], y[i:i + 1], act, bn)
            gi = torch.autograd.grad(li, [Pi[n] for n in names])
            for n, g in zip(names, gi):
                assert torch.allclose(G[n][i], g, rtol=1e-9, atol=1e-13), (i, n)
    else:
        # With BatchNorm: hooks' form B * delta_i (x) [x_i, 1] for fc1.
        P2 = {n: theta[n].clone().requires_grad_() for n in names}
        z = x @ P2["fc1.weight"].T + P2["fc1.bias"]
        z.retain_grad()
        mean = z.mean(0)
        xhat = (z - mean) / torch.sqrt(((z - mean) ** 2).mean(0) + EPS)
        pre = P2["bn1.weight"] * xhat + P2["bn1.bias"]
        pre.retain_grad()
        F.cross_entropy(F.relu(pre) @ P2["fc2.weight"].T + P2["fc2.bias"], y).backward()
        hook_w = B * torch.einsum("bo,bi->boi", z.grad, x)
        assert torch.allclose(hook_w, G["fc1.weight"], rtol=1e-9, atol=1e-13)
        hook_g = B * pre.grad * xhat.detach()
        assert torch.allclose(hook_g, G["bn1.weight"], rtol=1e-9, atol=1e-13)

    return signals(lambda Q, xx, yy: forward64(Q, xx, yy, act, bn), theta, x, y, names, groups, G, gbar, loss, outs, seed)

def signals(fwd, theta, x, y, names, groups, G, gbar, loss, outs, seed):
    """What lot diagnose reports, in float64: the Fisher rank from the
    per-sample gradients G, each group's gradient norm, noise, sharpness and
    unit-sign entropy, and the whole network's, from the batch gradient gbar
    and fwd(P, x, y) -> (mean loss, each linear module's output). None when
    a discrete result sits too near its boundary (the caller re-seeds)."""
    B = x.shape[0]
    flat = torch.cat([G[n].reshape(B, -1) for n in names], 1)  # [B, P]
    nf = min(B, 100)
    gram = flat[:nf] @ flat[:nf].T
    s = torch.linalg.eigvalsh(gram).flip(0).clamp(min=0)
    total = s.sum().item()
    cum = torch.cumsum(s, 0)
    rank = int((cum >= 0.99 * total).nonzero()[0].item()) + 1
    margin = (cum - 0.99 * total).abs().min().item() / total
    out_margin = min(o.abs().min().item() for o in outs.values())
    if margin < 1e-4 or out_margin < 2e-5:
        return None  # too close to a discrete boundary: the caller re-seeds

    # Hessian-vector products by double backward, whole network or a block.
    gen = torch.Generator().manual_seed(seed)

    def make_hvp(block):
        Ph = {n: theta[n].clone().requires_grad_(n in block) for n in names}
        lh, _ = fwd(Ph, x, y)
        gs = torch.autograd.grad(lh, [Ph[n] for n in block], create_graph=True)
        gflat = torch.cat([g.reshape(-1) for g in gs])
        params = [Ph[n] for n in block]

        def hvp(v):
            hv = torch.autograd.grad(gflat, params, grad_outputs=v, retain_graph=True)
            return torch.cat([h.reshape(-1) for h in hv]).detach()
        return hvp, gflat.numel()

    def sharpness(block):
        hvp, n = make_hvp(block)
        top, bottom, iters = lanczos_extremes(hvp, n, gen)
        if n <= 1000:
            H = torch.stack([hvp(e) for e in torch.eye(n, dtype=torch.float64)])
            assert torch.allclose(H, H.T, rtol=1e-8, atol=1e-12)
            ev = torch.linalg.eigvalsh((H + H.T) / 2)
            assert abs(ev[-1].item() - top) <= 1e-9 * abs(ev).max().item(), (ev[-1].item(), top)
            top, bottom = ev[-1].item(), ev[0].item()
        return top, bottom, iters

    def sq(n_list, src):
        return sum((src[n] ** 2).sum().item() for n in n_list)

    rep = {"loss": loss.item()}
    layers, gsum, nsum = [], 0.0, 0.0
    for g, members in groups.items():
        g2 = sq(members, gbar)
        noise = sum(((G[n] - gbar[n]) ** 2).sum().item() for n in members) / B
        top, bottom, iters = sharpness(members)
        layers.append({"name": g, "grad_norm_sq": g2, "grad_noise": noise, "sharpness": top,
                       "use": entropy_bits(outs[g]), "weight_norm": math.sqrt(sq(members, theta)),
                       "sharpness_min": bottom, "lanczos_iters": iters})
        gsum += g2
        nsum += noise
    top, bottom, iters = sharpness(names)
    rep.update({"grad_norm_sq": gsum, "grad_noise": nsum, "sharpness": top, "fisher_rank": rank / nf,
                "layers": layers, "sharpness_min": bottom, "lanczos_iters": iters,
                "output_margin": out_margin, "fisher_margin": margin})
    return rep


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--out", default=os.path.join(os.path.dirname(__file__), "..", "testdata", "torch", "diagnose"))
    args = ap.parse_args()
    os.makedirs(args.out, exist_ok=True)
    torch.manual_seed(0)
    x = torch.randn(B, 784)
    y = torch.randint(0, 10, (B,))
    np.save(os.path.join(args.out, "x.npy"), x.numpy().astype(np.float32))
    np.save(os.path.join(args.out, "y.npy"), y.numpy().astype(np.int64))
    cases = {}
    for name, act, bn, seed in [("relu_bn", "relu", True, 1), ("crelu", "crelu", False, 2)]:
        exp = None
        while exp is None:
            torch.manual_seed(seed)
            model = Net(act, bn)
            opt = torch.optim.Adam(model.parameters(), lr=1e-3)
            model.train()
            for step in range(8):
                idx = torch.arange(20) + 20 * (step % 3)
                opt.zero_grad()
                F.cross_entropy(model(x[idx]), y[idx]).backward()
                opt.step()
            exp = reference(model, act, bn, x, y, seed)
            if exp is None:
                print(name, "seed", seed, "misses a margin; trying", seed + 100)
                seed += 100
        fname = name + ".safetensors"
        write_safetensors(os.path.join(args.out, fname), model.state_dict())
        cases[name] = {"checkpoint": fname, "activation": act, "batchnorm": bn, "seed": seed, "expected": exp}
        print(name, json.dumps({k: v for k, v in exp.items() if k != "layers"}))
    doc = {"README": "Written by scripts/torch_diagnose_fixture.py; see its docstring.",
           "torch": torch.__version__, "inputs": "x.npy", "labels": "y.npy", "cases": cases}
    with open(os.path.join(args.out, "expected.json"), "w") as f:
        json.dump(doc, f, indent=1)
        f.write("\n")


if __name__ == "__main__":
    main()
