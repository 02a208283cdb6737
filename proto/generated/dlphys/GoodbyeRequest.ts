// Original file: proto/dlphys.proto


export interface GoodbyeRequest {
  'agent_id'?: (string);
}

export interface GoodbyeRequest__Output {
  'agent_id': (string);
}
