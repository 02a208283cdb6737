// Original file: proto/dlphys.proto


/**
 * One attempt of one run: run_id is "<sweep>/<run name>".
 */
export interface RunRef {
  'run_id'?: (string);
  'attempt'?: (number);
}

/**
 * One attempt of one run: run_id is "<sweep>/<run name>".
 */
export interface RunRef__Output {
  'run_id': (string);
  'attempt': (number);
}
