/** The report of a soak: the table of runs and the counts for a person, and one JSON line. */
import type { ChaosResult } from './types.js';
import { textTable } from '../../lib/text_table.js';

/** The table of runs, the counts, the errors: what a person reads. */
export function formatResult(r: ChaosResult): string {
  const head = ['run', 'state', 'attempts', 'lost', 'rows', 'landed', 'verdict'];
  const body = r.reports.map((x) => [
    x.id,
    x.state,
    x.outcomes.map((o) => (o === null ? '…' : o === 'completed' ? 'C' : o === 'lost' ? 'L' : o === 'failed' ? 'F' : o === 'handback' ? 'H' : o[0]!.toUpperCase())).join(''),
    String(x.lostAttempts),
    String(x.metricRows),
    x.landed === 'missing' ? '-' : `${x.landed} (${x.landedLines ?? '-'})`,
    x.verdict + (x.duplicated ? ' DUPLICATED' : ''),
  ]);
  const out = [...textTable([head, ...body]), '(attempts: C completed, L lost, H handed back, F failed, S stopped, … held)', ''];
  const problems = r.reports.filter((x) => x.problems.length && (x.verdict !== 'ok' || x.duplicated));
  if (problems.length) {
    out.push('problems:');
    for (const x of problems) out.push(`  ${x.id}: ${x.problems.join('; ')}`);
    out.push('');
  }
  if (r.agentExits.length) out.push('agents that exited by themselves:', ...r.agentExits.map((l) => `  ${l}`), '');
  if (r.strays.length) out.push(`in the runs dir besides the completed runs: ${r.strays.join(', ')}`, '');
  out.push(
    `runs ${r.runs}: completed and landed exactly once ${r.completedLanded}; lost ${r.lost} (trained but not landed ${r.lostNotLanded}, failed after max attempts ${r.lostMaxAttempts}); ` +
      `failed otherwise ${r.failedOther}; unfinished ${r.unfinished}; duplicated ${r.duplicated}`,
    `attempts lost: ${r.attemptsLost} in all; per run: ${Object.entries(r.attemptsLostPerRun).map(([k, v]) => `${k.split('/')[1]}:${v}`).join(' ') || 'none'}`,
    `faults: ${r.faults.agentKills} agent kill -9, ${r.faults.coordKills} coordinator kill -9, ${r.faults.flaps} agent SIGSTOPs, disk full ${r.faults.diskFault === 'done' ? `${r.faults.diskFullSeconds} s` : 'skipped (no tmpfs)'}`,
    `coordinator peak RSS: ${r.coordPeakRssMb} MB; wall time ${r.wallSeconds.toFixed(0)} s`,
  );
  return out.join('\n');
}

/** The JSON line: the counts, without the per-run reports. */
export function resultJson(r: ChaosResult): string {
  const { reports: _reports, ...counts } = r;
  return JSON.stringify({ bench: 'chaos', ...counts });
}
