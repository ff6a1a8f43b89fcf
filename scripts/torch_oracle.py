#!/usr/bin/python3
"""Independent oracle for the LM backends: the same model, written again in PyTorch.

Reads a dump made by `build/bench/bench_lm --dump-oracle DIR --backend B` (format: the header of
bench/bench_lm.cpp): the initial flat parameters, token batches, and what backend B computed from
them -- the first loss, every parameter's gradient, and the losses of 10 AdamW steps with global
norm clipping. Rebuilds the model from the dump's layout in PyTorch (autograd for the gradients,
its own AdamW arithmetic written from backend.hpp's contract) and compares.

The model is scripts/torch_lm.py's (the one torch_bench.py times), called on our flat parameter
vector through torch.func.functional_call.

Tolerances by the backend's precision (STYLE.md: derived, not guessed). The oracle runs in fp64:
  reference, cpu-fp32, cuda-fp32 (fp32 everywhere): one fp32 op errs ~6e-8 relative; a loss or gradient is a few
    hundred dependent ops deep at these sizes, so 1e-5 relative leaves two orders of margin over
    the ~1e-6 typical accumulated error and still catches any wrong formula (those are O(1)).
  cpu, cuda (bf16 GEMM operands where the device has bf16, fp32 accumulation; the fast CPU
    backend falls back to fp32 operands on a CPU without bf16, which passes these bounds too): bf16 has 8 mantissa bits, 2^-9 = 2e-3 relative per
    rounding; loss to 1e-2 relative (the issue's bound), gradients to 5e-2 in relative L2 norm per
    tensor (several roundings compound through the backward pass), step losses to 2e-2.
Exit code: 0 when every comparison passes, 1 when any fails, 2 on bad input, 77 without torch.
Usage: scripts/torch_oracle.py DIR [--json]
"""
import json
import sys

try:
    import numpy as np
except ImportError:
    print("torch_oracle: numpy is missing: apt-get install python3-numpy", file=sys.stderr)
    sys.exit(77)
try:
    import torch
    from torch_lm import TransformerLM, flat_parameters, functional_call
except ImportError:
    print("torch_oracle: SKIPPED: PyTorch is not installed for this python "
          f"({sys.executable}); on Debian: apt-get install python3-torch", file=sys.stderr)
    sys.exit(77)

TOLERANCES = {
    # backend: (loss rel, grad rel-L2 per tensor, step-loss rel)
    "reference": (1e-5, 1e-4, 1e-4),
    "cpu-fp32": (1e-5, 1e-4, 1e-4),
    "cpu": (1e-2, 5e-2, 2e-2),
    "cuda-fp32": (1e-5, 1e-4, 1e-4),
    "cuda": (1e-2, 5e-2, 2e-2),
}


def load_dump(directory):
    with open(f"{directory}/model.json") as f:
        meta = json.load(f)
    arrays = {name: np.load(f"{directory}/{name}.npy")
              for name in ("params", "tokens", "loss", "grads", "step_losses")}
    if arrays["params"].shape != (meta["total"],):
        raise ValueError(f"params.npy has shape {arrays['params'].shape}, "
                         f"model.json says total = {meta['total']}")
    return meta, arrays


def make_model(meta):
    """The PyTorch model (torch_lm.py) in fp64 with the dump's shape and multipliers."""
    return TransformerLM(meta["d_model"], meta["layers"], meta["heads"], meta["context"],
                         meta["vocab"], attention_scale=meta["attention_scale"],
                         logit_multiplier=meta["logit_multiplier"], rope_base=meta["rope_base"],
                         eps=meta["layernorm_eps"]).double()


def loss_of(model, meta, theta, tokens):
    """Mean loss of the flat parameters `theta` on tokens (B, T + 1), differentiable in theta."""
    return functional_call(model, flat_parameters(model, theta, meta["tensors"]), (tokens,))


def adamw_steps(model, meta, params, tokens, opt):
    """Losses of len(tokens) AdamW steps as backend.hpp's OptimizerStep describes."""
    theta = params.clone()
    m, v = torch.zeros_like(theta), torch.zeros_like(theta)
    lr_mult = torch.ones_like(theta)
    decays = torch.zeros_like(theta)
    for t in meta["tensors"]:
        n = t["rows"] * t["cols"]
        lr_mult[t["offset"]:t["offset"] + n] = t["lr_multiplier"]
        decays[t["offset"]:t["offset"] + n] = 1.0 if t["weight_decay"] else 0.0
    losses = []
    for step, batch in enumerate(tokens, start=1):
        theta.requires_grad_(True)
        loss = loss_of(model, meta, theta, batch)
        (grad,) = torch.autograd.grad(loss, theta)
        losses.append(loss.item())
        with torch.no_grad():
            theta = theta.detach()
            norm = grad.norm().item()
            g = grad * (1.0 / norm if norm > opt["clip_norm"] else 1.0)
            lr = opt["lr"] * lr_mult
            theta = theta * (1.0 - lr * opt["weight_decay"] * decays)
            m = opt["beta1"] * m + (1 - opt["beta1"]) * g
            v = opt["beta2"] * v + (1 - opt["beta2"]) * g * g
            mhat = m / (1 - opt["beta1"] ** step)
            vhat = v / (1 - opt["beta2"] ** step)
            theta = theta - lr * mhat / (vhat.sqrt() + opt["eps"])
    return losses


