"""The study's language model written again in PyTorch: the oracle (torch_oracle.py) checks our
backends against it, and the baseline benchmark (torch_bench.py) times it, so both use one model.

The architecture (gpu/model_config.hpp): pre-norm LayerNorm without bias (eps 1e-5); qkv in one
matrix (q | k | v rows); LayerNorm over all C of q and of k with their own gains; RoPE on pairs
(i, i + D/2) of every head, angle t * base^(-2i/D); causal softmax attention scaled by
`attention_scale` (F.scaled_dot_product_attention: flash attention on a GPU); GELU (erf) MLP 4C;
final LayerNorm; untied read-out times `logit_multiplier`; mean cross-entropy over batch * context
predictions. Parameter names are those of gpu/param_layout.cpp plus ".weight" ("wte.weight",
"layers.0.qkv.weight", ...), so our flat layout maps onto them by name (flat_parameters).
"""
import torch
import torch.nn as nn
import torch.nn.functional as F


class _NoBiasLayerNorm(nn.Module):  # torch < 2.1 has no LayerNorm(bias=False)
    def __init__(self, c, eps):
        super().__init__()
        self.weight = nn.Parameter(torch.ones(c))
        self.eps = eps

    def forward(self, x):
        return F.layer_norm(x, (x.shape[-1],), self.weight.to(x.dtype), None, self.eps)


def layer_norm(c, eps):
    try:
        return nn.LayerNorm(c, eps=eps, bias=False)
    except TypeError:
        return _NoBiasLayerNorm(c, eps)


def causal_attention(q, k, v, scale):  # (B, H, T, D)
    try:
        return F.scaled_dot_product_attention(q, k, v, is_causal=True, scale=scale)
    except (AttributeError, TypeError):  # torch < 2.1: the plain formula
        t = q.shape[-2]
        scores = (q @ k.transpose(-1, -2)) * scale
        mask = torch.ones(t, t, dtype=torch.bool, device=q.device).tril()
        return torch.softmax(scores.masked_fill(~mask, float("-inf")), dim=-1) @ v


def rope(x, cos, sin):  # x (B, T, H, D); cos, sin (T, D/2)
    half = x.shape[-1] // 2
    a, b = x[..., :half], x[..., half:]
    cos, sin = cos[None, :, None, :], sin[None, :, None, :]
    return torch.cat([a * cos - b * sin, a * sin + b * cos], dim=-1)


class Block(nn.Module):
    def __init__(self, c, heads, attention_scale, eps):
        super().__init__()
        self.heads, self.attention_scale = heads, attention_scale
        self.ln1 = layer_norm(c, eps)
        self.qkv = nn.Linear(c, 3 * c, bias=False)
        self.q_norm = layer_norm(c, eps)
        self.k_norm = layer_norm(c, eps)
        self.attn_out = nn.Linear(c, c, bias=False)
        self.ln2 = layer_norm(c, eps)
        self.fc_up = nn.Linear(c, 4 * c, bias=False)
        self.fc_down = nn.Linear(4 * c, c, bias=False)

    def forward(self, x, cos, sin):
        b, t, c = x.shape
        d = c // self.heads
        q, k, v = self.qkv(self.ln1(x)).split(c, dim=-1)
        q = rope(self.q_norm(q).view(b, t, self.heads, d), cos, sin).transpose(1, 2)
        k = rope(self.k_norm(k).view(b, t, self.heads, d), cos, sin).transpose(1, 2)
        v = v.reshape(b, t, self.heads, d).transpose(1, 2)
        att = causal_attention(q, k, v, self.attention_scale)
        x = x + self.attn_out(att.transpose(1, 2).reshape(b, t, c))
        return x + self.fc_down(F.gelu(self.fc_up(self.ln2(x))))


class TransformerLM(nn.Module):
    def __init__(self, c, layers, heads, context, vocab, attention_scale=None,
                 logit_multiplier=1.0, rope_base=10000.0, eps=1e-5):
        super().__init__()
        d = c // heads
        scale = attention_scale if attention_scale is not None else d ** -0.5  # SP
        self.logit_multiplier = logit_multiplier
        self.wte = nn.Embedding(vocab, c)
        self.layers = nn.ModuleList(Block(c, heads, scale, eps) for _ in range(layers))
        self.ln_f = layer_norm(c, eps)
        self.lm_head = nn.Linear(c, vocab, bias=False)
        freq = rope_base ** (-2.0 * torch.arange(d // 2, dtype=torch.float64) / d)
        angle = torch.arange(context, dtype=torch.float64)[:, None] * freq[None, :]
        self.register_buffer("cos", torch.cos(angle), persistent=False)
        self.register_buffer("sin", torch.sin(angle), persistent=False)
        for p in self.parameters():
            if p.dim() == 2:
                nn.init.normal_(p, std=0.02)

    def forward(self, tokens):
        """Mean cross-entropy (nats) of tokens (B, T + 1): inputs [:, :T], targets [:, 1:]."""
        inputs, targets = tokens[:, :-1], tokens[:, 1:]
        x = self.wte(inputs)
        cos, sin = self.cos.to(x.dtype), self.sin.to(x.dtype)
        for block in self.layers:
            x = block(x, cos, sin)
        logits = self.lm_head(self.ln_f(x)) * self.logit_multiplier
        if logits.dtype in (torch.float16, torch.bfloat16):
            logits = logits.float()  # the softmax in fp32 at least, as our kernels do
        return F.cross_entropy(logits.reshape(-1, logits.shape[-1]), targets.reshape(-1))


def flat_parameters(model, flat, tensors):
    """Our flat parameter vector as {name: view} for torch.func.functional_call, so gradients flow
    back into `flat`. `tensors` is model.json's list of {name, offset, rows, cols} (bench_lm
    --dump-oracle); it must name exactly the model's parameters."""
    shapes = {name: p.shape for name, p in model.named_parameters()}
    by_name = {t["name"] + ".weight": t for t in tensors}
    if set(by_name) != set(shapes):
        raise ValueError("model.json's tensors differ from the PyTorch model's parameters: "
                         f"{sorted(set(by_name) ^ set(shapes))}")
    return {name: flat[t["offset"]:t["offset"] + t["rows"] * t["cols"]].view(shapes[name])
            for name, t in by_name.items()}


def functional_call(model, params, args):
    try:
        return torch.func.functional_call(model, params, args)
    except AttributeError:  # torch < 2.0
        return torch.nn.utils.stateless.functional_call(model, params, args)
