import { UsageError } from '../../lib/errors.js';
import { connect, type Connection } from '../../proto/client.js';
import { describeCallError } from '../../proto/errors.js';
import type { ClientFlags } from '../../lib/cli/client_options.js';

/** Runs `fn` against the coordinator at --coord; a failed call becomes one usage line naming the address. */
export async function withCoordinator<T>(flags: ClientFlags, fn: (conn: Connection) => Promise<T>): Promise<T> {
  const conn = connect(flags.coord, { token: flags.token, tlsCa: flags.tlsCa });
  try {
    return await fn(conn);
  } catch (err) {
    if (err instanceof UsageError) throw err;
    throw new UsageError(describeCallError(flags.coord, err));
  } finally {
    conn.close();
  }
}
