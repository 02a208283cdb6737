// Original file: proto/dlphys.proto


export interface LeaseRequest {
  'agent_id'?: (string);
  'max_runs'?: (number);
}

export interface LeaseRequest__Output {
  'agent_id': (string);
  'max_runs': (number);
}
