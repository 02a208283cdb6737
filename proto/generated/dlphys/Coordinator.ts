// Original file: proto/dlphys.proto

import type * as grpc from '@grpc/grpc-js'
import type { MethodDefinition } from '@grpc/proto-loader'
import type { Ack as _dlphys_Ack, Ack__Output as _dlphys_Ack__Output } from '../dlphys/Ack.js';
import type { CodeReply as _dlphys_CodeReply, CodeReply__Output as _dlphys_CodeReply__Output } from '../dlphys/CodeReply.js';
import type { CodeRequest as _dlphys_CodeRequest, CodeRequest__Output as _dlphys_CodeRequest__Output } from '../dlphys/CodeRequest.js';
import type { Event as _dlphys_Event, Event__Output as _dlphys_Event__Output } from '../dlphys/Event.js';
import type { GoodbyeRequest as _dlphys_GoodbyeRequest, GoodbyeRequest__Output as _dlphys_GoodbyeRequest__Output } from '../dlphys/GoodbyeRequest.js';
import type { HeartbeatReply as _dlphys_HeartbeatReply, HeartbeatReply__Output as _dlphys_HeartbeatReply__Output } from '../dlphys/HeartbeatReply.js';
import type { HeartbeatRequest as _dlphys_HeartbeatRequest, HeartbeatRequest__Output as _dlphys_HeartbeatRequest__Output } from '../dlphys/HeartbeatRequest.js';
import type { LeaseReply as _dlphys_LeaseReply, LeaseReply__Output as _dlphys_LeaseReply__Output } from '../dlphys/LeaseReply.js';
import type { LeaseRequest as _dlphys_LeaseRequest, LeaseRequest__Output as _dlphys_LeaseRequest__Output } from '../dlphys/LeaseRequest.js';
import type { MetricAck as _dlphys_MetricAck, MetricAck__Output as _dlphys_MetricAck__Output } from '../dlphys/MetricAck.js';
import type { MetricBatch as _dlphys_MetricBatch, MetricBatch__Output as _dlphys_MetricBatch__Output } from '../dlphys/MetricBatch.js';
import type { RegisterReply as _dlphys_RegisterReply, RegisterReply__Output as _dlphys_RegisterReply__Output } from '../dlphys/RegisterReply.js';
import type { RegisterRequest as _dlphys_RegisterRequest, RegisterRequest__Output as _dlphys_RegisterRequest__Output } from '../dlphys/RegisterRequest.js';
import type { RunDetailReply as _dlphys_RunDetailReply, RunDetailReply__Output as _dlphys_RunDetailReply__Output } from '../dlphys/RunDetailReply.js';
import type { RunDetailRequest as _dlphys_RunDetailRequest, RunDetailRequest__Output as _dlphys_RunDetailRequest__Output } from '../dlphys/RunDetailRequest.js';
import type { RunEvent as _dlphys_RunEvent, RunEvent__Output as _dlphys_RunEvent__Output } from '../dlphys/RunEvent.js';
import type { RunReport as _dlphys_RunReport, RunReport__Output as _dlphys_RunReport__Output } from '../dlphys/RunReport.js';
import type { StatusReply as _dlphys_StatusReply, StatusReply__Output as _dlphys_StatusReply__Output } from '../dlphys/StatusReply.js';
import type { StatusRequest as _dlphys_StatusRequest, StatusRequest__Output as _dlphys_StatusRequest__Output } from '../dlphys/StatusRequest.js';
import type { SubmitSlurmReply as _dlphys_SubmitSlurmReply, SubmitSlurmReply__Output as _dlphys_SubmitSlurmReply__Output } from '../dlphys/SubmitSlurmReply.js';
import type { SubmitSlurmRequest as _dlphys_SubmitSlurmRequest, SubmitSlurmRequest__Output as _dlphys_SubmitSlurmRequest__Output } from '../dlphys/SubmitSlurmRequest.js';
import type { SubmitSweepReply as _dlphys_SubmitSweepReply, SubmitSweepReply__Output as _dlphys_SubmitSweepReply__Output } from '../dlphys/SubmitSweepReply.js';
import type { SubmitSweepRequest as _dlphys_SubmitSweepRequest, SubmitSweepRequest__Output as _dlphys_SubmitSweepRequest__Output } from '../dlphys/SubmitSweepRequest.js';
import type { TargetReply as _dlphys_TargetReply, TargetReply__Output as _dlphys_TargetReply__Output } from '../dlphys/TargetReply.js';
import type { TargetRequest as _dlphys_TargetRequest, TargetRequest__Output as _dlphys_TargetRequest__Output } from '../dlphys/TargetRequest.js';
import type { UploadChunk as _dlphys_UploadChunk, UploadChunk__Output as _dlphys_UploadChunk__Output } from '../dlphys/UploadChunk.js';
import type { UploadReply as _dlphys_UploadReply, UploadReply__Output as _dlphys_UploadReply__Output } from '../dlphys/UploadReply.js';
import type { WatchRequest as _dlphys_WatchRequest, WatchRequest__Output as _dlphys_WatchRequest__Output } from '../dlphys/WatchRequest.js';

