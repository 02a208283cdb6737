// Original file: proto/dlphys.proto


export interface TargetRequest {
  /**
   * A sweep name or a run id ("<sweep>/<run>").
   */
  'target'?: (string);
}

export interface TargetRequest__Output {
  /**
   * A sweep name or a run id ("<sweep>/<run>").
   */
  'target': (string);
}
