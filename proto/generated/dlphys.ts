import type * as grpc from '@grpc/grpc-js';
import type { MessageTypeDefinition } from '@grpc/proto-loader';

import type { Ack as _dlphys_Ack, Ack__Output as _dlphys_Ack__Output } from './dlphys/Ack.js';
import type { AgentStatus as _dlphys_AgentStatus, AgentStatus__Output as _dlphys_AgentStatus__Output } from './dlphys/AgentStatus.js';
import type { CodeReply as _dlphys_CodeReply, CodeReply__Output as _dlphys_CodeReply__Output } from './dlphys/CodeReply.js';
import type { CodeRequest as _dlphys_CodeRequest, CodeRequest__Output as _dlphys_CodeRequest__Output } from './dlphys/CodeRequest.js';
import type { CoordinatorClient as _dlphys_CoordinatorClient, CoordinatorDefinition as _dlphys_CoordinatorDefinition } from './dlphys/Coordinator.js';
import type { CoordinatorHealth as _dlphys_CoordinatorHealth, CoordinatorHealth__Output as _dlphys_CoordinatorHealth__Output } from './dlphys/CoordinatorHealth.js';
import type { EarlyStop as _dlphys_EarlyStop, EarlyStop__Output as _dlphys_EarlyStop__Output } from './dlphys/EarlyStop.js';
import type { Event as _dlphys_Event, Event__Output as _dlphys_Event__Output } from './dlphys/Event.js';
import type { FileEnd as _dlphys_FileEnd, FileEnd__Output as _dlphys_FileEnd__Output } from './dlphys/FileEnd.js';
import type { FileStart as _dlphys_FileStart, FileStart__Output as _dlphys_FileStart__Output } from './dlphys/FileStart.js';
import type { GoodbyeRequest as _dlphys_GoodbyeRequest, GoodbyeRequest__Output as _dlphys_GoodbyeRequest__Output } from './dlphys/GoodbyeRequest.js';
import type { GpuHealth as _dlphys_GpuHealth, GpuHealth__Output as _dlphys_GpuHealth__Output } from './dlphys/GpuHealth.js';
import type { HeartbeatReply as _dlphys_HeartbeatReply, HeartbeatReply__Output as _dlphys_HeartbeatReply__Output } from './dlphys/HeartbeatReply.js';
import type { HeartbeatRequest as _dlphys_HeartbeatRequest, HeartbeatRequest__Output as _dlphys_HeartbeatRequest__Output } from './dlphys/HeartbeatRequest.js';
import type { HostHealth as _dlphys_HostHealth, HostHealth__Output as _dlphys_HostHealth__Output } from './dlphys/HostHealth.js';
import type { LeaseReply as _dlphys_LeaseReply, LeaseReply__Output as _dlphys_LeaseReply__Output } from './dlphys/LeaseReply.js';
import type { LeaseRequest as _dlphys_LeaseRequest, LeaseRequest__Output as _dlphys_LeaseRequest__Output } from './dlphys/LeaseRequest.js';
import type { LeasedRun as _dlphys_LeasedRun, LeasedRun__Output as _dlphys_LeasedRun__Output } from './dlphys/LeasedRun.js';
import type { MetricAck as _dlphys_MetricAck, MetricAck__Output as _dlphys_MetricAck__Output } from './dlphys/MetricAck.js';
import type { MetricBatch as _dlphys_MetricBatch, MetricBatch__Output as _dlphys_MetricBatch__Output } from './dlphys/MetricBatch.js';
import type { MetricRow as _dlphys_MetricRow, MetricRow__Output as _dlphys_MetricRow__Output } from './dlphys/MetricRow.js';
import type { RegisterReply as _dlphys_RegisterReply, RegisterReply__Output as _dlphys_RegisterReply__Output } from './dlphys/RegisterReply.js';
import type { RegisterRequest as _dlphys_RegisterRequest, RegisterRequest__Output as _dlphys_RegisterRequest__Output } from './dlphys/RegisterRequest.js';
import type { RunDetailReply as _dlphys_RunDetailReply, RunDetailReply__Output as _dlphys_RunDetailReply__Output } from './dlphys/RunDetailReply.js';
import type { RunDetailRequest as _dlphys_RunDetailRequest, RunDetailRequest__Output as _dlphys_RunDetailRequest__Output } from './dlphys/RunDetailRequest.js';
import type { RunEvent as _dlphys_RunEvent, RunEvent__Output as _dlphys_RunEvent__Output } from './dlphys/RunEvent.js';
import type { RunRef as _dlphys_RunRef, RunRef__Output as _dlphys_RunRef__Output } from './dlphys/RunRef.js';
import type { RunReport as _dlphys_RunReport, RunReport__Output as _dlphys_RunReport__Output } from './dlphys/RunReport.js';
import type { RunStatus as _dlphys_RunStatus, RunStatus__Output as _dlphys_RunStatus__Output } from './dlphys/RunStatus.js';
import type { SlurmJob as _dlphys_SlurmJob, SlurmJob__Output as _dlphys_SlurmJob__Output } from './dlphys/SlurmJob.js';
import type { SlurmTask as _dlphys_SlurmTask, SlurmTask__Output as _dlphys_SlurmTask__Output } from './dlphys/SlurmTask.js';
import type { StatusReply as _dlphys_StatusReply, StatusReply__Output as _dlphys_StatusReply__Output } from './dlphys/StatusReply.js';
import type { StatusRequest as _dlphys_StatusRequest, StatusRequest__Output as _dlphys_StatusRequest__Output } from './dlphys/StatusRequest.js';
import type { SubmitSlurmReply as _dlphys_SubmitSlurmReply, SubmitSlurmReply__Output as _dlphys_SubmitSlurmReply__Output } from './dlphys/SubmitSlurmReply.js';
import type { SubmitSlurmRequest as _dlphys_SubmitSlurmRequest, SubmitSlurmRequest__Output as _dlphys_SubmitSlurmRequest__Output } from './dlphys/SubmitSlurmRequest.js';
import type { SubmitSweepReply as _dlphys_SubmitSweepReply, SubmitSweepReply__Output as _dlphys_SubmitSweepReply__Output } from './dlphys/SubmitSweepReply.js';
import type { SubmitSweepRequest as _dlphys_SubmitSweepRequest, SubmitSweepRequest__Output as _dlphys_SubmitSweepRequest__Output } from './dlphys/SubmitSweepRequest.js';
import type { SweepStatus as _dlphys_SweepStatus, SweepStatus__Output as _dlphys_SweepStatus__Output } from './dlphys/SweepStatus.js';
import type { TargetReply as _dlphys_TargetReply, TargetReply__Output as _dlphys_TargetReply__Output } from './dlphys/TargetReply.js';
import type { TargetRequest as _dlphys_TargetRequest, TargetRequest__Output as _dlphys_TargetRequest__Output } from './dlphys/TargetRequest.js';
import type { UploadChunk as _dlphys_UploadChunk, UploadChunk__Output as _dlphys_UploadChunk__Output } from './dlphys/UploadChunk.js';
import type { UploadHeader as _dlphys_UploadHeader, UploadHeader__Output as _dlphys_UploadHeader__Output } from './dlphys/UploadHeader.js';
import type { UploadReply as _dlphys_UploadReply, UploadReply__Output as _dlphys_UploadReply__Output } from './dlphys/UploadReply.js';
import type { WatchRequest as _dlphys_WatchRequest, WatchRequest__Output as _dlphys_WatchRequest__Output } from './dlphys/WatchRequest.js';