export interface CoordinatorClient extends grpc.Client {
  Cancel(argument: _dlphys_TargetRequest, metadata: grpc.Metadata, options: grpc.CallOptions, callback: grpc.requestCallback<_dlphys_TargetReply__Output>): grpc.ClientUnaryCall;
  Cancel(argument: _dlphys_TargetRequest, metadata: grpc.Metadata, callback: grpc.requestCallback<_dlphys_TargetReply__Output>): grpc.ClientUnaryCall;
  Cancel(argument: _dlphys_TargetRequest, options: grpc.CallOptions, callback: grpc.requestCallback<_dlphys_TargetReply__Output>): grpc.ClientUnaryCall;
  Cancel(argument: _dlphys_TargetRequest, callback: grpc.requestCallback<_dlphys_TargetReply__Output>): grpc.ClientUnaryCall;
  cancel(argument: _dlphys_TargetRequest, metadata: grpc.Metadata, options: grpc.CallOptions, callback: grpc.requestCallback<_dlphys_TargetReply__Output>): grpc.ClientUnaryCall;
  cancel(argument: _dlphys_TargetRequest, metadata: grpc.Metadata, callback: grpc.requestCallback<_dlphys_TargetReply__Output>): grpc.ClientUnaryCall;
  cancel(argument: _dlphys_TargetRequest, options: grpc.CallOptions, callback: grpc.requestCallback<_dlphys_TargetReply__Output>): grpc.ClientUnaryCall;
  cancel(argument: _dlphys_TargetRequest, callback: grpc.requestCallback<_dlphys_TargetReply__Output>): grpc.ClientUnaryCall;
  
  /**
   * A program sweep's code snapshot, by content hash (lib/sweep/code_snapshot.ts); agents cache it.
   */
  GetCode(argument: _dlphys_CodeRequest, metadata: grpc.Metadata, options: grpc.CallOptions, callback: grpc.requestCallback<_dlphys_CodeReply__Output>): grpc.ClientUnaryCall;
  GetCode(argument: _dlphys_CodeRequest, metadata: grpc.Metadata, callback: grpc.requestCallback<_dlphys_CodeReply__Output>): grpc.ClientUnaryCall;
  GetCode(argument: _dlphys_CodeRequest, options: grpc.CallOptions, callback: grpc.requestCallback<_dlphys_CodeReply__Output>): grpc.ClientUnaryCall;
  GetCode(argument: _dlphys_CodeRequest, callback: grpc.requestCallback<_dlphys_CodeReply__Output>): grpc.ClientUnaryCall;
  /**
   * A program sweep's code snapshot, by content hash (lib/sweep/code_snapshot.ts); agents cache it.
   */
  getCode(argument: _dlphys_CodeRequest, metadata: grpc.Metadata, options: grpc.CallOptions, callback: grpc.requestCallback<_dlphys_CodeReply__Output>): grpc.ClientUnaryCall;
  getCode(argument: _dlphys_CodeRequest, metadata: grpc.Metadata, callback: grpc.requestCallback<_dlphys_CodeReply__Output>): grpc.ClientUnaryCall;
  getCode(argument: _dlphys_CodeRequest, options: grpc.CallOptions, callback: grpc.requestCallback<_dlphys_CodeReply__Output>): grpc.ClientUnaryCall;
  getCode(argument: _dlphys_CodeRequest, callback: grpc.requestCallback<_dlphys_CodeReply__Output>): grpc.ClientUnaryCall;
  
