import { z } from 'zod';
import { formatNumber } from '../format_number.js';
import type { Callback } from '../training/callback.js';
import { callbacks } from './registry.js';

/**
 * A progress line on stderr: step, loss, steps/s and ETA. On a terminal one line is redrawn in
 * place; in a log file (CI, SLURM) a full line is written every `every_sec` seconds instead.
 */
export function progressCallback(options: { everySec: number; stream?: NodeJS.WriteStream }): Callback {
  const stream = options.stream ?? process.stderr;
  const tty = Boolean(stream.isTTY);
  const interval = (tty ? Math.min(options.everySec, 0.25) : options.everySec) * 1000;
  let start = 0;
  let last = 0;
  let drawn = false;
  const line = (ctx: Parameters<NonNullable<Callback['onStepEnd']>>[0]) => {
    const elapsed = (performance.now() - start) / 1000;
    const rate = ctx.step / Math.max(elapsed, 1e-9);
    const eta = (ctx.totalSteps - ctx.step) / Math.max(rate, 1e-9);
    const parts = [
      `step ${ctx.step}/${ctx.totalSteps}`,
      `(${Math.floor((100 * ctx.step) / ctx.totalSteps)}%)`,
      ctx.logs.loss !== undefined ? `loss ${formatNumber(ctx.logs.loss)}` : '',
      ctx.logs.val_acc !== undefined ? `val_acc ${formatNumber(ctx.logs.val_acc)}` : '',
      `${rate.toFixed(1)} steps/s`,
      `ETA ${formatDuration(eta)}`,
    ];
    return parts.filter(Boolean).join('  ');
  };
  const write = (text: string) => {
    if (tty) {
      stream.write(`\r\x1b[2K${text}`);
      drawn = true;
    } else {
      stream.write(`${text}\n`);
    }
  };
  return {
    onFitStart() {
      start = last = performance.now();
    },
    onStepEnd(ctx) {
      const now = performance.now();
      if (now - last < interval) return;
      last = now;
      write(line(ctx));
    },
    onFitEnd(ctx, result) {
      if (drawn) stream.write('\r\x1b[2K');
      const metrics = Object.entries(result.final)
        .filter(([k]) => k === 'loss' || k.startsWith('val_'))
        .map(([k, v]) => `${k} ${formatNumber(v)}`)
        .join('  ');
      stream.write(`${result.status}: ${ctx.step} steps in ${formatDuration(result.wallTime)}  ${metrics}${result.reason ? `  (${result.reason})` : ''}\n`);
    },
  };
}

export function formatDuration(seconds: number): string {
  if (!Number.isFinite(seconds)) return '?';
  if (seconds < 60) return `${seconds.toFixed(seconds < 10 ? 1 : 0)}s`;
  const m = Math.floor(seconds / 60);
  if (m < 60) return `${m}m${String(Math.round(seconds % 60)).padStart(2, '0')}s`;
  return `${Math.floor(m / 60)}h${String(m % 60).padStart(2, '0')}m`;
}

callbacks.register('progress', {
  description: 'Prints a progress line (step, loss, steps/s, ETA) to stderr; `dlphys train` adds it unless --quiet.',
  kwargs: z.object({
    every_sec: z.number().positive().default(5).describe('seconds between lines when stderr is not a terminal'),
  }),
  build: ({ every_sec }) => progressCallback({ everySec: every_sec }),
});
