// Original file: proto/dlphys.proto


export interface CodeRequest {
  'agent_id'?: (string);
  /**
   * sha256 hex of the snapshot's content.
   */
  'hash'?: (string);
}

export interface CodeRequest__Output {
  'agent_id': (string);
  /**
   * sha256 hex of the snapshot's content.
   */
  'hash': (string);
}