  /**
   * An agent that exits says so: it is shown as gone at once instead of after a lease TTL.
   */
  Goodbye(argument: _dlphys_GoodbyeRequest, metadata: grpc.Metadata, options: grpc.CallOptions, callback: grpc.requestCallback<_dlphys_Ack__Output>): grpc.ClientUnaryCall;
  Goodbye(argument: _dlphys_GoodbyeRequest, metadata: grpc.Metadata, callback: grpc.requestCallback<_dlphys_Ack__Output>): grpc.ClientUnaryCall;
  Goodbye(argument: _dlphys_GoodbyeRequest, options: grpc.CallOptions, callback: grpc.requestCallback<_dlphys_Ack__Output>): grpc.ClientUnaryCall;
  Goodbye(argument: _dlphys_GoodbyeRequest, callback: grpc.requestCallback<_dlphys_Ack__Output>): grpc.ClientUnaryCall;
  /**
   * An agent that exits says so: it is shown as gone at once instead of after a lease TTL.
   */
  goodbye(argument: _dlphys_GoodbyeRequest, metadata: grpc.Metadata, options: grpc.CallOptions, callback: grpc.requestCallback<_dlphys_Ack__Output>): grpc.ClientUnaryCall;
  goodbye(argument: _dlphys_GoodbyeRequest, metadata: grpc.Metadata, callback: grpc.requestCallback<_dlphys_Ack__Output>): grpc.ClientUnaryCall;
  goodbye(argument: _dlphys_GoodbyeRequest, options: grpc.CallOptions, callback: grpc.requestCallback<_dlphys_Ack__Output>): grpc.ClientUnaryCall;
  goodbye(argument: _dlphys_GoodbyeRequest, callback: grpc.requestCallback<_dlphys_Ack__Output>): grpc.ClientUnaryCall;
  
  Heartbeat(argument: _dlphys_HeartbeatRequest, metadata: grpc.Metadata, options: grpc.CallOptions, callback: grpc.requestCallback<_dlphys_HeartbeatReply__Output>): grpc.ClientUnaryCall;
  Heartbeat(argument: _dlphys_HeartbeatRequest, metadata: grpc.Metadata, callback: grpc.requestCallback<_dlphys_HeartbeatReply__Output>): grpc.ClientUnaryCall;
  Heartbeat(argument: _dlphys_HeartbeatRequest, options: grpc.CallOptions, callback: grpc.requestCallback<_dlphys_HeartbeatReply__Output>): grpc.ClientUnaryCall;
  Heartbeat(argument: _dlphys_HeartbeatRequest, callback: grpc.requestCallback<_dlphys_HeartbeatReply__Output>): grpc.ClientUnaryCall;
  heartbeat(argument: _dlphys_HeartbeatRequest, metadata: grpc.Metadata, options: grpc.CallOptions, callback: grpc.requestCallback<_dlphys_HeartbeatReply__Output>): grpc.ClientUnaryCall;
  heartbeat(argument: _dlphys_HeartbeatRequest, metadata: grpc.Metadata, callback: grpc.requestCallback<_dlphys_HeartbeatReply__Output>): grpc.ClientUnaryCall;
  heartbeat(argument: _dlphys_HeartbeatRequest, options: grpc.CallOptions, callback: grpc.requestCallback<_dlphys_HeartbeatReply__Output>): grpc.ClientUnaryCall;
  heartbeat(argument: _dlphys_HeartbeatRequest, callback: grpc.requestCallback<_dlphys_HeartbeatReply__Output>): grpc.ClientUnaryCall;
  
  Lease(argument: _dlphys_LeaseRequest, metadata: grpc.Metadata, options: grpc.CallOptions, callback: grpc.requestCallback<_dlphys_LeaseReply__Output>): grpc.ClientUnaryCall;
  Lease(argument: _dlphys_LeaseRequest, metadata: grpc.Metadata, callback: grpc.requestCallback<_dlphys_LeaseReply__Output>): grpc.ClientUnaryCall;
  Lease(argument: _dlphys_LeaseRequest, options: grpc.CallOptions, callback: grpc.requestCallback<_dlphys_LeaseReply__Output>): grpc.ClientUnaryCall;
  Lease(argument: _dlphys_LeaseRequest, callback: grpc.requestCallback<_dlphys_LeaseReply__Output>): grpc.ClientUnaryCall;
  lease(argument: _dlphys_LeaseRequest, metadata: grpc.Metadata, options: grpc.CallOptions, callback: grpc.requestCallback<_dlphys_LeaseReply__Output>): grpc.ClientUnaryCall;
  lease(argument: _dlphys_LeaseRequest, metadata: grpc.Metadata, callback: grpc.requestCallback<_dlphys_LeaseReply__Output>): grpc.ClientUnaryCall;
  lease(argument: _dlphys_LeaseRequest, options: grpc.CallOptions, callback: grpc.requestCallback<_dlphys_LeaseReply__Output>): grpc.ClientUnaryCall;
  lease(argument: _dlphys_LeaseRequest, callback: grpc.requestCallback<_dlphys_LeaseReply__Output>): grpc.ClientUnaryCall;
  
