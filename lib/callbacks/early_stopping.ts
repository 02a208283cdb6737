import { z } from 'zod';
import { UsageError } from '../errors.js';
import { higherIsBetter } from '../metric_goal.js';
import { callbacks } from './registry.js';

callbacks.register('early_stopping', {
  description: 'Stops the run when a validation metric has not improved for `patience` evaluations.',
  kwargs: z.object({
    monitor: z.string().default('val_loss').describe('metric to watch (logged at evaluation)'),
    patience: z.int().positive().default(5).describe('evaluations without improvement before stopping'),
    min_delta: z.number().nonnegative().default(0).describe('smallest change that counts as improvement'),
    mode: z.enum(['auto', 'min', 'max']).default('auto').describe('auto: max for accuracies, min otherwise'),
  }),
  build: ({ monitor, patience, min_delta, mode }) => {
    const maximise = mode === 'max' || (mode === 'auto' && higherIsBetter(monitor));
    let best = maximise ? -Infinity : Infinity;
    let waited = 0;
    return {
      onEvalEnd(ctx, valLogs) {
        const value = valLogs[monitor] ?? ctx.logs[monitor];
        if (value === undefined) {
          // A misspelt monitor would otherwise never stop anything, silently.
          throw new UsageError(`early_stopping: no metric "${monitor}" is logged; logged metrics: ${Object.keys(ctx.logs).sort().join(', ')}`);
        }
        const improved = maximise ? value > best + min_delta : value < best - min_delta;
        if (improved) {
          best = value;
          waited = 0;
        } else if (++waited >= patience) {
          ctx.requestStop(`early stopping: ${monitor} did not improve for ${patience} evaluations (best ${best})`);
        }
      },
    };
  },
});
