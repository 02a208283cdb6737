// Importing a dataset file registers it; this is the one place that decides which exist.
import './synthetic.js';
import './teacher_student.js';
import './mnist.js';

export * from './dataset.js';
export { readIdx, writeIdx, type IdxArray } from './idx.js';
