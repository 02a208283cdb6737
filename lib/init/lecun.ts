import { z } from 'zod';
import { inits } from './init.js';
import { distributionKwarg, modeKwarg, varianceScaling } from './variance_scaling.js';

inits.register('lecun', {
  description: 'LeCun: weight variance 1/fan, zero biases',
  kwargs: z.object({ mode: modeKwarg, distribution: distributionKwarg }),
  build: ({ mode, distribution }) =>
    varianceScaling((l) => 1 / (mode === 'fan_in' ? l.fanIn : l.fanOut), distribution),
});
