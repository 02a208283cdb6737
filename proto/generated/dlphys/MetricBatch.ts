// Original file: proto/dlphys.proto

import type { RunRef as _dlphys_RunRef, RunRef__Output as _dlphys_RunRef__Output } from '../dlphys/RunRef.js';
import type { MetricRow as _dlphys_MetricRow, MetricRow__Output as _dlphys_MetricRow__Output } from '../dlphys/MetricRow.js';

export interface MetricBatch {
  'run'?: (_dlphys_RunRef | null);
  'agent_id'?: (string);
  'rows'?: (_dlphys_MetricRow)[];
}

export interface MetricBatch__Output {
  'run': (_dlphys_RunRef__Output | null);
  'agent_id': (string);
  'rows': (_dlphys_MetricRow__Output)[];
}
