// Original file: proto/dlphys.proto


export interface SweepStatus {
  'name'?: (string);
  'created_at'?: (string);
  'total'?: (number);
  'states'?: ({[key: string]: number});
  'metric'?: (string);
  'goal'?: (string);
  /**
   * Why the sweep metric may never get a value: a run ended having logged metrics but not it
   * (with the nearest name it logged); empty otherwise.
   */
  'warning'?: (string);
  /**
   * Why the sweep hands out no more runs though some were left: its metric.target was reached.
   */
  'finished_reason'?: (string);
}

export interface SweepStatus__Output {
  'name': (string);
  'created_at': (string);
  'total': (number);
  'states': ({[key: string]: number});
  'metric': (string);
  'goal': (string);
  /**
   * Why the sweep metric may never get a value: a run ended having logged metrics but not it
   * (with the nearest name it logged); empty otherwise.
   */
  'warning': (string);
  /**
   * Why the sweep hands out no more runs though some were left: its metric.target was reached.
   */
  'finished_reason': (string);
}
