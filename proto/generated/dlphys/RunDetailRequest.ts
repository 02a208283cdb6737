// Original file: proto/dlphys.proto


export interface RunDetailRequest {
  /**
   * "<sweep>/<run>".
   */
  'run_id'?: (string);
  /**
   * Lines of train.log to return from its end (0: none; at most 1000).
   */
  'log_lines'?: (number);
}

export interface RunDetailRequest__Output {
  /**
   * "<sweep>/<run>".
   */
  'run_id': (string);
  /**
   * Lines of train.log to return from its end (0: none; at most 1000).
   */
  'log_lines': (number);
}
