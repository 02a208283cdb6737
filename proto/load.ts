import * as grpc from '@grpc/grpc-js';
import * as protoLoader from '@grpc/proto-loader';
import { packagePath } from '../lib/package_dir.js';
import type { ProtoGrpcType } from './generated/dlphys.js';

/** One set of loader options for every process; the generated types (npm run gen:proto) assume them. */
export const LOADER_OPTIONS: protoLoader.Options = {
  keepCase: true,
  longs: String,
  enums: String,
  defaults: true,
  oneofs: true,
};

const definition = protoLoader.loadSync(packagePath('proto', 'dlphys.proto'), LOADER_OPTIONS);

export const dlphysProto = (grpc.loadPackageDefinition(definition) as unknown as ProtoGrpcType).dlphys;

export type * from './generated/dlphys/Coordinator.js';
