import { z } from 'zod';
import { schedules } from './optimizer.js';

const finalRatio = (help: string) => z.number().min(0).max(1).default(0).describe(help);

schedules.register('constant', {
  description: 'The base learning rate at every step',
  kwargs: z.object({}),
  build: () => (_step, _totalSteps, baseLr) => baseLr,
});

schedules.register('step', {
  description: 'lr * gamma^floor(step / step_size), as torch.optim.lr_scheduler.StepLR stepped every update',
  kwargs: z.object({
    step_size: z.number().int().positive().describe('number of steps between two decays'),
    gamma: z.number().positive().default(0.1).describe('factor applied at each decay'),
  }),
  build: ({ step_size, gamma }) => (step, _totalSteps, baseLr) => baseLr * gamma ** Math.floor(step / step_size),
});

schedules.register('cosine', {
  description: 'Cosine from lr to lr * final_ratio over the run, as torch.optim.lr_scheduler.CosineAnnealingLR with T_max = total steps',
  kwargs: z.object({ final_ratio: finalRatio('the cosine ends at lr * final_ratio') }),
  build: ({ final_ratio }) => (step, totalSteps, baseLr) => cosine(step, totalSteps, baseLr, final_ratio),
});

schedules.register('warmup', {
  description: 'Linear ramp from lr / warmup_steps to lr over warmup_steps, then constant or cosine over the remaining steps',
  kwargs: z.object({
    warmup_steps: z.number().int().positive().describe('length of the linear ramp, in steps'),
    then: z.enum(['constant', 'cosine']).default('constant').describe('schedule after the ramp'),
    final_ratio: finalRatio('with then = cosine, the cosine ends at lr * final_ratio'),
  }),
  build: ({ warmup_steps, then, final_ratio }) => (step, totalSteps, baseLr) => {
    // (step + 1) so that step 0 already trains (lr / warmup_steps) and step warmup_steps - 1 reaches lr.
    if (step < warmup_steps) return (baseLr * (step + 1)) / warmup_steps;
    if (then === 'constant') return baseLr;
    return cosine(step - warmup_steps, totalSteps - warmup_steps, baseLr, final_ratio);
  },
});

function cosine(step: number, totalSteps: number, baseLr: number, ratio: number): number {
  // Held at the floor past the end instead of climbing back up as PyTorch's periodic form does;
  // max(1, ·) keeps a degenerate run length from dividing by zero.
  const total = Math.max(1, totalSteps);
  const progress = Math.min(step, total) / total;
  const floor = baseLr * ratio;
  return floor + ((baseLr - floor) * (1 + Math.cos(Math.PI * progress))) / 2;
}
