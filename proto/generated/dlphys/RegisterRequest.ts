// Original file: proto/dlphys.proto


export interface RegisterRequest {
  'agent_id'?: (string);
  'host'?: (string);
  'gpus'?: (string)[];
  'slots'?: (number);
  'version'?: (string);
  'backend'?: (string);
}

export interface RegisterRequest__Output {
  'agent_id': (string);
  'host': (string);
  'gpus': (string)[];
  'slots': (number);
  'version': (string);
  'backend': (string);
}
