/**
 * The coordinator and agent processes of a soak: starting them (again), one slot per agent;
 * keeping track of every process started, for the clean-up; noticing agents that exit on their
 * own; stopping them all in order at the end; and their logs.
 */
import fs from 'node:fs';
import path from 'node:path';
import { childPids, isRunning, type Proc } from '../../test/cluster.js';
import { alive, allowedCpus, isRunner, lastLine, procStatusKb, startProc, type CoordProc } from './proc.js';
import type { Workspace } from './workspace.js';

export interface Slot {
  index: number;
  workDir: string;
  proc: Proc | null;
  /** Generation: a replacement agent gets the next one (for the logs). */
  gen: number;
  /** Refused to start or crashed: no replacement, no faults. */
  dead: boolean;
  /** This bench killed (or is stopping) the current agent: its exit is no news. */
  killed: boolean;
  /** The pid this bench stopped with SIGSTOP and has not continued yet. */
  stoppedPid: number | null;
  /** The current agent's own exit has been logged. */
  reportedExit: boolean;
}

export class Processes {
  // Everything started, for the clean-up (which also runs on Ctrl-C).
  readonly coords: Proc[] = [];
  readonly agentProcs: Proc[] = [];
  readonly agentLabels = new Map<Proc, string>();
  readonly runnerPids = new Set<number>();
  coord = null as CoordProc | null;
  coordStarting: Promise<void> | null = null;
  /** A failure of a coordinator start in the background, thrown by the main loop. */
  fatal: Error | null = null;
  coordPort = 0;
  coordKilled = false;
  peakRssKb = 0;
  /** Agents that exited without being killed, with their last log line. */
  readonly agentExits: string[] = [];
  readonly slots: Slot[];
  private readonly cpus = allowedCpus();
  private rescue = 0;

  constructor(
    private readonly ws: Workspace,
    readonly nAgents: number,
    private readonly log: (line: string) => void,
  ) {
    this.slots = Array.from({ length: nAgents }, (_, i) => ({
      index: i,
      // Agents 1 and 2 share a home directory.
      workDir: path.join(ws.dir, 'agents', i === 1 || i === 2 ? 'shared' : `own-${i}`),
      proc: null,
      gen: 0,
      dead: false,
      killed: false,
      stoppedPid: null,
      reportedExit: false,
    }));
  }

  label(s: Slot): string {
    return `agent ${s.index}${s.gen > 1 ? `.${s.gen}` : ''}${s.index === 1 || s.index === 2 ? ' (shared work dir)' : ''}${s.index === 2 ? ' (flapper)' : ''}`;
  }

  startSlot(s: Slot): void {
    if (!this.coordPort) throw new Error('no coordinator port yet');
    fs.mkdirSync(s.workDir, { recursive: true });
    s.gen++;
    s.killed = false;
    s.reportedExit = false;
    s.stoppedPid = null;
    const cpu = this.cpus.length > 1 ? this.cpus[s.index % this.cpus.length]! : null;
    s.proc = startProc('dlphys-agent.js', ['--coord', `127.0.0.1:${this.coordPort}`, '--slots', '1', '--poll', '100', '--upload-every', '2', '--work-dir', s.workDir], cpu);
    this.agentProcs.push(s.proc);
    this.agentLabels.set(s.proc, `agent-${s.index}.${s.gen}`);
    this.log(`started ${this.label(s)}: pid ${s.proc.child.pid}, --work-dir ${path.relative(this.ws.dir, s.workDir)}${cpu === null ? '' : `, on CPU ${cpu}`}`);
  }

  /** Every agent refused to start or crashed: one more, in a work dir of its own. */
  startRescue(): void {
    const s: Slot = { index: this.nAgents + this.rescue++, workDir: path.join(this.ws.dir, 'agents', `rescue-${this.rescue}`), proc: null, gen: 0, dead: false, killed: false, stoppedPid: null, reportedExit: false };
    this.slots.push(s);
    this.log('no agent is running: starting a rescue agent');
    this.startSlot(s);
  }

