// Original file: proto/dlphys.proto


export interface CodeReply {
  /**
   * The snapshot's archive; its content hashes to the hash asked for.
   */
  'archive'?: (Buffer | Uint8Array | string);
}

export interface CodeReply__Output {
  /**
   * The snapshot's archive; its content hashes to the hash asked for.
   */
  'archive': (Buffer);
}
