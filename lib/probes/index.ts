// Each probe file registers one callback (in lib/callbacks/registry.ts's `callbacks`) on import.
import './fli.js';
import './ntk.js';
