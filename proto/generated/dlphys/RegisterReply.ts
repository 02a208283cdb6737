// Original file: proto/dlphys.proto


export interface RegisterReply {
  /**
   * How long a lease lives without a heartbeat, and how often the agent should send one.
   */
  'lease_ttl_ms'?: (number);
  'heartbeat_ms'?: (number);
  /**
   * The agent's secret: sent back as `x-dlphys-agent-secret` metadata on every later call.
   */
  'agent_secret'?: (string);
}

export interface RegisterReply__Output {
  /**
   * How long a lease lives without a heartbeat, and how often the agent should send one.
   */
  'lease_ttl_ms': (number);
  'heartbeat_ms': (number);
  /**
   * The agent's secret: sent back as `x-dlphys-agent-secret` metadata on every later call.
   */
  'agent_secret': (string);
}
