// Original file: proto/dlphys.proto

import type { GpuHealth as _dlphys_GpuHealth, GpuHealth__Output as _dlphys_GpuHealth__Output } from '../dlphys/GpuHealth.js';
import type { Long } from '@grpc/proto-loader';

/**
 * A host's load as its agent reads it (/proc; nvidia-smi where it exists).
 */
export interface HostHealth {
  /**
   * Busy share of all cores since the previous reading, 0..100.
   */
  'cpu_percent'?: (number | string);
  'ram_used_bytes'?: (number | string | Long);
  'ram_total_bytes'?: (number | string | Long);
  /**
   * One per GPU nvidia-smi lists; empty on a host without GPUs (not zeros).
   */
  'gpus'?: (_dlphys_GpuHealth)[];
  /**
   * When the agent read it (ISO 8601, the agent's clock).
   */
  'collected_at'?: (string);
}

/**
 * A host's load as its agent reads it (/proc; nvidia-smi where it exists).
 */
export interface HostHealth__Output {
  /**
   * Busy share of all cores since the previous reading, 0..100.
   */
  'cpu_percent': (number);
  'ram_used_bytes': (string);
  'ram_total_bytes': (string);
  /**
   * One per GPU nvidia-smi lists; empty on a host without GPUs (not zeros).
   */
  'gpus': (_dlphys_GpuHealth__Output)[];
  /**
   * When the agent read it (ISO 8601, the agent's clock).
   */
  'collected_at': (string);
}
