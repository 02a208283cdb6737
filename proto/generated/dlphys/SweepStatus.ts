// Original file: proto/dlphys.proto


export interface SweepStatus {
  'name'?: (string);
  'created_at'?: (string);
  'total'?: (number);
  'states'?: ({[key: string]: number});
  'metric'?: (string);
  'goal'?: (string);
}

export interface SweepStatus__Output {
  'name': (string);
  'created_at': (string);
  'total': (number);
  'states': ({[key: string]: number});
  'metric': (string);
  'goal': (string);
}
