/**
 * One soak, from start to end: the workspace and the processes, the agents registered, the faults
 * on schedule, then everything left alone until every run has ended (or a deadline), everything
 * stopped, and the end-of-run checks. Ctrl-C stops every process, unmounts the tmpfs and removes
 * the temp dir.
 */
import { stamp } from '../../lib/log.js';
import { analyse } from './analyse.js';
import { FaultInjector } from './faults.js';
import { alive, lastLine, type CoordProc } from './proc.js';
import { Processes } from './processes.js';
import { schedule } from './schedule.js';
import type { ChaosOptions, ChaosResult } from './types.js';
import { Workspace } from './workspace.js';

export async function runChaos(options: ChaosOptions = {}): Promise<ChaosResult> {
  const nRuns = options.runs ?? 60;
  const seconds = options.seconds ?? 240;
  const seed = options.seed ?? 1;
  const steps = options.steps ?? 2000;
  const nAgents = Math.max(3, options.agents ?? 4);
  const leaseTtl = options.leaseTtl ?? 3;
  const maxAttempts = options.maxAttempts ?? 25;
  const tmpfsMb = options.tmpfsMb ?? 32;
  const drainSeconds = options.drainSeconds ?? 180;
  const t0 = Date.now();
  const log = (line: string) => (options.log ?? ((l: string) => process.stderr.write(l + '\n')))(`${stamp({ since: t0 })} ${line}`);

  const ws = new Workspace({ nRuns, steps, leaseTtl, maxAttempts, tmpfsMb, log });
  const procs = new Processes(ws, nAgents, log);
  let cleaned = false;
  const cleanUp = (): void => {
    if (cleaned) return;
    cleaned = true;
    procs.killAll();
    ws.remove();
  };
  const onSignal = (signal: NodeJS.Signals) => {
    process.stderr.write(`\n${signal}: stopping every process, unmounting, removing ${ws.dir}\n`);
    cleanUp();
    process.exit(130);
  };
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);

  const faults = new FaultInjector(ws, procs, seconds, log);
  const { slots } = procs;
  const label = (s: (typeof slots)[number]) => procs.label(s);

  try {
    // Start: the coordinator records the sweep; the agents register.
    await procs.startCoord('sweep');
    for (const s of slots) procs.startSlot(s);
    const deadline = Date.now() + 90_000;
    while (slots.some((s) => !s.dead && !/registered as/.test(s.proc!.log()))) {
      procs.observe();
      if (Date.now() > deadline) throw new Error(`agents did not register within 90 s:\n${slots.map((s) => `--- ${label(s)} ---\n${s.proc!.log()}`).join('\n')}`);
      await new Promise((r) => setTimeout(r, 100));
    }
    log(`${slots.filter((s) => !s.dead).length} agents registered`);

    const plan = schedule(seed, seconds, nAgents, leaseTtl, ws.mounted);
    log(`schedule (seed ${seed}, ${seconds} s): ${plan.map((f) => `${f.at.toFixed(1)}s ${f.kind}${'slot' in f ? ` #${f.slot}` : ''}`).join(', ')}`);
    faults.begin(plan);

    // Faults, in order, until the schedule's end or every run has ended.
    let lastProgress = 0;
    while (faults.now() < seconds) {
      procs.observe();
      await faults.applyDue();
      if (procs.fatal) throw procs.fatal;
      if (!procs.coordKilled && !procs.coordStarting && procs.coord && !alive(procs.coord)) {
        const c = procs.coord as CoordProc;
        log(`coordinator exited by itself (${c.child.exitCode ?? c.child.signalCode}): ${lastLine(c.log())}; starting it again`);
        await procs.startCoord('serve');
      }
      if (ws.allEnded()) {
        log('every run has ended: no more faults');
        break;
      }
      if (Date.now() - lastProgress > 10_000) {
        lastProgress = Date.now();
        const counts: Record<string, number> = {};
        for (const st of Object.values(ws.states())) counts[st] = (counts[st] ?? 0) + 1;
        log(`runs: ${JSON.stringify(counts)}`);
      }
      await new Promise((r) => setTimeout(r, 100));
    }

    // Leave it alone: disk freed, stopped agents continued, the coordinator and killed agents back.
    await faults.settle();
    if (procs.coordStarting) await procs.coordStarting;
    if (procs.fatal) throw procs.fatal;
    if (!procs.coord || !alive(procs.coord)) await procs.startCoord('serve');
    log(`faults over; waiting up to ${drainSeconds} s for every run to end`);
    const drainDeadline = Date.now() + drainSeconds * 1000;
    while (!ws.allEnded() && Date.now() < drainDeadline) {
      procs.observe();
      const coord = procs.coord;
      if (!alive(coord)) {
        log(`coordinator exited by itself (${coord!.child.exitCode ?? coord!.child.signalCode}): ${lastLine(coord!.log())}; starting it again`);
        await procs.startCoord('serve');
      }
      if (!slots.some((s) => alive(s.proc))) procs.startRescue();
      await new Promise((r) => setTimeout(r, 200));
    }
    const ended = ws.allEnded();
    log(ended ? 'every run has ended' : `deadline: runs still unfinished after ${drainSeconds} s`);

    await procs.stop();

    if (options.logsDir) procs.writeLogs(options.logsDir);
    const result = analyse({
      db: ws.db,
      runsDir: ws.runsDir,
      nRuns,
      seed,
      seconds,
      faults: faults.faults,
      agentExits: procs.agentExits,
      peakRssKb: procs.peakRssKb,
      filler: ws.filler,
    });
    result.wallSeconds = (Date.now() - t0) / 1000;
    return result;
  } finally {
    cleanUp();
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
  }
}
