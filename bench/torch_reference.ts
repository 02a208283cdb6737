/**
 * The PyTorch reference the benches time in the same run as our figures: the same MLP (or conv
 * net), batch, SGD and softmax cross-entropy on random data, in a python3 that can import torch.
 */
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

export const REFERENCE_HINT = 'python3 -m venv --system-site-packages .torchref && .torchref/bin/pip install --no-deps torch==2.13.0';

/** `.torchref/bin/python` (the project's reference venv) first, then `python3`; null when neither imports torch. */
export function findTorchPython(): string | null {
  for (const python of [fileURLToPath(new URL('../.torchref/bin/python', import.meta.url)), 'python3']) {
    if (python.startsWith('/') && !existsSync(python)) continue;
    const probe = spawnSync(python, ['-c', 'import torch'], { encoding: 'utf8', timeout: 60_000 });
    if (probe.status === 0) return python;
  }
  return null;
}

export interface TorchJob {
  /** Trainings one after another, each with a fresh model and optimizer. */
  runs: number;
  steps: number;
  warmup: number;
  batch: number;
  n: number;
  lr: number;
  logEvery: number;
  threads: number;
  widths: number[];
  /**
   * Instead of the MLP (`widths` then gives only the input size, as height·width·channels, and the
   * classes): lib/models/cnn.ts's net, conv3x3 'same' + relu + maxpool2 per entry of `channels`,
   * then dense `hidden` + relu and the linear readout, on [height, width, channels] images.
   */
  cnn?: { image: [number, number, number]; channels: number[]; hidden: number[] };
}

export interface TorchResult {
  /** Steps/s of the timed steps (all runs together). */
  steps_per_s: number;
  /** Wall time of all runs, model building included, torch import excluded. */
  wall_s: number;
  peak_rss_mb: number;
  final_loss: number;
}

const SCRIPT = `
import json, resource, sys, time
import torch
job = json.loads(sys.argv[1])
torch.set_num_threads(job["threads"])
torch.manual_seed(0)
widths, batch, n = job["widths"], job["batch"], job["n"]
cnn = job.get("cnn")
if cnn:
    h, w, c = cnn["image"]
    # NCHW, torch's own layout (and its fast one); pixels in [0, 1) like normalised MNIST.
    x = torch.rand(n, c, h, w)
else:
    x = torch.randn(n, widths[0])
y = torch.randint(0, widths[-1], (n,))

def build():
    if not cnn:
        layers = []
        for i in range(len(widths) - 1):
            layers.append(torch.nn.Linear(widths[i], widths[i + 1]))
            if i < len(widths) - 2:
                layers.append(torch.nn.ReLU())
        return torch.nn.Sequential(*layers)
    layers, ch, side_h, side_w = [], c, h, w
    for cout in cnn["channels"]:
        layers += [torch.nn.Conv2d(ch, cout, 3, padding=1), torch.nn.ReLU(), torch.nn.MaxPool2d(2)]
        ch, side_h, side_w = cout, side_h // 2, side_w // 2
    layers.append(torch.nn.Flatten())
    dims = [ch * side_h * side_w] + cnn["hidden"] + [widths[-1]]
    for i in range(len(dims) - 1):
        layers.append(torch.nn.Linear(dims[i], dims[i + 1]))
        if i < len(dims) - 2:
            layers.append(torch.nn.ReLU())
    return torch.nn.Sequential(*layers)

per_epoch = n // batch
timed = 0.0
last = float("nan")
wall0 = time.perf_counter()
for run in range(job["runs"]):
    model = build()
    opt = torch.optim.SGD(model.parameters(), lr=job["lr"])
    loss_fn = torch.nn.CrossEntropyLoss()
    state = {"perm": torch.randperm(n), "cursor": 0}
    def step():
        if state["cursor"] == per_epoch:
            state["perm"], state["cursor"] = torch.randperm(n), 0
        idx = state["perm"][state["cursor"] * batch:(state["cursor"] + 1) * batch]
        state["cursor"] += 1
        opt.zero_grad(set_to_none=True)
        loss = loss_fn(model(x[idx]), y[idx])
        loss.backward()
        opt.step()
        return loss
    for _ in range(job["warmup"]):
        step()
    start = time.perf_counter()
    for i in range(job["steps"]):
        loss = step()
        if (i + 1) % job["logEvery"] == 0:
            last = loss.item()
    timed += time.perf_counter() - start
wall = time.perf_counter() - wall0
print(json.dumps({"steps_per_s": job["runs"] * job["steps"] / timed, "wall_s": wall,
                  "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, "final_loss": last}))
`;

export function runTorch(python: string, job: TorchJob): TorchResult | { error: string } {
  const child = spawnSync(python, ['-c', SCRIPT, JSON.stringify(job)], { encoding: 'utf8', timeout: 1_800_000 });
  const line = (child.stdout ?? '').trim().split('\n').at(-1);
  try {
    if (child.status === 0 && line) return JSON.parse(line) as TorchResult;
  } catch {
    // fall through to the error
  }
  return { error: `exit ${child.status}: ${(child.stderr || '').trim().split('\n').slice(-2).join(' | ')}` };
}
