/** The end-of-run checks: the database and the landed folders against each other, run by run. */
import fs from 'node:fs';
import path from 'node:path';
import { openDb } from '../../test/cluster.js';
import { SWEEP, type ChaosResult, type RunReport, type Verdict } from './types.js';

export interface AnalyseInput {
  db: string;
  runsDir: string;
  nRuns: number;
  seed: number;
  seconds: number;
  faults: ChaosResult['faults'];
  agentExits: string[];
  peakRssKb: number;
  filler: string;
}

/** Checks the database and the landed folders against each other (everything has stopped). */
export function analyse(inp: AnalyseInput): ChaosResult {
  const h = openDb(inp.db);
  const runs = h.prepare('SELECT id, state, attempt, error, summary_json FROM runs ORDER BY id').all() as {
    id: string;
    state: string;
    attempt: number;
    error: string | null;
    summary_json: string | null;
  }[];
  const attemptsOf = h.prepare('SELECT attempt, outcome, error FROM attempts WHERE run_id = ? ORDER BY attempt');
  const rowsOf = h.prepare('SELECT seq, line FROM metrics WHERE run_id = ? AND attempt = ? ORDER BY seq');
  const reports: RunReport[] = [];
  for (const run of runs) {
    const attempts = attemptsOf.all(run.id) as { attempt: number; outcome: string | null; error: string | null }[];
    const rows = rowsOf.all(run.id, run.attempt) as { seq: number; line: string }[];
    const problems: string[] = [];
    let duplicated = false;
    const completedAttempts = attempts.filter((a) => a.outcome === 'completed').length;
    if (completedAttempts > 1) {
      duplicated = true;
      problems.push(`${completedAttempts} completed attempts`);
    }
    const seqs = new Set(rows.map((r) => r.seq));
    if (seqs.size !== rows.length) {
      duplicated = true;
      problems.push(`${rows.length - seqs.size} duplicate metric seq(s)`);
    }
    // Each line carries its step and wall time, so the same line twice is a resent row stored twice.
    const lines = new Set(rows.map((r) => r.line));
    if (lines.size !== rows.length) {
      duplicated = true;
      problems.push(`${rows.length - lines.size} metric line(s) stored twice`);
    }

    // The landed folder.
    const folder = path.join(inp.runsDir, run.id);
    let landed: RunReport['landed'] = 'missing';
    let landedLines: number | null = null;
    if (fs.existsSync(folder)) {
      const files = fs.readdirSync(folder);
      const missing = ['config.json', 'metrics.jsonl', 'summary.json'].filter((f) => !files.includes(f));
      landed = missing.length ? 'partial' : 'whole';
      if (missing.length) problems.push(`landed without ${missing.join(', ')}`);
      if (files.includes('metrics.jsonl')) {
        const fileLines = fs.readFileSync(path.join(folder, 'metrics.jsonl'), 'utf8').split('\n').filter((l) => l.trim());
        landedLines = fileLines.length;
        if (run.state === 'completed') {
          if (fileLines.length !== rows.length) {
            landed = 'partial';
            problems.push(`metrics.jsonl has ${fileLines.length} lines, the final attempt ${rows.length} rows`);
          } else if (fileLines.some((l, i) => l !== rows[i]!.line)) {
            duplicated = true;
            problems.push("metrics.jsonl is not the final attempt's rows (another attempt's folder landed)");
          }
          if (new Set(fileLines).size !== fileLines.length) {
            duplicated = true;
            problems.push('metrics.jsonl holds the same line twice');
          }
        }
      }
      if (files.includes('config.json')) {
        try {
          JSON.parse(fs.readFileSync(path.join(folder, 'config.json'), 'utf8'));
        } catch {
          landed = 'partial';
          problems.push('config.json does not parse');
        }
      }
      if (files.includes('summary.json') && run.state === 'completed') {
        let landedSummary: Record<string, unknown> | null = null;
        try {
          landedSummary = JSON.parse(fs.readFileSync(path.join(folder, 'summary.json'), 'utf8'));
        } catch {
          landed = 'partial';
          problems.push('summary.json does not parse');
        }
        const dbSummary = run.summary_json ? (JSON.parse(run.summary_json) as Record<string, unknown>) : null;
        if (landedSummary && landedSummary.status !== 'completed') {
          landed = 'partial';
          problems.push(`landed summary.json says ${String(landedSummary.status)} (a snapshot, not the final folder)`);
        } else if (landedSummary && dbSummary) {
          const differs = ['started_at', 'ended_at', 'steps'].filter((k) => landedSummary![k] !== dbSummary[k]);
          if (differs.length) {
            duplicated = true;
            problems.push(`landed summary.json disagrees with the database on ${differs.join(', ')} (another attempt's folder)`);
          }
        }
      }
    }

    let verdict: Verdict;
    const summaryStatus = run.summary_json ? (JSON.parse(run.summary_json) as { status?: string }).status : undefined;
    if (run.state === 'completed') {
      verdict = landed === 'whole' && !problems.length ? 'ok' : 'lost-not-landed';
      if (landed !== 'whole') problems.unshift(landed === 'missing' ? 'completed, no folder landed' : 'completed, folder not whole');
    } else if (run.state === 'failed') {
      if (/^lost \d+ times/.test(run.error ?? '')) verdict = 'lost-max-attempts';
      else if (summaryStatus === 'completed') verdict = 'lost-not-landed';
      else verdict = 'failed-other';
      problems.unshift(`failed: ${run.error?.split('\n')[0] ?? '(no error recorded)'}`);
    } else if (['queued', 'leased', 'running'].includes(run.state)) {
      verdict = 'unfinished';
      problems.unshift(`still ${run.state}`);
    } else {
      verdict = 'other';
      problems.unshift(`${run.state}: ${run.error?.split('\n')[0] ?? ''}`);
    }
    reports.push({
      id: run.id,
      state: run.state,
      attempt: run.attempt,
      outcomes: attempts.map((a) => a.outcome),
      lostAttempts: attempts.filter((a) => a.outcome === 'lost').length,
      completedAttempts,
      metricRows: rows.length,
      landedLines,
      landed,
      verdict,
      duplicated,
      problems,
      error: run.error,
    });
  }
  h.close();

  // What lies in the runs dir that no completed run accounts for.
  const strays: string[] = [];
  const byId = new Map(reports.map((r) => [r.id, r]));
  const walk = (rel: string, depth: number) => {
    for (const entry of fs.readdirSync(path.join(inp.runsDir, rel))) {
      const sub = rel ? `${rel}/${entry}` : entry;
      if (path.join(inp.runsDir, sub) === inp.filler) continue;
      if (depth === 0 && entry === SWEEP) walk(sub, 1);
      else if (depth === 0 && entry === 'lost+found') continue;
      else if (depth === 0 && entry === '.incoming') {
        const left = fs.readdirSync(path.join(inp.runsDir, sub));
        if (left.length) strays.push(`.incoming: ${left.length} unfinished upload(s)`);
      } else if (depth === 1 && byId.get(sub)?.state === 'completed') continue;
      else strays.push(`${sub}${byId.has(sub) ? ` (run ${byId.get(sub)!.state})` : ''}`);
    }
  };
  walk('', 0);

  const count = (v: Verdict) => reports.filter((r) => r.verdict === v).length;
  const lostNotLanded = count('lost-not-landed');
  const lostMaxAttempts = count('lost-max-attempts');
  const attemptsLostPerRun = Object.fromEntries(reports.filter((r) => r.lostAttempts).map((r) => [r.id, r.lostAttempts]));
  const completedRuns = reports.filter((r) => r.state === 'completed');
  return {
    seed: inp.seed,
    runs: inp.nRuns,
    seconds: inp.seconds,
    completedLanded: reports.filter((r) => r.verdict === 'ok' && !r.duplicated).length,
    completed: completedRuns.length,
    completedNotLandedWhole: completedRuns.filter((r) => r.verdict !== 'ok').length,
    lost: lostNotLanded + lostMaxAttempts,
    lostNotLanded,
    lostMaxAttempts,
    failedOther: count('failed-other'),
    unfinished: count('unfinished'),
    other: count('other'),
    duplicated: reports.filter((r) => r.duplicated).length,
    attemptsLost: reports.reduce((n, r) => n + r.lostAttempts, 0),
    attemptsLostPerRun,
    errors: Object.fromEntries(reports.filter((r) => r.error && r.state !== 'completed').map((r) => [r.id, r.error!])),
    coordPeakRssMb: Math.round(inp.peakRssKb / 102.4) / 10,
    faults: { ...inp.faults, diskFullSeconds: Math.round(inp.faults.diskFullSeconds * 10) / 10 },
    agentExits: inp.agentExits,
    strays,
    wallSeconds: 0,
    reports,
  };
}
