// Each component file registers itself on import; importing this module makes all of them available.
import './mlp.js';
import './cnn.js';

export * from './model.js';