  /**
   * Agents.
   */
  Register(argument: _dlphys_RegisterRequest, metadata: grpc.Metadata, options: grpc.CallOptions, callback: grpc.requestCallback<_dlphys_RegisterReply__Output>): grpc.ClientUnaryCall;
  Register(argument: _dlphys_RegisterRequest, metadata: grpc.Metadata, callback: grpc.requestCallback<_dlphys_RegisterReply__Output>): grpc.ClientUnaryCall;
  Register(argument: _dlphys_RegisterRequest, options: grpc.CallOptions, callback: grpc.requestCallback<_dlphys_RegisterReply__Output>): grpc.ClientUnaryCall;
  Register(argument: _dlphys_RegisterRequest, callback: grpc.requestCallback<_dlphys_RegisterReply__Output>): grpc.ClientUnaryCall;
  /**
   * Agents.
   */
  register(argument: _dlphys_RegisterRequest, metadata: grpc.Metadata, options: grpc.CallOptions, callback: grpc.requestCallback<_dlphys_RegisterReply__Output>): grpc.ClientUnaryCall;
  register(argument: _dlphys_RegisterRequest, metadata: grpc.Metadata, callback: grpc.requestCallback<_dlphys_RegisterReply__Output>): grpc.ClientUnaryCall;
  register(argument: _dlphys_RegisterRequest, options: grpc.CallOptions, callback: grpc.requestCallback<_dlphys_RegisterReply__Output>): grpc.ClientUnaryCall;
  register(argument: _dlphys_RegisterRequest, callback: grpc.requestCallback<_dlphys_RegisterReply__Output>): grpc.ClientUnaryCall;
  
  Report(argument: _dlphys_RunReport, metadata: grpc.Metadata, options: grpc.CallOptions, callback: grpc.requestCallback<_dlphys_Ack__Output>): grpc.ClientUnaryCall;
  Report(argument: _dlphys_RunReport, metadata: grpc.Metadata, callback: grpc.requestCallback<_dlphys_Ack__Output>): grpc.ClientUnaryCall;
  Report(argument: _dlphys_RunReport, options: grpc.CallOptions, callback: grpc.requestCallback<_dlphys_Ack__Output>): grpc.ClientUnaryCall;
  Report(argument: _dlphys_RunReport, callback: grpc.requestCallback<_dlphys_Ack__Output>): grpc.ClientUnaryCall;
  report(argument: _dlphys_RunReport, metadata: grpc.Metadata, options: grpc.CallOptions, callback: grpc.requestCallback<_dlphys_Ack__Output>): grpc.ClientUnaryCall;
  report(argument: _dlphys_RunReport, metadata: grpc.Metadata, callback: grpc.requestCallback<_dlphys_Ack__Output>): grpc.ClientUnaryCall;
  report(argument: _dlphys_RunReport, options: grpc.CallOptions, callback: grpc.requestCallback<_dlphys_Ack__Output>): grpc.ClientUnaryCall;
  report(argument: _dlphys_RunReport, callback: grpc.requestCallback<_dlphys_Ack__Output>): grpc.ClientUnaryCall;
  
  ReportMetrics(argument: _dlphys_MetricBatch, metadata: grpc.Metadata, options: grpc.CallOptions, callback: grpc.requestCallback<_dlphys_MetricAck__Output>): grpc.ClientUnaryCall;
  ReportMetrics(argument: _dlphys_MetricBatch, metadata: grpc.Metadata, callback: grpc.requestCallback<_dlphys_MetricAck__Output>): grpc.ClientUnaryCall;
  ReportMetrics(argument: _dlphys_MetricBatch, options: grpc.CallOptions, callback: grpc.requestCallback<_dlphys_MetricAck__Output>): grpc.ClientUnaryCall;
  ReportMetrics(argument: _dlphys_MetricBatch, callback: grpc.requestCallback<_dlphys_MetricAck__Output>): grpc.ClientUnaryCall;
  reportMetrics(argument: _dlphys_MetricBatch, metadata: grpc.Metadata, options: grpc.CallOptions, callback: grpc.requestCallback<_dlphys_MetricAck__Output>): grpc.ClientUnaryCall;
  reportMetrics(argument: _dlphys_MetricBatch, metadata: grpc.Metadata, callback: grpc.requestCallback<_dlphys_MetricAck__Output>): grpc.ClientUnaryCall;
  reportMetrics(argument: _dlphys_MetricBatch, options: grpc.CallOptions, callback: grpc.requestCallback<_dlphys_MetricAck__Output>): grpc.ClientUnaryCall;
  reportMetrics(argument: _dlphys_MetricBatch, callback: grpc.requestCallback<_dlphys_MetricAck__Output>): grpc.ClientUnaryCall;
  
