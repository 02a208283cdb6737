import { z } from 'zod';
import { inits } from './init.js';
import { distributionKwarg, modeKwarg, varianceScaling } from './variance_scaling.js';

inits.register('he', {
  description: 'He / Kaiming: weight variance 2/fan (critical for relu), zero biases',
  kwargs: z.object({ mode: modeKwarg, distribution: distributionKwarg }),
  build: ({ mode, distribution }) =>
    varianceScaling((l) => 2 / (mode === 'fan_in' ? l.fanIn : l.fanOut), distribution),
});
