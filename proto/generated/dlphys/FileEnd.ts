// Original file: proto/dlphys.proto


export interface FileEnd {
  /**
   * Hex SHA-256 of the file's bytes.
   */
  'sha256'?: (string);
}

export interface FileEnd__Output {
  /**
   * Hex SHA-256 of the file's bytes.
   */
  'sha256': (string);
}
