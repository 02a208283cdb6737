// Original file: proto/dlphys.proto


export interface AgentStatus {
  'id'?: (string);
  'host'?: (string);
  'gpus'?: (string)[];
  'slots'?: (number);
  'last_heartbeat'?: (string);
  'alive'?: (boolean);
  'running'?: (number);
}

export interface AgentStatus__Output {
  'id': (string);
  'host': (string);
  'gpus': (string)[];
  'slots': (number);
  'last_heartbeat': (string);
  'alive': (boolean);
  'running': (number);
}
