import type { Command } from 'commander';
import { addTokenOptions } from './token_file.js';

/** Flags of every command that talks to a running coordinator (the agent; submit, status, cancel, retry). */
export interface ClientFlags {
  coord: string;
  token?: string;
  tlsCa?: string;
}

/** Where the coordinator listens when nobody says otherwise (serve's --host and --port defaults). */
export const DEFAULT_COORD = '127.0.0.1:50051';

/**
 * How a command takes --coord: required (submit sends a sweep and the token only to an address
 * the user typed), or with a default; either way with its own help text.
 */
export type CoordOption = { description: string; required: true } | { description: string; default: string };

/**
 * Adds --coord, the token options and --tls-ca, said once for every client command; --token-file
 * is read into `token` before the action. Without `coord`, --coord is "the coordinator to ask",
 * by default {@link DEFAULT_COORD}.
 */
export function addClientOptions(cmd: Command, coord: CoordOption = { description: 'the coordinator to ask', default: DEFAULT_COORD }): Command {
  if ('required' in coord) cmd.requiredOption('--coord <host:port>', coord.description);
  else cmd.option('--coord <host:port>', coord.description, coord.default);
  return addTokenOptions(cmd, "the coordinator's shared secret").option('--tls-ca <file>', 'PEM CA certificate: connect with TLS');
}
