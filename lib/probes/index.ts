// Each probe file registers one callback (in lib/callbacks/registry.ts's `callbacks`) on import.
import './criticality.js';
import './fli.js';
import './ntk.js';
import './preact_stats.js';
