// Original file: proto/dlphys.proto

import type { RunRef as _dlphys_RunRef, RunRef__Output as _dlphys_RunRef__Output } from '../dlphys/RunRef.js';

export interface LeasedRun {
  'run'?: (_dlphys_RunRef | null);
  'sweep'?: (string);
  'name'?: (string);
  /**
   * The full resolved ExperimentConfig of the run, or for a program sweep its ProgramJob
   * (lib/sweep/program_sweep.ts: {"kind": "program", ...}).
   */
  'config_json'?: (string);
}

export interface LeasedRun__Output {
  'run': (_dlphys_RunRef__Output | null);
  'sweep': (string);
  'name': (string);
  /**
   * The full resolved ExperimentConfig of the run, or for a program sweep its ProgramJob
   * (lib/sweep/program_sweep.ts: {"kind": "program", ...}).
   */
  'config_json': (string);
}