type SubtypeConstructor<Constructor extends new (...args: any) => any, Subtype> = {
  new(...args: ConstructorParameters<Constructor>): Subtype;
};

export interface ProtoGrpcType {
  dlphys: {
    Ack: MessageTypeDefinition<_dlphys_Ack, _dlphys_Ack__Output>
    AgentStatus: MessageTypeDefinition<_dlphys_AgentStatus, _dlphys_AgentStatus__Output>
    CodeReply: MessageTypeDefinition<_dlphys_CodeReply, _dlphys_CodeReply__Output>
    CodeRequest: MessageTypeDefinition<_dlphys_CodeRequest, _dlphys_CodeRequest__Output>
    Coordinator: SubtypeConstructor<typeof grpc.Client, _dlphys_CoordinatorClient> & { service: _dlphys_CoordinatorDefinition }
    CoordinatorHealth: MessageTypeDefinition<_dlphys_CoordinatorHealth, _dlphys_CoordinatorHealth__Output>
    EarlyStop: MessageTypeDefinition<_dlphys_EarlyStop, _dlphys_EarlyStop__Output>
    Event: MessageTypeDefinition<_dlphys_Event, _dlphys_Event__Output>
    FileEnd: MessageTypeDefinition<_dlphys_FileEnd, _dlphys_FileEnd__Output>
    FileStart: MessageTypeDefinition<_dlphys_FileStart, _dlphys_FileStart__Output>
    GoodbyeRequest: MessageTypeDefinition<_dlphys_GoodbyeRequest, _dlphys_GoodbyeRequest__Output>
    GpuHealth: MessageTypeDefinition<_dlphys_GpuHealth, _dlphys_GpuHealth__Output>
    HeartbeatReply: MessageTypeDefinition<_dlphys_HeartbeatReply, _dlphys_HeartbeatReply__Output>
    HeartbeatRequest: MessageTypeDefinition<_dlphys_HeartbeatRequest, _dlphys_HeartbeatRequest__Output>
    HostHealth: MessageTypeDefinition<_dlphys_HostHealth, _dlphys_HostHealth__Output>
    LeaseReply: MessageTypeDefinition<_dlphys_LeaseReply, _dlphys_LeaseReply__Output>
    LeaseRequest: MessageTypeDefinition<_dlphys_LeaseRequest, _dlphys_LeaseRequest__Output>
    LeasedRun: MessageTypeDefinition<_dlphys_LeasedRun, _dlphys_LeasedRun__Output>
    MetricAck: MessageTypeDefinition<_dlphys_MetricAck, _dlphys_MetricAck__Output>
    MetricBatch: MessageTypeDefinition<_dlphys_MetricBatch, _dlphys_MetricBatch__Output>
    MetricRow: MessageTypeDefinition<_dlphys_MetricRow, _dlphys_MetricRow__Output>
    RegisterReply: MessageTypeDefinition<_dlphys_RegisterReply, _dlphys_RegisterReply__Output>
    RegisterRequest: MessageTypeDefinition<_dlphys_RegisterRequest, _dlphys_RegisterRequest__Output>
    RunDetailReply: MessageTypeDefinition<_dlphys_RunDetailReply, _dlphys_RunDetailReply__Output>
    RunDetailRequest: MessageTypeDefinition<_dlphys_RunDetailRequest, _dlphys_RunDetailRequest__Output>
    RunEvent: MessageTypeDefinition<_dlphys_RunEvent, _dlphys_RunEvent__Output>
    RunRef: MessageTypeDefinition<_dlphys_RunRef, _dlphys_RunRef__Output>
    RunReport: MessageTypeDefinition<_dlphys_RunReport, _dlphys_RunReport__Output>
    RunStatus: MessageTypeDefinition<_dlphys_RunStatus, _dlphys_RunStatus__Output>
    SlurmJob: MessageTypeDefinition<_dlphys_SlurmJob, _dlphys_SlurmJob__Output>
    SlurmTask: MessageTypeDefinition<_dlphys_SlurmTask, _dlphys_SlurmTask__Output>
    StatusReply: MessageTypeDefinition<_dlphys_StatusReply, _dlphys_StatusReply__Output>
    StatusRequest: MessageTypeDefinition<_dlphys_StatusRequest, _dlphys_StatusRequest__Output>
    SubmitSlurmReply: MessageTypeDefinition<_dlphys_SubmitSlurmReply, _dlphys_SubmitSlurmReply__Output>
    SubmitSlurmRequest: MessageTypeDefinition<_dlphys_SubmitSlurmRequest, _dlphys_SubmitSlurmRequest__Output>
    SubmitSweepReply: MessageTypeDefinition<_dlphys_SubmitSweepReply, _dlphys_SubmitSweepReply__Output>
    SubmitSweepRequest: MessageTypeDefinition<_dlphys_SubmitSweepRequest, _dlphys_SubmitSweepRequest__Output>
    SweepStatus: MessageTypeDefinition<_dlphys_SweepStatus, _dlphys_SweepStatus__Output>
    TargetReply: MessageTypeDefinition<_dlphys_TargetReply, _dlphys_TargetReply__Output>
    TargetRequest: MessageTypeDefinition<_dlphys_TargetRequest, _dlphys_TargetRequest__Output>
    UploadChunk: MessageTypeDefinition<_dlphys_UploadChunk, _dlphys_UploadChunk__Output>
    UploadHeader: MessageTypeDefinition<_dlphys_UploadHeader, _dlphys_UploadHeader__Output>
    UploadReply: MessageTypeDefinition<_dlphys_UploadReply, _dlphys_UploadReply__Output>
    WatchRequest: MessageTypeDefinition<_dlphys_WatchRequest, _dlphys_WatchRequest__Output>
  }
}

