// Original file: proto/dlphys.proto

import type { UploadHeader as _dlphys_UploadHeader, UploadHeader__Output as _dlphys_UploadHeader__Output } from '../dlphys/UploadHeader.js';
import type { FileStart as _dlphys_FileStart, FileStart__Output as _dlphys_FileStart__Output } from '../dlphys/FileStart.js';
import type { FileEnd as _dlphys_FileEnd, FileEnd__Output as _dlphys_FileEnd__Output } from '../dlphys/FileEnd.js';

/**
 * Upload stream: one header, then for each file a FileStart, its bytes in data chunks, and a
 * FileEnd with the checksum. The folder lands whole (write, then rename) when the stream ends.
 */
export interface UploadChunk {
  'header'?: (_dlphys_UploadHeader | null);
  'file'?: (_dlphys_FileStart | null);
  'data'?: (Buffer | Uint8Array | string);
  'end'?: (_dlphys_FileEnd | null);
  'kind'?: "header"|"file"|"data"|"end";
}

/**
 * Upload stream: one header, then for each file a FileStart, its bytes in data chunks, and a
 * FileEnd with the checksum. The folder lands whole (write, then rename) when the stream ends.
 */
export interface UploadChunk__Output {
  'header'?: (_dlphys_UploadHeader__Output | null);
  'file'?: (_dlphys_FileStart__Output | null);
  'data'?: (Buffer);
  'end'?: (_dlphys_FileEnd__Output | null);
  'kind'?: "header"|"file"|"data"|"end";
}
