// Original file: proto/dlphys.proto


export interface SubmitSweepReply {
  'sweep'?: (string);
  'runs'?: (number);
  /**
   * True when the same sweep (same name and content) was already recorded: nothing was added.
   */
  'existed'?: (boolean);
}

export interface SubmitSweepReply__Output {
  'sweep': (string);
  'runs': (number);
  /**
   * True when the same sweep (same name and content) was already recorded: nothing was added.
   */
  'existed': (boolean);
}
