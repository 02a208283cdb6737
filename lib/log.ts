/** One log line on stderr, prefixed with the UTC time of day (HH:MM:SS): what the long-running commands print. */
export function logLine(line: string): void {
  process.stderr.write(`${new Date().toISOString().slice(11, 19)} ${line}\n`);
}
