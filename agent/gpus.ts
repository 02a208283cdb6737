import { spawnSync } from 'node:child_process';
import { createRequire } from 'node:module';
import { NATIVE_INSTALL_HINT } from '../lib/backend/index.js';
import { commaList } from '../lib/cli/flags.js';
import { UsageError } from '../lib/errors.js';

/**
 * The GPUs an agent's slots are pinned to, as CUDA_VISIBLE_DEVICES values for the children.
 * `--gpu` ids count within what the agent itself may see: under SLURM (or any scheduler that sets
 * CUDA_VISIBLE_DEVICES) `--gpu 0` is the first GPU the job was given, not the host's GPU 0, and
 * `--gpu all` is every GPU the job was given.
 */
export function resolveGpus(flag: string | undefined, env: NodeJS.ProcessEnv = process.env): string[] {
  if (flag === undefined) return [];
  const visible = env.CUDA_VISIBLE_DEVICES === undefined ? undefined : commaList(env.CUDA_VISIBLE_DEVICES).filter(Boolean);
  if (flag === 'all') {
    const all = visible ?? countGpus();
    if (!all.length) throw new UsageError('--gpu all: no GPU is visible (CUDA_VISIBLE_DEVICES is empty and nvidia-smi lists none)');
    return all;
  }
  const ids = commaList(flag);
  for (const id of ids) {
    if (!/^\d+$/.test(id)) throw new UsageError(`--gpu ${flag}: expected GPU ids like 0 or 0,1 or all`);
  }
  if (!visible) return ids;
  return ids.map((id) => {
    const mapped = visible[Number(id)];
    if (mapped === undefined) {
      throw new UsageError(`--gpu ${id}: this process may see only ${visible.length} GPU(s) (CUDA_VISIBLE_DEVICES=${env.CUDA_VISIBLE_DEVICES}); ids count from 0 within those`);
    }
    return mapped;
  });
}

function countGpus(): string[] {
  const r = spawnSync('nvidia-smi', ['-L'], { encoding: 'utf8', timeout: 10_000 });
  if (r.status !== 0) return [];
  return r.stdout.split('\n').filter((l) => l.startsWith('GPU ')).map((_, i) => String(i));
}

/** Why a GPU agent cannot train dlphys's own runs: the GPU backend is missing, and how to add it. */
export const GPU_BACKEND_MISSING = `--gpu needs @tensorflow/tfjs-node-gpu for dlphys's own runs, which is not installed (add it with: ${NATIVE_INSTALL_HINT.split(' (GPU host)')[0]})`;

/**
 * Whether the GPU backend is installed. Without it a GPU agent would train dlphys's runs on its
 * CPU without saying so; it runs program sweeps only instead (agent/cli.ts).
 */
export function hasGpuBackend(): boolean {
  try {
    createRequire(import.meta.url).resolve('@tensorflow/tfjs-node-gpu');
    return true;
  } catch {
    return false;
  }
}
