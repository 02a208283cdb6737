/**
 * A timestamp for a log line, said once for every log this project writes:
 *   'time'         the UTC time of day, HH:MM:SS (the long-running commands' stderr, logLine);
 *   'iso'          the full ISO 8601 UTC time, 2024-01-02T03:04:05.678Z (a run's train.log);
 *   { since: t0 }  the seconds since t0 (epoch ms), right-aligned in brackets, `[  12.3s]` (the
 *                  chaos soak, where the time elapsed says more than the time of day).
 * `now` (epoch ms) is the moment stamped.
 */
export function stamp(form: 'time' | 'iso' | { since: number }, now = Date.now()): string {
  if (typeof form === 'object') return `[${((now - form.since) / 1000).toFixed(1).padStart(6)}s]`;
  const iso = new Date(now).toISOString();
  return form === 'iso' ? iso : iso.slice(11, 19);
}

/** One log line on stderr, prefixed with the UTC time of day (HH:MM:SS): what the long-running commands print. */
export function logLine(line: string): void {
  process.stderr.write(`${stamp('time')} ${line}\n`);
}