  /** Starts the coordinator (again) and resolves once it serves; one start at a time. */
  startCoord(mode: 'sweep' | 'serve'): Promise<void> {
    const { coordFlags, sweepFile } = this.ws;
    const args = mode === 'sweep' ? ['sweep', sweepFile, '--port', '0', ...coordFlags] : ['serve', '--port', String(this.coordPort), ...coordFlags];
    this.coordStarting ??= (async () => {
      for (let i = 1; ; i++) {
        const p = startProc('dlphys-coord.js', args);
        this.coords.push(p);
        const deadline = Date.now() + 90_000;
        let port = 0;
        while (!port && alive(p) && Date.now() < deadline) {
          port = Number(/serving on [^:]+:(\d+)/.exec(p.log())?.[1] ?? 0);
          if (!port) await new Promise((r) => setTimeout(r, 100));
        }
        if (port) {
          this.coord = Object.assign(p, { port });
          this.coordPort = port;
          this.coordKilled = false;
          this.log(`coordinator ${mode === 'sweep' ? 'started' : 'restarted'}: pid ${p.child.pid}, port ${port}`);
          return;
        }
        if (alive(p)) p.kill('SIGKILL');
        await p.exited;
        if (i >= 5) throw new Error(`the coordinator did not start (${mode}) 5 times; the last log:\n${p.log()}`);
        this.log(`coordinator did not start (${lastLine(p.log())}); again in ${i} s`);
        await new Promise((r) => setTimeout(r, i * 1000)); // backoff between attempts, not synchronisation
      }
    })().finally(() => {
      this.coordStarting = null;
    });
    return this.coordStarting;
  }

  /** Samples the coordinator's memory, remembers runner children, notices agents that exit on their own. */
  observe(): void {
    if (this.coord && alive(this.coord)) this.peakRssKb = Math.max(this.peakRssKb, procStatusKb(this.coord.child.pid!, 'VmHWM'));
    for (const s of this.slots) {
      const p = s.proc;
      if (!p) continue;
      if (alive(p)) {
        for (const pid of childPids(p.child.pid!)) if (isRunner(pid)) this.runnerPids.add(pid);
      } else if (!s.killed && !s.reportedExit) {
        s.reportedExit = true;
        s.dead = true;
        const q = s.proc as Proc; // (alive() narrowed p to never here)
        const code = q.child.exitCode ?? q.child.signalCode;
        const registered = /registered as/.test(q.log());
        const line = `${this.label(s)} (pid ${q.child.pid}) exited by itself (${code}) ${registered ? 'after registering' : 'before registering'}: ${lastLine(q.log())}`;
        this.agentExits.push(line);
        this.log(`${line}; continuing without it`);
      }
    }
  }

  /** Stops everything at the end of the soak, in order. */
  async stop(): Promise<void> {
    // Stop: agents first (SIGTERM: they hand back and say goodbye), then the coordinator.
    this.observe();
    for (const s of this.slots) {
      if (!alive(s.proc)) continue;
      s.killed = true;
      s.proc.kill('SIGCONT');
      s.proc.kill('SIGTERM');
    }
    await Promise.all(
      this.slots.map(async (s) => {
        if (!s.proc) return;
        const t = setTimeout(() => s.proc!.kill('SIGKILL'), 15_000);
        await s.proc.exited;
        clearTimeout(t);
      }),
    );
    const c = this.coord as CoordProc | null;
    if (c && alive(c)) {
      this.peakRssKb = Math.max(this.peakRssKb, procStatusKb(c.child.pid!, 'VmHWM'));
      c.kill('SIGTERM');
      const t = setTimeout(() => c.kill('SIGKILL'), 15_000);
      await c.exited;
      clearTimeout(t);
    }
    this.killRunners();
  }

  /** The clean-up (also on Ctrl-C): kill -9 of every process still running. */
  killAll(): void {
    for (const p of [...this.agentProcs, ...this.coords]) {
      if (p.child.exitCode === null && p.child.signalCode === null) p.kill('SIGKILL');
    }
    this.killRunners();
  }

  private killRunners(): void {
    for (const pid of this.runnerPids) if (isRunning(pid) && isRunner(pid)) process.kill(pid, 'SIGKILL');
  }

  /** Writes every process's log into `logsDir` (created). */
  writeLogs(logsDir: string): void {
    fs.mkdirSync(logsDir, { recursive: true });
    this.coords.forEach((c, i) => fs.writeFileSync(path.join(logsDir, `coordinator-${i + 1}-pid${c.child.pid}.log`), c.log()));
    for (const p of this.agentProcs) fs.writeFileSync(path.join(logsDir, `${this.agentLabels.get(p)}-pid${p.child.pid}.log`), p.log());
    this.log(`process logs in ${logsDir}`);
  }
}