  Retry(argument: _dlphys_TargetRequest, metadata: grpc.Metadata, options: grpc.CallOptions, callback: grpc.requestCallback<_dlphys_TargetReply__Output>): grpc.ClientUnaryCall;
  Retry(argument: _dlphys_TargetRequest, metadata: grpc.Metadata, callback: grpc.requestCallback<_dlphys_TargetReply__Output>): grpc.ClientUnaryCall;
  Retry(argument: _dlphys_TargetRequest, options: grpc.CallOptions, callback: grpc.requestCallback<_dlphys_TargetReply__Output>): grpc.ClientUnaryCall;
  Retry(argument: _dlphys_TargetRequest, callback: grpc.requestCallback<_dlphys_TargetReply__Output>): grpc.ClientUnaryCall;
  retry(argument: _dlphys_TargetRequest, metadata: grpc.Metadata, options: grpc.CallOptions, callback: grpc.requestCallback<_dlphys_TargetReply__Output>): grpc.ClientUnaryCall;
  retry(argument: _dlphys_TargetRequest, metadata: grpc.Metadata, callback: grpc.requestCallback<_dlphys_TargetReply__Output>): grpc.ClientUnaryCall;
  retry(argument: _dlphys_TargetRequest, options: grpc.CallOptions, callback: grpc.requestCallback<_dlphys_TargetReply__Output>): grpc.ClientUnaryCall;
  retry(argument: _dlphys_TargetRequest, callback: grpc.requestCallback<_dlphys_TargetReply__Output>): grpc.ClientUnaryCall;
  
  /**
   * One run in full for the dashboard's detail view: its config, metric lines, log tail.
   */
  RunDetail(argument: _dlphys_RunDetailRequest, metadata: grpc.Metadata, options: grpc.CallOptions, callback: grpc.requestCallback<_dlphys_RunDetailReply__Output>): grpc.ClientUnaryCall;
  RunDetail(argument: _dlphys_RunDetailRequest, metadata: grpc.Metadata, callback: grpc.requestCallback<_dlphys_RunDetailReply__Output>): grpc.ClientUnaryCall;
  RunDetail(argument: _dlphys_RunDetailRequest, options: grpc.CallOptions, callback: grpc.requestCallback<_dlphys_RunDetailReply__Output>): grpc.ClientUnaryCall;
  RunDetail(argument: _dlphys_RunDetailRequest, callback: grpc.requestCallback<_dlphys_RunDetailReply__Output>): grpc.ClientUnaryCall;
  /**
   * One run in full for the dashboard's detail view: its config, metric lines, log tail.
   */
  runDetail(argument: _dlphys_RunDetailRequest, metadata: grpc.Metadata, options: grpc.CallOptions, callback: grpc.requestCallback<_dlphys_RunDetailReply__Output>): grpc.ClientUnaryCall;
  runDetail(argument: _dlphys_RunDetailRequest, metadata: grpc.Metadata, callback: grpc.requestCallback<_dlphys_RunDetailReply__Output>): grpc.ClientUnaryCall;
  runDetail(argument: _dlphys_RunDetailRequest, options: grpc.CallOptions, callback: grpc.requestCallback<_dlphys_RunDetailReply__Output>): grpc.ClientUnaryCall;
  runDetail(argument: _dlphys_RunDetailRequest, callback: grpc.requestCallback<_dlphys_RunDetailReply__Output>): grpc.ClientUnaryCall;
  
  StartRun(argument: _dlphys_RunEvent, metadata: grpc.Metadata, options: grpc.CallOptions, callback: grpc.requestCallback<_dlphys_Ack__Output>): grpc.ClientUnaryCall;
  StartRun(argument: _dlphys_RunEvent, metadata: grpc.Metadata, callback: grpc.requestCallback<_dlphys_Ack__Output>): grpc.ClientUnaryCall;
  StartRun(argument: _dlphys_RunEvent, options: grpc.CallOptions, callback: grpc.requestCallback<_dlphys_Ack__Output>): grpc.ClientUnaryCall;
  StartRun(argument: _dlphys_RunEvent, callback: grpc.requestCallback<_dlphys_Ack__Output>): grpc.ClientUnaryCall;
  startRun(argument: _dlphys_RunEvent, metadata: grpc.Metadata, options: grpc.CallOptions, callback: grpc.requestCallback<_dlphys_Ack__Output>): grpc.ClientUnaryCall;
  startRun(argument: _dlphys_RunEvent, metadata: grpc.Metadata, callback: grpc.requestCallback<_dlphys_Ack__Output>): grpc.ClientUnaryCall;
  startRun(argument: _dlphys_RunEvent, options: grpc.CallOptions, callback: grpc.requestCallback<_dlphys_Ack__Output>): grpc.ClientUnaryCall;
  startRun(argument: _dlphys_RunEvent, callback: grpc.requestCallback<_dlphys_Ack__Output>): grpc.ClientUnaryCall;
  
