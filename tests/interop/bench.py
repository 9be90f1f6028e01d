"""
PyTorch's time for one LM Lab training step, for `npm run bench -- --vs-pytorch`: nanoGPT's GPT from
nanogpt.py on the same shapes (batch, context, layers, heads, width, vocabulary), the same AdamW with
global-norm clipping, 2 threads, random token batches.

    python3 tests/interop/bench.py '{"batch": 16, "block": 64, "layers": 2, "heads": 4, "embd": 64, "vocab": 72, "steps": 20}'
    -> {"medianStepMs": ..., "tokensPerSec": ..., "threads": 2}

With "products" (a list of [groups, m, k, n], src/core/backend/matmul-bench.ts) it times those
matrix products alone instead, each the median of "repeats" calls (torch.mm, torch.bmm for groups):
    -> {"totalMs": ..., "gflops": ..., "threads": 1}
"""
import json
import sys
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
from nanogpt import GPT, GPTConfig  # noqa: E402


def products(spec):
    total = 0.0
    flops = 0
    for g, m, k, n in spec["products"]:
        a, b = (torch.randn(m, k), torch.randn(k, n)) if g == 1 else (torch.randn(g, m, k), torch.randn(g, k, n))
        mul = torch.mm if g == 1 else torch.bmm
        times = []
        for i in range(2 + spec.get("repeats", 7)):
            t0 = time.perf_counter()
            mul(a, b)
            if i >= 2:
                times.append((time.perf_counter() - t0) * 1000)
        times.sort()
        total += times[len(times) // 2]
        flops += 2 * g * m * k * n
    print(json.dumps({"totalMs": total, "gflops": flops / total / 1e6, "threads": torch.get_num_threads()}))


def main(spec):
    torch.manual_seed(1)
    torch.set_num_threads(int(spec.get("threads", 2)))
    if "products" in spec:
        return products(spec)
    c = GPTConfig(spec["block"], spec["vocab"], spec["layers"], spec["heads"], spec["embd"])
    model = GPT(c)
    opt = torch.optim.AdamW(model.parameters(), lr=1e-3, betas=(0.9, 0.99), eps=1e-8, weight_decay=0.1)
    B, T = spec["batch"], spec["block"]
    times = []
    for i in range(3 + spec["steps"]):
        x = torch.randint(c.vocab_size, (B, T))
        y = torch.randint(c.vocab_size, (B, T))
        t0 = time.perf_counter()
        _, loss = model(x, y)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
        loss.item()
        if i >= 3:  # warm-up steps, as LM Lab's bench
            times.append((time.perf_counter() - t0) * 1000)
    times.sort()
    median = times[len(times) // 2]
    print(json.dumps({"medianStepMs": median, "tokensPerSec": B * T / median * 1000, "threads": torch.get_num_threads()}))


if __name__ == "__main__":
    main(json.loads(sys.argv[1]))
