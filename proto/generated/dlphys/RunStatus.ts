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
}
