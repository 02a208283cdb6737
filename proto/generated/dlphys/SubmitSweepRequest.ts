// Original file: proto/dlphys.proto


export interface SubmitSweepRequest {
  /**
   * An expanded sweep (lib/sweep's ExpandedSweep as JSON): name, spec, and every run's config.
   */
  'sweep_json'?: (string);
}

export interface SubmitSweepRequest__Output {
  /**
   * An expanded sweep (lib/sweep's ExpandedSweep as JSON): name, spec, and every run's config.
   */
  'sweep_json': (string);
}