  Status(argument: _dlphys_StatusRequest, metadata: grpc.Metadata, options: grpc.CallOptions, callback: grpc.requestCallback<_dlphys_StatusReply__Output>): grpc.ClientUnaryCall;
  Status(argument: _dlphys_StatusRequest, metadata: grpc.Metadata, callback: grpc.requestCallback<_dlphys_StatusReply__Output>): grpc.ClientUnaryCall;
  Status(argument: _dlphys_StatusRequest, options: grpc.CallOptions, callback: grpc.requestCallback<_dlphys_StatusReply__Output>): grpc.ClientUnaryCall;
  Status(argument: _dlphys_StatusRequest, callback: grpc.requestCallback<_dlphys_StatusReply__Output>): grpc.ClientUnaryCall;
  status(argument: _dlphys_StatusRequest, metadata: grpc.Metadata, options: grpc.CallOptions, callback: grpc.requestCallback<_dlphys_StatusReply__Output>): grpc.ClientUnaryCall;
  status(argument: _dlphys_StatusRequest, metadata: grpc.Metadata, callback: grpc.requestCallback<_dlphys_StatusReply__Output>): grpc.ClientUnaryCall;
  status(argument: _dlphys_StatusRequest, options: grpc.CallOptions, callback: grpc.requestCallback<_dlphys_StatusReply__Output>): grpc.ClientUnaryCall;
  status(argument: _dlphys_StatusRequest, callback: grpc.requestCallback<_dlphys_StatusReply__Output>): grpc.ClientUnaryCall;
  
  /**
   * Writes a SLURM job array of agents for a recorded sweep and submits it with sbatch
   * (coordinator/slurm/); the coordinator then watches its tasks and cancels them with the sweep.
   */
  SubmitSlurm(argument: _dlphys_SubmitSlurmRequest, metadata: grpc.Metadata, options: grpc.CallOptions, callback: grpc.requestCallback<_dlphys_SubmitSlurmReply__Output>): grpc.ClientUnaryCall;
  SubmitSlurm(argument: _dlphys_SubmitSlurmRequest, metadata: grpc.Metadata, callback: grpc.requestCallback<_dlphys_SubmitSlurmReply__Output>): grpc.ClientUnaryCall;
  SubmitSlurm(argument: _dlphys_SubmitSlurmRequest, options: grpc.CallOptions, callback: grpc.requestCallback<_dlphys_SubmitSlurmReply__Output>): grpc.ClientUnaryCall;
  SubmitSlurm(argument: _dlphys_SubmitSlurmRequest, callback: grpc.requestCallback<_dlphys_SubmitSlurmReply__Output>): grpc.ClientUnaryCall;
  /**
   * Writes a SLURM job array of agents for a recorded sweep and submits it with sbatch
   * (coordinator/slurm/); the coordinator then watches its tasks and cancels them with the sweep.
   */
  submitSlurm(argument: _dlphys_SubmitSlurmRequest, metadata: grpc.Metadata, options: grpc.CallOptions, callback: grpc.requestCallback<_dlphys_SubmitSlurmReply__Output>): grpc.ClientUnaryCall;
  submitSlurm(argument: _dlphys_SubmitSlurmRequest, metadata: grpc.Metadata, callback: grpc.requestCallback<_dlphys_SubmitSlurmReply__Output>): grpc.ClientUnaryCall;
  submitSlurm(argument: _dlphys_SubmitSlurmRequest, options: grpc.CallOptions, callback: grpc.requestCallback<_dlphys_SubmitSlurmReply__Output>): grpc.ClientUnaryCall;
  submitSlurm(argument: _dlphys_SubmitSlurmRequest, callback: grpc.requestCallback<_dlphys_SubmitSlurmReply__Output>): grpc.ClientUnaryCall;
  
