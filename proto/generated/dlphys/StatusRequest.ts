// Original file: proto/dlphys.proto


export interface StatusRequest {
  /**
   * Only this sweep's runs; empty: all sweeps, and runs of active sweeps.
   */
  'sweep'?: (string);
}

export interface StatusRequest__Output {
  /**
   * Only this sweep's runs; empty: all sweeps, and runs of active sweeps.
   */
  'sweep': (string);
}
