// Original file: proto/dlphys.proto


export interface SubmitSweepRequest {
  /**
   * An expanded sweep (lib/sweep's ExpandedSweep as JSON): name, spec, and every run's config.
   */
  'sweep_json'?: (string);
  /**
   * A program sweep's code snapshot (its hash is sweep_json's code.hash); empty otherwise, or
   * when the coordinator already has it.
   */
  'code_archive'?: (Buffer | Uint8Array | string);
}

export interface SubmitSweepRequest__Output {
  /**
   * An expanded sweep (lib/sweep's ExpandedSweep as JSON): name, spec, and every run's config.
   */
  'sweep_json': (string);
  /**
   * A program sweep's code snapshot (its hash is sweep_json's code.hash); empty otherwise, or
   * when the coordinator already has it.
   */
  'code_archive': (Buffer);
}
