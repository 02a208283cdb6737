import { z } from 'zod';
import { inits } from './init.js';
import { distributionKwarg, varianceScaling } from './variance_scaling.js';

inits.register('xavier', {
  description: 'Xavier / Glorot: weight variance 2/(fan_in + fan_out), zero biases',
  kwargs: z.object({ distribution: distributionKwarg }),
  build: ({ distribution }) => varianceScaling((l) => 2 / (l.fanIn + l.fanOut), distribution),
});
