// Original file: proto/dlphys.proto


export interface AgentStatus {
  'id'?: (string);
  'host'?: (string);
  'gpus'?: (string)[];
  'slots'?: (number);
  'last_heartbeat'?: (string);
  'alive'?: (boolean);
  'running'?: (number);
  /**
   * alive | lost (not heard from for 2 lease TTLs) | left (said goodbye) | quarantined (lost runs
   * repeatedly: no new leases until quarantined_until).
   */
  'state'?: (string);
  'quarantined_until'?: (string);
  /**
   * Attempts of this agent whose lease expired.
   */
  'lost_runs'?: (number);
}

export interface AgentStatus__Output {
  'id': (string);
  'host': (string);
  'gpus': (string)[];
  'slots': (number);
  'last_heartbeat': (string);
  'alive': (boolean);
  'running': (number);
  /**
   * alive | lost (not heard from for 2 lease TTLs) | left (said goodbye) | quarantined (lost runs
   * repeatedly: no new leases until quarantined_until).
   */
  'state': (string);
  'quarantined_until': (string);
  /**
   * Attempts of this agent whose lease expired.
   */
  'lost_runs': (number);
}