  /**
   * Clients.
   */
  SubmitSweep(argument: _dlphys_SubmitSweepRequest, metadata: grpc.Metadata, options: grpc.CallOptions, callback: grpc.requestCallback<_dlphys_SubmitSweepReply__Output>): grpc.ClientUnaryCall;
  SubmitSweep(argument: _dlphys_SubmitSweepRequest, metadata: grpc.Metadata, callback: grpc.requestCallback<_dlphys_SubmitSweepReply__Output>): grpc.ClientUnaryCall;
  SubmitSweep(argument: _dlphys_SubmitSweepRequest, options: grpc.CallOptions, callback: grpc.requestCallback<_dlphys_SubmitSweepReply__Output>): grpc.ClientUnaryCall;
  SubmitSweep(argument: _dlphys_SubmitSweepRequest, callback: grpc.requestCallback<_dlphys_SubmitSweepReply__Output>): grpc.ClientUnaryCall;
  /**
   * Clients.
   */
  submitSweep(argument: _dlphys_SubmitSweepRequest, metadata: grpc.Metadata, options: grpc.CallOptions, callback: grpc.requestCallback<_dlphys_SubmitSweepReply__Output>): grpc.ClientUnaryCall;
  submitSweep(argument: _dlphys_SubmitSweepRequest, metadata: grpc.Metadata, callback: grpc.requestCallback<_dlphys_SubmitSweepReply__Output>): grpc.ClientUnaryCall;
  submitSweep(argument: _dlphys_SubmitSweepRequest, options: grpc.CallOptions, callback: grpc.requestCallback<_dlphys_SubmitSweepReply__Output>): grpc.ClientUnaryCall;
  submitSweep(argument: _dlphys_SubmitSweepRequest, callback: grpc.requestCallback<_dlphys_SubmitSweepReply__Output>): grpc.ClientUnaryCall;
  
  Upload(metadata: grpc.Metadata, options: grpc.CallOptions, callback: grpc.requestCallback<_dlphys_UploadReply__Output>): grpc.ClientWritableStream<_dlphys_UploadChunk>;
  Upload(metadata: grpc.Metadata, callback: grpc.requestCallback<_dlphys_UploadReply__Output>): grpc.ClientWritableStream<_dlphys_UploadChunk>;
  Upload(options: grpc.CallOptions, callback: grpc.requestCallback<_dlphys_UploadReply__Output>): grpc.ClientWritableStream<_dlphys_UploadChunk>;
  Upload(callback: grpc.requestCallback<_dlphys_UploadReply__Output>): grpc.ClientWritableStream<_dlphys_UploadChunk>;
  upload(metadata: grpc.Metadata, options: grpc.CallOptions, callback: grpc.requestCallback<_dlphys_UploadReply__Output>): grpc.ClientWritableStream<_dlphys_UploadChunk>;
  upload(metadata: grpc.Metadata, callback: grpc.requestCallback<_dlphys_UploadReply__Output>): grpc.ClientWritableStream<_dlphys_UploadChunk>;
  upload(options: grpc.CallOptions, callback: grpc.requestCallback<_dlphys_UploadReply__Output>): grpc.ClientWritableStream<_dlphys_UploadChunk>;
  upload(callback: grpc.requestCallback<_dlphys_UploadReply__Output>): grpc.ClientWritableStream<_dlphys_UploadChunk>;
  
  Watch(argument: _dlphys_WatchRequest, metadata: grpc.Metadata, options?: grpc.CallOptions): grpc.ClientReadableStream<_dlphys_Event__Output>;
  Watch(argument: _dlphys_WatchRequest, options?: grpc.CallOptions): grpc.ClientReadableStream<_dlphys_Event__Output>;
  watch(argument: _dlphys_WatchRequest, metadata: grpc.Metadata, options?: grpc.CallOptions): grpc.ClientReadableStream<_dlphys_Event__Output>;
  watch(argument: _dlphys_WatchRequest, options?: grpc.CallOptions): grpc.ClientReadableStream<_dlphys_Event__Output>;
  
}

export interface CoordinatorHandlers extends grpc.UntypedServiceImplementation {
  Cancel: grpc.handleUnaryCall<_dlphys_TargetRequest__Output, _dlphys_TargetReply>;
  
  /**
   * A program sweep's code snapshot, by content hash (lib/sweep/code_snapshot.ts); agents cache it.
   */
  GetCode: grpc.handleUnaryCall<_dlphys_CodeRequest__Output, _dlphys_CodeReply>;
  
  /**
   * An agent that exits says so: it is shown as gone at once instead of after a lease TTL.
   */
  Goodbye: grpc.handleUnaryCall<_dlphys_GoodbyeRequest__Output, _dlphys_Ack>;
  
  Heartbeat: grpc.handleUnaryCall<_dlphys_HeartbeatRequest__Output, _dlphys_HeartbeatReply>;
  
  Lease: grpc.handleUnaryCall<_dlphys_LeaseRequest__Output, _dlphys_LeaseReply>;
  
  /**
   * Agents.
   */
  Register: grpc.handleUnaryCall<_dlphys_RegisterRequest__Output, _dlphys_RegisterReply>;
  
  Report: grpc.handleUnaryCall<_dlphys_RunReport__Output, _dlphys_Ack>;
  
