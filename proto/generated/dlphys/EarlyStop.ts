// Original file: proto/dlphys.proto

import type { RunRef as _dlphys_RunRef, RunRef__Output as _dlphys_RunRef__Output } from '../dlphys/RunRef.js';

export interface EarlyStop {
  'run'?: (_dlphys_RunRef | null);
  /**
   * The rule, the band or rung, the run's value there and the cut it missed.
   */
  'reason'?: (string);
}

export interface EarlyStop__Output {
  'run': (_dlphys_RunRef__Output | null);
  /**
   * The rule, the band or rung, the run's value there and the cut it missed.
   */
  'reason': (string);
}
