import * as tf from '@tensorflow/tfjs-core';
import { z } from 'zod';
import { UsageError } from '../errors.js';
import { activate, activationKwarg, denseLayer, denseStack, disposeLayers, flatten, layerModel, zerosVariable } from './layers.js';
import { models, type Layer, type Model } from './model.js';

const kwargs = z.object({
  channels: z.array(z.int().positive()).min(1).default([16, 32]).describe('output channels of each conv layer'),
  kernel_size: z.int().positive().default(3).describe('square kernel side of every conv layer (same padding)'),
  pool: z.enum(['max', 'avg', 'none']).default('max').describe('2x2 stride-2 pooling after each conv'),
  hidden: z.array(z.int().positive()).default([64]).describe('dense widths after the flatten, before the readout'),
  activation: activationKwarg,
  bias: z.boolean().default(true).describe('give each layer a bias'),
});

models.register('cnn', {
  description: 'small conv net on NHWC images: conv (+pool) blocks, dense layers, linear readout',
  kwargs,
  example: { kwargs: { channels: [4, 8], hidden: [16], activation: 'relu' }, inputShape: [9, 8, 2], outputDim: 3 },
  build({ channels, kernel_size: k, pool, hidden, activation, bias }, { inputShape, outputDim }): Model {
    if (inputShape.length !== 3) {
      throw new UsageError(
        `cnn needs image data of shape [height, width, channels] such as mnist, but the data has input shape [${inputShape.join(', ')}]; use model mlp for flat data`,
      );
    }
    const [height, width, inChannels] = inputShape as [number, number, number];

    const layers: Layer[] = [];
    let [h, w, c] = [height, width, inChannels];
    channels.forEach((cout, i) => {
      layers.push({
        name: `conv${i}`,
        kind: 'conv2d',
        weight: zerosVariable([k, k, c, cout]),
        bias: bias ? zerosVariable([cout]) : null,
        fanIn: k * k * c,
        fanOut: k * k * cout,
        weightScale: 1,
      });
      c = cout;
      if (pool !== 'none') {
        // Floor, as in PyTorch's MaxPool2d(2): an odd side drops its last row/column.
        [h, w] = [Math.floor(h / 2), Math.floor(w / 2)];
        if (h === 0 || w === 0) {
          disposeLayers(layers);
          throw new UsageError(
            `a ${height}x${width} image is pooled away to nothing after ${i + 1} conv layers; use fewer entries in model.kwargs.channels or set model.kwargs.pool to "none"`,
          );
        }
      }
    });
    const convCount = layers.length;
    const features = h * w * c;
    const widths = [features, ...hidden, outputDim];
    widths.slice(1).forEach((fanOut, i) => layers.push(denseLayer(`dense${i}`, widths[i]!, fanOut, bias)));
    return layerModel(layers, inputShape, outputDim, activation, (x, capture, preactivations) => {
      let img = tf.reshape(x, [-1, height, width, inChannels]) as tf.Tensor4D;
      for (const layer of layers.slice(0, convCount)) {
        let pre = tf.conv2d(img, layer.weight as tf.Tensor4D, 1, 'same');
        if (layer.bias) pre = tf.add(pre, layer.bias);
        if (capture) preactivations.push(pre);
        img = activate(pre, activation) as tf.Tensor4D;
        if (pool === 'max') img = tf.maxPool(img, 2, 2, 'valid');
        else if (pool === 'avg') img = tf.avgPool(img, 2, 2, 'valid');
      }
      return denseStack(flatten(img, features, 'cnn'), layers.slice(convCount), activation, capture, preactivations);
    });
  },
});
