#!/usr/bin/env python3
"""PyTorch baseline for bench_lm: the same model and training step, tokens/s and MFU.

The model is scripts/torch_lm.py's, the one scripts/torch_oracle.py checks our backends against
(SP: attention scale 1/sqrt(D), logits multiplier 1). A step is what bench_lm times: zero_grad,
forward + backward under bf16 autocast (fp32 master weights), global-norm clipping at 1, fused
AdamW (lr 1e-3, betas 0.9/0.95, eps 1e-8).

Shapes and FLOP count are bench_lm's (bench/bench_lm.cpp): 1m (C 128, L 5, H 4, T 128, V 256,
batch 16), 85m (C 768, L 12, H 12, T 512, V 50304, batch 32) and gpt2-124m (T 1024, batch 16), or
an explicit shape (--d-model --layers --heads --context --vocab, defaults from --shape, named
C..L..H..T..V.. as bench_lm names it); flops/token = 6 (12 L C^2 + V C) + 12 L T C. GFLOP/s
achieved, and MFU against --peak-tflops (989: H100/H200 dense bf16) on CUDA. Median of --steps
timed steps after --warmup, each synchronised; torch.compile unless --eager (or a torch without
it, which is said). On the CPU (--device cpu): bf16 autocast as on CUDA, --threads intra-op
threads (default 2: this project's machines), eager unless --compile.

Usage: scripts/torch_bench.py [--shape 1m|85m|gpt2-124m|all|tiny] [--device cuda|cpu] [--eager]
                              [--d-model C] [--layers L] [--heads H] [--context T] [--vocab V]
                              [--batch B] [--steps 10] [--warmup 3] [--threads 2]
                              [--peak-tflops 989]
Prints one line per shape in bench_lm's columns.
"""
import argparse
import statistics
import sys
import time

try:
    import torch
    from torch_lm import TransformerLM
except ImportError:
    print("torch_bench: PyTorch is not installed for this python; on Debian: "
          "apt-get install python3-torch", file=sys.stderr)
    sys.exit(77)

SHAPES = {  # name: (d_model, layers, heads, context, vocab, batch)
    "tiny": (64, 2, 4, 64, 256, 8),
    "1m": (128, 5, 4, 128, 256, 16),
    "85m": (768, 12, 12, 512, 50304, 32),
    "gpt2-124m": (768, 12, 12, 1024, 50304, 16),
}


def flops_per_token(c, layers, context, vocab):
    return 6.0 * (12 * layers * c * c + vocab * c) + 12.0 * layers * context * c


def explicit_shape(args):
    return any(v is not None for v in (args.d_model, args.layers, args.heads, args.context,
                                       args.vocab))


def shape_of(name, args):
    c, layers, heads, context, vocab, batch = SHAPES[name]
    if explicit_shape(args):
        c = args.d_model or c
        layers = args.layers or layers
        heads = args.heads or heads
        context = args.context or context
        vocab = args.vocab or vocab
        name = f"C{c}L{layers}H{heads}T{context}V{vocab}"
    return name, (c, layers, heads, context, vocab, args.batch or batch)


def bench(shape_name, args):
    name, (c, layers, heads, context, vocab, batch) = shape_of(shape_name, args)
    device = torch.device(args.device)
    torch.manual_seed(0)
    model = TransformerLM(c, layers, heads, context, vocab).to(device)
    try:
        opt = torch.optim.AdamW(model.parameters(), lr=1e-3, betas=(0.9, 0.95), eps=1e-8,
                                weight_decay=0.0, fused=device.type == "cuda")
    except TypeError:  # torch without fused AdamW
        opt = torch.optim.AdamW(model.parameters(), lr=1e-3, betas=(0.9, 0.95), eps=1e-8,
                                weight_decay=0.0)
    mode = "eager"
    step_model = model
    use_compile = not args.eager if device.type == "cuda" else args.compile
    if use_compile:
        if hasattr(torch, "compile"):
            step_model = torch.compile(model)
            mode = "compile"
        else:
            mode = "eager (this torch has no torch.compile)"
    tokens = torch.randint(0, vocab, (batch, context + 1), device=device)
    dtype = torch.bfloat16

    def step():
        opt.zero_grad(set_to_none=True)
        with torch.autocast(device_type=device.type, dtype=dtype):
            loss = step_model(tokens)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
        return loss

    seconds = []
    for i in range(args.warmup + args.steps):
        if device.type == "cuda":
            torch.cuda.synchronize()
        t0 = time.perf_counter()
        step().item()  # .item() synchronises
        s = time.perf_counter() - t0
        if i >= args.warmup:
            seconds.append(s)
    median = statistics.median(seconds)
    tps = batch * context / median
    fpt = flops_per_token(c, layers, context, vocab)
    gflops = fpt * tps * 1e-9
    peak = (f"{100 * gflops / (args.peak_tflops * 1e3):>7.2f}%" if device.type == "cuda"
            else f"{'-':>8}")
    threads = f", {torch.get_num_threads()} threads" if device.type == "cpu" else ""
    print(f"{name:<14} {'torch':<10} {batch:>6} {context:>6} {median * 1e3:>10.2f} {tps:>12.0f} "
          f"{fpt:>9.3e} {gflops:>9.1f} {peak}  ({mode}, bf16 autocast{threads}, "
          f"torch {torch.__version__}, "
          f"min {min(seconds) * 1e3:.2f} ms, max {max(seconds) * 1e3:.2f} ms, "
          f"{len(seconds)} steps)", flush=True)


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--shape", default="all", choices=[*SHAPES, "all"])
    p.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    p.add_argument("--eager", action="store_true", help="skip torch.compile (CUDA)")
    p.add_argument("--compile", action="store_true", help="torch.compile on the CPU")
    p.add_argument("--threads", type=int, default=2, help="intra-op threads on the CPU")
    for dim in ("d-model", "layers", "heads", "context", "vocab"):
        p.add_argument(f"--{dim}", type=int, default=None)
    p.add_argument("--batch", type=int, default=0)
    p.add_argument("--steps", type=int, default=10)
    p.add_argument("--warmup", type=int, default=3)
    p.add_argument("--peak-tflops", type=float, default=989.0)
    args = p.parse_args()
    if args.steps < 1 or args.warmup < 0:
        p.error("--steps must be >= 1 and --warmup >= 0")
    if args.threads < 1:
        p.error("--threads must be >= 1")
    if explicit_shape(args) and args.shape == "all":
        p.error("an explicit shape needs one --shape for its defaults")
    if args.device == "cpu":
        torch.set_num_threads(args.threads)
    print(f"{'shape':<14} {'backend':<10} {'batch':>6} {'ctx':>6} {'ms/step':>10} "
          f"{'tokens/s':>12} {'flop/tok':>9} {'GFLOP/s':>9} {'MFU':>8}")
    for name in (["85m", "gpt2-124m"] if args.shape == "all" else [args.shape]):
        bench(name, args)
    return 0


if __name__ == "__main__":
    sys.exit(main())
