// Original file: proto/dlphys.proto


export interface RunStatus {
  'id'?: (string);
  'sweep'?: (string);
  'name'?: (string);
  'state'?: (string);
  'attempt'?: (number);
  'agent_id'?: (string);
  'params_json'?: (string);
  'summary_json'?: (string);
  'error'?: (string);
  'updated_at'?: (string);
  /**
   * Attempts of this run whose agent vanished (lease expired), since the run was created.
   */
  'lost_attempts'?: (number);
  /**
   * A run in progress: the latest metrics.jsonl line its current attempt streamed; else empty.
   */
  'last_metrics_json'?: (string);
}

export interface RunStatus__Output {
  'id': (string);
  'sweep': (string);
  'name': (string);
  'state': (string);
  'attempt': (number);
  'agent_id': (string);
  'params_json': (string);
  'summary_json': (string);
  'error': (string);
  'updated_at': (string);
  /**
   * Attempts of this run whose agent vanished (lease expired), since the run was created.
   */
  'lost_attempts': (number);
  /**
   * A run in progress: the latest metrics.jsonl line its current attempt streamed; else empty.
   */
  'last_metrics_json': (string);
}
