// Each scheme file registers itself on import; importing this module makes all of them available.
import './gaussian.js';
import './orthogonal.js';
import './delta_orthogonal.js';
import './he.js';
import './lecun.js';
import './xavier.js';

export * from './init.js';
