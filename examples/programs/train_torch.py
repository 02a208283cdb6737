"""A training script written for Weights & Biases; under dlphys it runs unchanged on the wandb shim.

With PyTorch: an MLP on MNIST (the IDX files in $DLPHYS_MNIST_DIR if set, else torchvision if it is
installed and can download, else synthetic data). Without PyTorch: logistic regression on `hidden`
random tanh features of a synthetic problem, in pure Python (well under 2 s).
"""
import math
import os
import random

import wandb

wandb.init(project="dlphys-examples", config={"lr": 0.1, "batch_size": 64, "hidden": 32, "steps": 300})
cfg = wandb.config
EVAL_EVERY = 50

try:
    import torch
    import torch.nn.functional as F
except ImportError:
    torch = None


def mnist():
    """Train and validation images (N, 28, 28) in [0, 1] and labels: IDX files, torchvision, or synthetic."""
    folder = os.environ.get("DLPHYS_MNIST_DIR", "")
    if os.path.isfile(os.path.join(folder, "t10k-labels-idx1-ubyte")):
        def idx(name, header):
            with open(os.path.join(folder, name), "rb") as f:
                return torch.frombuffer(bytearray(f.read()), dtype=torch.uint8, offset=header)

        x = {s: idx(s + "-images-idx3-ubyte", 16).view(-1, 28, 28).float() / 255 for s in ("train", "t10k")}
        y = {s: idx(s + "-labels-idx1-ubyte", 8).long() for s in ("train", "t10k")}
        return x["train"], y["train"], x["t10k"], y["t10k"]
    try:
        from torchvision import datasets
        tr, va = (datasets.MNIST("data", train=t, download=True) for t in (True, False))
        return tr.data.float() / 255, tr.targets, va.data.float() / 255, va.targets
    except Exception:  # no torchvision, or no network: a synthetic 10-class problem
        g = torch.Generator().manual_seed(0)
        x = torch.randn(6000, 28, 28, generator=g)
        y = (x.flatten(1) @ torch.randn(784, 10, generator=g)).argmax(1)
        return x[:5000], y[:5000], x[5000:], y[5000:]


def train_torch():
    torch.manual_seed(0)
    xtr, ytr, xva, yva = mnist()
    nn = torch.nn
    model = nn.Sequential(nn.Flatten(), nn.Linear(784, cfg.hidden), nn.ReLU(), nn.Linear(cfg.hidden, 10))
    opt = torch.optim.SGD(model.parameters(), lr=cfg.lr)
    for step in range(1, cfg.steps + 1):
        i = torch.randint(0, len(xtr), (cfg.batch_size,))
        loss = F.cross_entropy(model(xtr[i]), ytr[i])
        opt.zero_grad()
        loss.backward()
        opt.step()
        row = {"loss": loss.item()}
        if step % EVAL_EVERY == 0 or step == cfg.steps:
            with torch.no_grad():
                out = model(xva)
            row.update(val_loss=F.cross_entropy(out, yva).item(), val_acc=(out.argmax(1) == yva).float().mean().item())
        wandb.log(row)


def train_pure_python():
    rng = random.Random(0)
    dim, hidden = 8, cfg.hidden
    features = [[rng.gauss(0, 1 / math.sqrt(dim)) for _ in range(dim)] for _ in range(hidden)]
    teacher = [rng.gauss(0, 1) for _ in range(dim)]

    def sample(n):
        xs = [[rng.gauss(0, 1) for _ in range(dim)] for _ in range(n)]
        phi = [[math.tanh(sum(a * b for a, b in zip(f, x))) for f in features] for x in xs]
        return phi, [float(sum(a * b for a, b in zip(teacher, x)) > 0) for x in xs]

    def prob(phi):
        z = b + sum(wi * p for wi, p in zip(w, phi))
        return 1 / (1 + math.exp(-max(-30.0, min(30.0, z))))

    def bce(p, y):
        return -math.log(p if y else 1 - p)

    ptr, ytr = sample(512)
    pva, yva = sample(256)
    w, b = [0.0] * hidden, 0.0
    for step in range(1, cfg.steps + 1):
        batch = rng.choices(range(len(ptr)), k=cfg.batch_size)
        gw, gb, loss = [0.0] * hidden, 0.0, 0.0
        for i in batch:
            p = prob(ptr[i])
            loss += bce(p, ytr[i])
            gb += p - ytr[i]
            gw = [g + (p - ytr[i]) * x for g, x in zip(gw, ptr[i])]
        w = [wi - cfg.lr * g / len(batch) for wi, g in zip(w, gw)]
        b -= cfg.lr * gb / len(batch)
        row = {"loss": loss / len(batch)}
        if step % EVAL_EVERY == 0 or step == cfg.steps:
            ps = [prob(p) for p in pva]
            row["val_loss"] = sum(bce(p, y) for p, y in zip(ps, yva)) / len(yva)
            row["val_acc"] = sum((p > 0.5) == (y > 0.5) for p, y in zip(ps, yva)) / len(yva)
        wandb.log(row)


train_torch() if torch is not None else train_pure_python()
