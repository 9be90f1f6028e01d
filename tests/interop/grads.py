"""
Loss and gradients of an LM Lab checkpoint on a batch, computed by PyTorch autograd on nanoGPT's GPT:

    python3 tests/interop/grads.py CKPT '{"x": [[...]], "y": [[...]]}'   -> {"loss": ..., "grads": {name: [...]}}
"""
import json
import sys

import torch

from nanogpt import load_lmlab

ckpt, batch_json = sys.argv[1:]
model, _ = load_lmlab(ckpt)
batch = json.loads(batch_json)
x = torch.tensor(batch["x"], dtype=torch.long)
y = torch.tensor(batch["y"], dtype=torch.long)
_, loss = model(x, y)
loss.backward()
# lm_head.weight is transformer.wte.weight (tied): one gradient, named as LM Lab names it.
grads = {n: p.grad.flatten().tolist() for n, p in model.named_parameters() if n != "lm_head.weight"}
print(json.dumps({"loss": loss.item(), "grads": grads}))
