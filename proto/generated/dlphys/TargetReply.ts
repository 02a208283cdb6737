// Original file: proto/dlphys.proto


export interface TargetReply {
  'affected'?: (number);
}

export interface TargetReply__Output {
  'affected': (number);
}
