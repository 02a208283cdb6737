// Original file: proto/dlphys.proto

import type { Long } from '@grpc/proto-loader';

export interface Event {
  'id'?: (number | string | Long);
  'time'?: (string);
  /**
   * sweep_submitted | run_leased | run_started | run_finished | run_requeued | run_cancelled |
   * agent_registered | agent_lost | agent_health (data: a HostHealth as JSON, byte counts as
   * numbers; the log keeps each agent's latest only, recorded when it moved) | metrics
   */
  'type'?: (string);
  'sweep'?: (string);
  'run_id'?: (string);
  'agent_id'?: (string);
  'data_json'?: (string);
}

export interface Event__Output {
  'id': (string);
  'time': (string);
  /**
   * sweep_submitted | run_leased | run_started | run_finished | run_requeued | run_cancelled |
   * agent_registered | agent_lost | agent_health (data: a HostHealth as JSON, byte counts as
   * numbers; the log keeps each agent's latest only, recorded when it moved) | metrics
   */
  'type': (string);
  'sweep': (string);
  'run_id': (string);
  'agent_id': (string);
  'data_json': (string);
}
