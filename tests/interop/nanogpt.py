"""
The PyTorch side of LM Lab's interop checks: nanoGPT's GPT (same module names, shapes and maths as
nanoGPT's model.py), a .safetensors reader/writer in plain Python, and a reference training run.

    python3 tests/interop/nanogpt.py logits CKPT '[[1,2,3]]'   -> logits as JSON
    python3 tests/interop/nanogpt.py attention CKPT '[1,2,3]'   -> softmax(q kᵀ/√hs) of one sequence as JSON,
                                                                 [layer][head][query][key]
    python3 tests/interop/nanogpt.py write-state-dict OUT VOCAB_JSON [--bias 0] [--mask 1] [--compiled 1]
        [--ids '[[1,2,3]]']   -> a random nanoGPT state dict as .safetensors (no LM Lab metadata), and the
                                 model's config and logits on the ids as JSON
    python3 tests/interop/nanogpt.py train --steps 600 --seed 1   -> reference pretraining run on corpora/tales

Needs only PyTorch (Debian's python3-torch). The causal mask is a non-persistent buffer, so the
state dict holds exactly nanoGPT's parameters (as nanoGPT's own flash-attention path does).
"""
import json
import math
import struct
import sys
from dataclasses import dataclass
from pathlib import Path

import torch
import torch.nn as nn
from torch.nn import functional as F

ROOT = Path(__file__).resolve().parents[2]


@dataclass
class GPTConfig:
    block_size: int
    vocab_size: int
    n_layer: int
    n_head: int
    n_embd: int
    bias: bool = True  # nanoGPT's option: biases in Linears and LayerNorms



class LayerNorm(nn.Module):
    def __init__(self, ndim, bias=True):
        super().__init__()
        self.weight = nn.Parameter(torch.ones(ndim))
        self.bias = nn.Parameter(torch.zeros(ndim)) if bias else None

    def forward(self, x):
        return F.layer_norm(x, self.weight.shape, self.weight, self.bias, 1e-5)


