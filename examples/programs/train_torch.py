"""A W&B training script, run unchanged by `wandb agent` or a dlphys agent: a PyTorch MLP on MNIST
when torch is importable (synthetic digits when MNIST cannot be had), else logistic regression on
`hidden` random tanh features of a synthetic problem, in pure Python."""
import math, random
import wandb

wandb.init(project="dlphys-examples", config={"lr": 0.1, "batch_size": 64, "hidden": 32, "steps": 300})
cfg = wandb.config
try:
    import torch, torch.nn.functional as F
except ImportError:
    torch = None

if torch:
    try:
        from torchvision.datasets import MNIST
        tr, va = (MNIST("data", train=t, download=True) for t in (True, False))
        x, y, xv, yv = tr.data.flatten(1) / 255.0, tr.targets, va.data.flatten(1) / 255.0, va.targets
    except Exception:  # no torchvision, or no network
        x = torch.randn(6000, 784, generator=torch.Generator().manual_seed(0))
        y = (x @ torch.randn(784, 10, generator=torch.Generator().manual_seed(1))).argmax(1)
        x, y, xv, yv = x[:5000], y[:5000], x[5000:], y[5000:]
    model = torch.nn.Sequential(torch.nn.Linear(784, cfg.hidden), torch.nn.ReLU(), torch.nn.Linear(cfg.hidden, 10))
    opt = torch.optim.SGD(model.parameters(), lr=cfg.lr)
    for step in range(cfg.steps):
        i = torch.randint(0, len(x), (cfg.batch_size,))
        loss = F.cross_entropy(model(x[i]), y[i])
        opt.zero_grad(); loss.backward(); opt.step()
        row = {"loss": loss.item()}
        if (step + 1) % 50 == 0:
            with torch.no_grad():
                out = model(xv)
            row.update(val_loss=F.cross_entropy(out, yv).item(), val_acc=(out.argmax(1) == yv).float().mean().item())
        wandb.log(row)
else:
    rng = random.Random(0)
    feats = [[rng.gauss(0, 0.35) for _ in range(8)] for _ in range(cfg.hidden)]
    teacher = [rng.gauss(0, 1) for _ in range(8)]
    def example():
        v = [rng.gauss(0, 1) for _ in range(8)]
        return [math.tanh(sum(a * b for a, b in zip(f, v))) for f in feats], float(sum(a * b for a, b in zip(teacher, v)) > 0)
    train, val = [example() for _ in range(512)], [example() for _ in range(256)]
    w = [0.0] * cfg.hidden
    def prob(phi):
        return 1 / (1 + math.exp(-max(-30.0, min(30.0, sum(a * b for a, b in zip(w, phi))))))
    def bce(data):
        return sum(-math.log(max(prob(p) if t else 1 - prob(p), 1e-12)) for p, t in data) / len(data)
    for step in range(cfg.steps):
        batch = rng.choices(train, k=cfg.batch_size)
        err = [(prob(p) - t, p) for p, t in batch]
        grad = [sum(e * p[j] for e, p in err) / len(batch) for j in range(cfg.hidden)]
        row = {"loss": bce(batch)}
        w = [a - cfg.lr * g for a, g in zip(w, grad)]
        if (step + 1) % 50 == 0:
            row.update(val_loss=bce(val), val_acc=sum((prob(p) > 0.5) == (t > 0.5) for p, t in val) / len(val))
        wandb.log(row)