def rel(a, b):
    return abs(a - b) / max(abs(b), 1e-300)


def main(argv):
    args = [a for a in argv if not a.startswith("--")]
    as_json = "--json" in argv
    if len(args) != 1:
        print("usage: scripts/torch_oracle.py DIR [--json]", file=sys.stderr)
        return 2
    try:
        meta, arr = load_dump(args[0])
    except (OSError, ValueError, KeyError) as e:
        print(f"torch_oracle: {args[0]}: {e}", file=sys.stderr)
        return 2
    backend = meta["backend"]
    if backend not in TOLERANCES:
        print(f"torch_oracle: backend '{backend}' in model.json: must be one of "
              f"{', '.join(TOLERANCES)}", file=sys.stderr)
        return 2
    loss_tol, grad_tol, step_tol = TOLERANCES[backend]
    torch.manual_seed(0)
    model = make_model(meta)
    params = torch.from_numpy(arr["params"].astype(np.float64))
    tokens = torch.from_numpy(arr["tokens"].astype(np.int64))  # (steps, B, T + 1)

    theta = params.clone().requires_grad_(True)
    loss = loss_of(model, meta, theta, tokens[0])
    (grad,) = torch.autograd.grad(loss, theta)
    ours_grad = torch.from_numpy(arr["grads"].astype(np.float64))

    rows = []
    ok = True
    loss_err = rel(float(arr["loss"][0]), loss.item())
    ok &= loss_err <= loss_tol
    rows.append(("loss", float(arr["loss"][0]), loss.item(), loss_err, loss_tol))
    worst_grad = 0.0
    for t in meta["tensors"]:
        n = t["rows"] * t["cols"]
        sl = slice(t["offset"], t["offset"] + n)
        ref = grad[sl]
        err = ((ours_grad[sl] - ref).norm() / max(ref.norm().item(), 1e-300)).item()
        worst_grad = max(worst_grad, err)
        ok &= err <= grad_tol
        rows.append((f"grad {t['name']}", ours_grad[sl].norm().item(), ref.norm().item(), err,
                     grad_tol))
    # Padding between tensors must have zero gradient.
    mask = torch.ones_like(ours_grad, dtype=torch.bool)
    for t in meta["tensors"]:
        mask[t["offset"]:t["offset"] + t["rows"] * t["cols"]] = False
    pad = ours_grad[mask].abs().max().item() if mask.any() else 0.0
    ok &= pad == 0.0
    rows.append(("grad padding (max |g|)", pad, 0.0, pad, 0.0))

    ref_losses = adamw_steps(model, meta, params, tokens, meta["optimizer"])
    worst_step = 0.0
    for s, (a, b) in enumerate(zip(arr["step_losses"].tolist(), ref_losses), start=1):
        err = rel(a, b)
        worst_step = max(worst_step, err)
        ok &= err <= step_tol
        rows.append((f"step {s} loss", a, b, err, step_tol))

    if as_json:
        print(json.dumps({"backend": backend, "shape": meta["shape"], "pass": bool(ok),
                          "loss_rel_error": loss_err, "worst_grad_rel_l2": worst_grad,
                          "worst_step_loss_rel_error": worst_step,
                          "rows": [dict(zip(("what", "ours", "torch", "error", "bound"), r))
                                   for r in rows]}))
    else:
        print(f"torch oracle: backend {backend}, shape {meta['shape']} (d_model {meta['d_model']}"
              f", layers {meta['layers']}, heads {meta['heads']}, context {meta['context']}, "
              f"vocab {meta['vocab']}), torch {torch.__version__} in fp64")
        print(f"{'what':<28} {'ours':>14} {'torch':>14} {'error':>10} {'bound':>9}")
        for what, a, b, err, bound in rows:
            flag = "" if err <= bound else "  FAIL"
            print(f"{what:<28} {a:>14.7g} {b:>14.7g} {err:>10.2e} {bound:>9.1e}{flag}")
        print(f"torch oracle: {'PASS' if ok else 'FAIL'} (loss {loss_err:.2e}, worst gradient "
              f"{worst_grad:.2e}, worst step loss {worst_step:.2e})")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
