// Original file: proto/dlphys.proto


export interface LeaseRequest {
  'agent_id'?: (string);
  'max_runs'?: (number);
  /**
   * Chosen by the agent, new for each lease it asks for and the same when it asks again because
   * no reply came: a repeated request gets the runs the first one leased, not new ones.
   */
  'request_id'?: (string);
  /**
   * The agent cannot train dlphys's own runs (no tensor backend for its GPUs): lease it only
   * runs of program sweeps.
   */
  'programs_only'?: (boolean);
  /**
   * The agent cannot run programs (no Python interpreter): lease it only dlphys's own runs.
   */
  'native_only'?: (boolean);
}

export interface LeaseRequest__Output {
  'agent_id': (string);
  'max_runs': (number);
  /**
   * Chosen by the agent, new for each lease it asks for and the same when it asks again because
   * no reply came: a repeated request gets the runs the first one leased, not new ones.
   */
  'request_id': (string);
  /**
   * The agent cannot train dlphys's own runs (no tensor backend for its GPUs): lease it only
   * runs of program sweeps.
   */
  'programs_only': (boolean);
  /**
   * The agent cannot run programs (no Python interpreter): lease it only dlphys's own runs.
   */
  'native_only': (boolean);
}
