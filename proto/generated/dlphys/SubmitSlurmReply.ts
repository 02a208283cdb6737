// Original file: proto/dlphys.proto


export interface SubmitSlurmReply {
  'job_id'?: (string);
  'script_path'?: (string);
  'script'?: (string);
  /**
   * What the coordinator would have the user know (an address compute nodes may not reach, ...).
   */
  'warnings'?: (string)[];
}

export interface SubmitSlurmReply__Output {
  'job_id': (string);
  'script_path': (string);
  'script': (string);
  /**
   * What the coordinator would have the user know (an address compute nodes may not reach, ...).
   */
  'warnings': (string)[];
}
