// Original file: proto/dlphys.proto

import type { Long } from '@grpc/proto-loader';

export interface GpuHealth {
  'index'?: (number);
  'name'?: (string);
  'util_percent'?: (number | string);
  'mem_used_bytes'?: (number | string | Long);
  'mem_total_bytes'?: (number | string | Long);
}

export interface GpuHealth__Output {
  'index': (number);
  'name': (string);
  'util_percent': (number);
  'mem_used_bytes': (string);
  'mem_total_bytes': (string);
}
