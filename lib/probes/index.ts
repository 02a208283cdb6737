// Each probe file registers one callback (in lib/callbacks/registry.ts's `callbacks`) on import.
import './criticality.js';
import './preact_stats.js';