class CausalSelfAttention(nn.Module):
    def __init__(self, c):
        super().__init__()
        self.c_attn = nn.Linear(c.n_embd, 3 * c.n_embd, bias=c.bias)
        self.c_proj = nn.Linear(c.n_embd, c.n_embd, bias=c.bias)
        self.n_head = c.n_head
        self.n_embd = c.n_embd
        mask = torch.tril(torch.ones(c.block_size, c.block_size)).view(1, 1, c.block_size, c.block_size)
        self.register_buffer("mask", mask, persistent=False)

    def forward(self, x):
        B, T, C = x.size()
        q, k, v = self.c_attn(x).split(self.n_embd, dim=2)
        k = k.view(B, T, self.n_head, C // self.n_head).transpose(1, 2)  # (B, nh, T, hs)
        q = q.view(B, T, self.n_head, C // self.n_head).transpose(1, 2)
        v = v.view(B, T, self.n_head, C // self.n_head).transpose(1, 2)
        att = (q @ k.transpose(-2, -1)) * (1.0 / math.sqrt(k.size(-1)))
        att = att.masked_fill(self.mask[:, :, :T, :T] == 0, float("-inf"))
        att = F.softmax(att, dim=-1)
        self.att = att  # read by the attention command; no part of the maths
        y = (att @ v).transpose(1, 2).contiguous().view(B, T, C)
        return self.c_proj(y)


class MLP(nn.Module):
    def __init__(self, c):
        super().__init__()
        self.c_fc = nn.Linear(c.n_embd, 4 * c.n_embd, bias=c.bias)
        self.gelu = nn.GELU()
        self.c_proj = nn.Linear(4 * c.n_embd, c.n_embd, bias=c.bias)

    def forward(self, x):
        return self.c_proj(self.gelu(self.c_fc(x)))


class Block(nn.Module):
    def __init__(self, c):
        super().__init__()
        self.ln_1 = LayerNorm(c.n_embd, c.bias)
        self.attn = CausalSelfAttention(c)
        self.ln_2 = LayerNorm(c.n_embd, c.bias)
        self.mlp = MLP(c)

    def forward(self, x):
        x = x + self.attn(self.ln_1(x))
        return x + self.mlp(self.ln_2(x))


class GPT(nn.Module):
    def __init__(self, c):
        super().__init__()
        self.config = c
        self.transformer = nn.ModuleDict(dict(
            wte=nn.Embedding(c.vocab_size, c.n_embd),
            wpe=nn.Embedding(c.block_size, c.n_embd),
            h=nn.ModuleList([Block(c) for _ in range(c.n_layer)]),
            ln_f=LayerNorm(c.n_embd, c.bias),
        ))
        self.lm_head = nn.Linear(c.n_embd, c.vocab_size, bias=False)
        self.transformer.wte.weight = self.lm_head.weight  # weight tying
        self.apply(self._init_weights)
        for pn, p in self.named_parameters():
            if pn.endswith("c_proj.weight"):
                torch.nn.init.normal_(p, mean=0.0, std=0.02 / math.sqrt(2 * c.n_layer))

    def _init_weights(self, module):
        if isinstance(module, nn.Linear):
            torch.nn.init.normal_(module.weight, mean=0.0, std=0.02)
            if module.bias is not None:
                torch.nn.init.zeros_(module.bias)
        elif isinstance(module, nn.Embedding):
            torch.nn.init.normal_(module.weight, mean=0.0, std=0.02)

    def forward(self, idx, targets=None):
        B, T = idx.size()
        pos = torch.arange(0, T, dtype=torch.long, device=idx.device)
        x = self.transformer.wte(idx) + self.transformer.wpe(pos)
        for block in self.transformer.h:
            x = block(x)
        logits = self.lm_head(self.transformer.ln_f(x))
        loss = None if targets is None else F.cross_entropy(logits.view(-1, logits.size(-1)), targets.view(-1))
        return logits, loss


# --- .safetensors, as the format's specification describes it -------------------------------

def read_safetensors(path):
    data = Path(path).read_bytes()
    (n,) = struct.unpack("<Q", data[:8])
    header = json.loads(data[8:8 + n])
    meta = header.pop("__metadata__", {})
    base = 8 + n
    dtypes = {"F32": torch.float32, "F16": torch.float16, "BF16": torch.bfloat16, "F64": torch.float64}
    tensors = {}
    for name, info in header.items():
        begin, end = info["data_offsets"]
        buf = bytearray(data[base + begin:base + end])
        tensors[name] = torch.frombuffer(buf, dtype=dtypes[info["dtype"]]).reshape(info["shape"]).clone()
    return tensors, meta


def write_safetensors(path, tensors, meta):
    header, offset, blobs = {}, 0, []
    if meta:
        header["__metadata__"] = meta
    for name, t in tensors.items():
        b = t.detach().to(torch.float32).contiguous().numpy().tobytes()
        header[name] = {"dtype": "F32", "shape": list(t.shape), "data_offsets": [offset, offset + len(b)]}
        offset += len(b)
        blobs.append(b)
    text = json.dumps(header, separators=(",", ":")).encode()
    text += b" " * ((8 - len(text) % 8) % 8)
    Path(path).write_bytes(struct.pack("<Q", len(text)) + text + b"".join(blobs))


def load_lmlab(path):
    """An LM Lab export into nanoGPT's GPT, strictly: every parameter present, nothing extra."""
    tensors, meta = read_safetensors(path)
    cfg = json.loads(meta["model_config"])
    c = GPTConfig(cfg["blockSize"], cfg["vocabSize"], cfg["nLayer"], cfg["nHead"], cfg["nEmbd"])
    model = GPT(c)
    state = {k: v for k, v in tensors.items() if not k.startswith("optimizer.")}
    model.load_state_dict(state, strict=True)
    return model.eval(), meta


# --- commands ---------------------------------------------------------------------------------

def cmd_logits(ckpt, ids_json):
    model, _ = load_lmlab(ckpt)
    idx = torch.tensor(json.loads(ids_json), dtype=torch.long)
    with torch.no_grad():
        logits, _ = model(idx)
    print(json.dumps(logits.tolist()))


def cmd_attention(ckpt, ids_json):
    model, _ = load_lmlab(ckpt)
    idx = torch.tensor([json.loads(ids_json)], dtype=torch.long)
    with torch.no_grad():
        model(idx)
    print(json.dumps([block.attn.att[0].tolist() for block in model.transformer.h]))


def cmd_write_state_dict(out, vocab_json, *flags):
    """A nanoGPT state dict as PyTorch holds it, saved without LM Lab metadata.

    --bias 0      nanoGPT's bias=False (the shakespeare_char config): no bias tensors at all
    --mask 1      add the attn.bias causal-mask buffers that nanoGPT registers without flash attention
    --compiled 1  prefix every name with torch.compile's "_orig_mod."
    --ids JSON    also print the logits on these token ids
    """
    opts = dict(zip(flags[::2], flags[1::2]))
    vocab = json.loads(Path(vocab_json).read_text())
    vocab_size = len(vocab) if isinstance(vocab, list) else len(vocab["specials"]) + len(vocab["chars"])
    torch.manual_seed(0)
    c = GPTConfig(16, vocab_size, 2, 2, 32, bias=opts.get("--bias", "1") == "1")
    model = GPT(c)
    with torch.no_grad():  # non-trivial LayerNorm parameters, so that a wrong mapping shows in the logits
        for n, p in model.named_parameters():
            if ".ln_" in n:
                p.add_(0.1 * torch.randn_like(p))
    sd = {k: v.clone() for k, v in model.state_dict().items()}  # lm_head.weight and wte are the same values
    if opts.get("--mask") == "1":
        for i in range(c.n_layer):
            sd[f"transformer.h.{i}.attn.bias"] = model.transformer.h[i].attn.mask.clone()
    if opts.get("--compiled") == "1":
        sd = {"_orig_mod." + k: v for k, v in sd.items()}
    write_safetensors(out, sd, {"format": "pt"})
    result = {"config": c.__dict__}
    if "--ids" in opts:
        with torch.no_grad():
            logits, _ = model.eval()(torch.tensor(json.loads(opts["--ids"]), dtype=torch.long))
        result["logits"] = logits.tolist()
    print(json.dumps(result))


def cmd_train(steps=600, seed=1, batch_size=16, lr=3e-3, eval_batches=8):
    """nanoGPT's train.py loop with LM Lab's tiny preset and defaults, for comparing final losses."""
    torch.manual_seed(seed)
    torch.set_num_threads(2)
    vocab = json.loads((ROOT / "corpora/vocab.json").read_text())
    stoi = {ch: i + len(vocab["specials"]) for i, ch in enumerate(vocab["chars"])}
    enc = lambda s: torch.tensor([stoi[ch] for ch in s], dtype=torch.long)
    train = enc((ROOT / "corpora/tales/train.txt").read_text())
    val = enc((ROOT / "corpora/tales/val.txt").read_text())
    c = GPTConfig(64, len(vocab["specials"]) + len(vocab["chars"]), 2, 4, 64)
    model = GPT(c)
    decay = [p for n, p in model.named_parameters() if n.endswith("weight") and any(k in n for k in ("c_attn", "c_proj", "c_fc"))]
    ids = {id(p) for p in decay}
    no_decay = [p for p in model.parameters() if id(p) not in ids]
    opt = torch.optim.AdamW([{"params": decay, "weight_decay": 0.1}, {"params": no_decay, "weight_decay": 0.0}], lr=lr, betas=(0.9, 0.99), eps=1e-8)
    warmup, min_lr = min(100, max(1, steps // 10)), lr / 10

    def get_lr(it):
        if it < warmup:
            return lr * (it + 1) / warmup
        if it > steps:
            return min_lr
        ratio = (it - warmup) / (steps - warmup)
        return min_lr + 0.5 * (1.0 + math.cos(math.pi * ratio)) * (lr - min_lr)

    def batch(data, g):
        ix = torch.randint(len(data) - c.block_size - 1, (batch_size,), generator=g)
        return torch.stack([data[i:i + c.block_size] for i in ix]), torch.stack([data[i + 1:i + 1 + c.block_size] for i in ix])

    g = torch.Generator().manual_seed(seed)
    for it in range(steps):
        for group in opt.param_groups:
            group["lr"] = get_lr(it)
        x, y = batch(train, g)
        _, loss = model(x, y)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
    model.eval()
    gv = torch.Generator().manual_seed(seed + 1000)
    with torch.no_grad():
        losses = [model(*batch(val, gv))[1].item() for _ in range(eval_batches)]
    print(json.dumps({"steps": steps, "seed": seed, "finalValLoss": sum(losses) / len(losses)}))


if __name__ == "__main__":
    cmd, *args = sys.argv[1:]
    if cmd == "logits":
        cmd_logits(*args)
    elif cmd == "attention":
        cmd_attention(*args)
    elif cmd == "write-state-dict":
        cmd_write_state_dict(*args)
    elif cmd == "train":
        opts = dict(zip(args[::2], args[1::2]))
        cmd_train(steps=int(opts.get("--steps", 600)), seed=int(opts.get("--seed", 1)))
    else:
        sys.exit(f"unknown command {cmd}")