  ReportMetrics: grpc.handleUnaryCall<_dlphys_MetricBatch__Output, _dlphys_MetricAck>;
  
  Retry: grpc.handleUnaryCall<_dlphys_TargetRequest__Output, _dlphys_TargetReply>;
  
  /**
   * One run in full for the dashboard's detail view: its config, metric lines, log tail.
   */
  RunDetail: grpc.handleUnaryCall<_dlphys_RunDetailRequest__Output, _dlphys_RunDetailReply>;
  
  StartRun: grpc.handleUnaryCall<_dlphys_RunEvent__Output, _dlphys_Ack>;
  
  Status: grpc.handleUnaryCall<_dlphys_StatusRequest__Output, _dlphys_StatusReply>;
  
  /**
   * Writes a SLURM job array of agents for a recorded sweep and submits it with sbatch
   * (coordinator/slurm/); the coordinator then watches its tasks and cancels them with the sweep.
   */
  SubmitSlurm: grpc.handleUnaryCall<_dlphys_SubmitSlurmRequest__Output, _dlphys_SubmitSlurmReply>;
  
  /**
   * Clients.
   */
  SubmitSweep: grpc.handleUnaryCall<_dlphys_SubmitSweepRequest__Output, _dlphys_SubmitSweepReply>;
  
  Upload: grpc.handleClientStreamingCall<_dlphys_UploadChunk__Output, _dlphys_UploadReply>;
  
  Watch: grpc.handleServerStreamingCall<_dlphys_WatchRequest__Output, _dlphys_Event>;
  
}

export interface CoordinatorDefinition extends grpc.ServiceDefinition {
  Cancel: MethodDefinition<_dlphys_TargetRequest, _dlphys_TargetReply, _dlphys_TargetRequest__Output, _dlphys_TargetReply__Output>
  GetCode: MethodDefinition<_dlphys_CodeRequest, _dlphys_CodeReply, _dlphys_CodeRequest__Output, _dlphys_CodeReply__Output>
  Goodbye: MethodDefinition<_dlphys_GoodbyeRequest, _dlphys_Ack, _dlphys_GoodbyeRequest__Output, _dlphys_Ack__Output>
  Heartbeat: MethodDefinition<_dlphys_HeartbeatRequest, _dlphys_HeartbeatReply, _dlphys_HeartbeatRequest__Output, _dlphys_HeartbeatReply__Output>
  Lease: MethodDefinition<_dlphys_LeaseRequest, _dlphys_LeaseReply, _dlphys_LeaseRequest__Output, _dlphys_LeaseReply__Output>
  Register: MethodDefinition<_dlphys_RegisterRequest, _dlphys_RegisterReply, _dlphys_RegisterRequest__Output, _dlphys_RegisterReply__Output>
  Report: MethodDefinition<_dlphys_RunReport, _dlphys_Ack, _dlphys_RunReport__Output, _dlphys_Ack__Output>
  ReportMetrics: MethodDefinition<_dlphys_MetricBatch, _dlphys_MetricAck, _dlphys_MetricBatch__Output, _dlphys_MetricAck__Output>
  Retry: MethodDefinition<_dlphys_TargetRequest, _dlphys_TargetReply, _dlphys_TargetRequest__Output, _dlphys_TargetReply__Output>
  RunDetail: MethodDefinition<_dlphys_RunDetailRequest, _dlphys_RunDetailReply, _dlphys_RunDetailRequest__Output, _dlphys_RunDetailReply__Output>
  StartRun: MethodDefinition<_dlphys_RunEvent, _dlphys_Ack, _dlphys_RunEvent__Output, _dlphys_Ack__Output>
  Status: MethodDefinition<_dlphys_StatusRequest, _dlphys_StatusReply, _dlphys_StatusRequest__Output, _dlphys_StatusReply__Output>
  SubmitSlurm: MethodDefinition<_dlphys_SubmitSlurmRequest, _dlphys_SubmitSlurmReply, _dlphys_SubmitSlurmRequest__Output, _dlphys_SubmitSlurmReply__Output>
  SubmitSweep: MethodDefinition<_dlphys_SubmitSweepRequest, _dlphys_SubmitSweepReply, _dlphys_SubmitSweepRequest__Output, _dlphys_SubmitSweepReply__Output>
  Upload: MethodDefinition<_dlphys_UploadChunk, _dlphys_UploadReply, _dlphys_UploadChunk__Output, _dlphys_UploadReply__Output>
  Watch: MethodDefinition<_dlphys_WatchRequest, _dlphys_Event, _dlphys_WatchRequest__Output, _dlphys_Event__Output>
}
