/**
 * Injecting the scheduled faults: kill -9 of an agent (a new one takes its place) or of the
 * coordinator (started again), SIGSTOP/SIGCONT of the flapping agent, and the runs dir's tmpfs
 * filled up and freed. A fault may schedule its own follow-up (a restart, a SIGCONT, a later free).
 */
import fs from 'node:fs';
import { childPids } from '../../test/cluster.js';
import { alive, isRunner, procStatusKb, type CoordProc } from './proc.js';
import type { Processes, Slot } from './processes.js';
import type { Scheduled } from './schedule.js';
import type { ChaosResult } from './types.js';
import type { Workspace } from './workspace.js';

export class FaultInjector {
  readonly faults: ChaosResult['faults'];
  /** Faults still to come, follow-ups included; `at` is seconds after the faults began. */
  readonly pending: Scheduled[] = [];
  private phaseStart = 0;
  private diskFullSince = 0;
  /** Attempts reported (ended other than by a lost lease) when the disk filled up. */
  private reportsAtFill = 0;

  constructor(
    private readonly ws: Workspace,
    private readonly procs: Processes,
    private readonly seconds: number,
    private readonly log: (line: string) => void,
  ) {
    this.faults = { agentKills: 0, coordKills: 0, flaps: 0, diskFullSeconds: 0, diskFault: (ws.mounted ? 'done' : 'skipped') as 'done' | 'skipped' };
  }

  /** Seconds since the faults began. */
  now(): number {
    return (Date.now() - this.phaseStart) / 1000;
  }

  /** The faults begin now. */
  begin(plan: Scheduled[]): void {
    this.pending.push(...plan);
    this.phaseStart = Date.now();
  }

  /** Applies every fault that is due, in order (none after the schedule's end). */
  async applyDue(): Promise<void> {
    const { pending, seconds } = this;
    for (;;) {
      pending.sort((a, b) => a.at - b.at);
      if (!pending.length || pending[0]!.at > this.now() || this.now() >= seconds) break;
      await this.apply(pending.shift()!);
    }
  }

  /** Ends the faults: disk freed, stopped agents continued, the coordinator and killed agents back. */
  async settle(): Promise<void> {
    this.diskFree();
    for (const f of this.pending.filter((p) => p.kind === 'agent-cont' || p.kind === 'coord-start' || p.kind === 'agent-start')) await this.apply(f);
    this.pending.length = 0;
  }

  private diskFill(): void {
    const fd = fs.openSync(this.ws.filler, 'w');
    let bytes = 0;
    try {
      for (const chunk of [Buffer.alloc(1 << 20, 1), Buffer.alloc(4096, 1)]) {
        for (;;) {
          try {
            bytes += fs.writeSync(fd, chunk);
          } catch (err) {
            if ((err as NodeJS.ErrnoException).code === 'ENOSPC') break;
            throw err;
          }
        }
      }
    } finally {
      fs.closeSync(fd);
    }
    this.diskFullSince = Date.now();
    this.reportsAtFill = this.ws.reportedAttempts();
    this.log(`disk full: ${(bytes / 1048576).toFixed(1)} MiB filler in the runs dir`);
  }

  private diskFree(): void {
    if (!this.diskFullSince) return;
    fs.rmSync(this.ws.filler, { force: true });
    this.faults.diskFullSeconds += (Date.now() - this.diskFullSince) / 1000;
    this.diskFullSince = 0;
    this.log(`disk freed (${this.faults.diskFullSeconds.toFixed(1)} s full; ${this.ws.reportedAttempts() - this.reportsAtFill} attempt(s) reported meanwhile)`);
  }

  /**
   * The slot a fault aims at; when that agent has exited by itself (refused to start, say), the
   * next slot whose agent is usable takes its part, so the fault still happens.
   */
  private standIn(index: number, usable: (s: Slot) => boolean): Slot {
    const { slots, nAgents } = this.procs;
    const s = slots[index]!;
    if (!s.dead) return s;
    for (let i = 1; i < nAgents; i++) {
      const other = slots[(index + i) % nAgents]!;
      if (!other.dead && usable(other)) {
        this.log(`${this.procs.label(s)} is gone: ${this.procs.label(other)} takes its part`);
        return other;
      }
    }
    return s;
  }

  private async apply(f: Scheduled): Promise<void> {
    const { procs, faults, pending, log } = this;
    const label = (s: Slot) => procs.label(s);
    switch (f.kind) {
      case 'disk-fill':
        return this.diskFill();
      case 'disk-free': {
        // On a slow machine no run may end while the disk is full, and the fault would test
        // nothing: it stays full until 2 runs have reported (or for at most 40% of the soak).
        const reports = this.diskFullSince ? this.ws.reportedAttempts() - this.reportsAtFill : 2;
        if (reports < 2 && Date.now() - this.diskFullSince < 0.4 * this.seconds * 1000) {
          if (!f.waiting) log(`disk stays full until 2 runs have reported (${reports} so far)`);
          pending.push({ ...f, at: this.now() + 0.5, waiting: true });
          return;
        }
        return this.diskFree();
      }
      case 'coord-kill': {
        if (!procs.coord || !alive(procs.coord)) return log('coordinator kill -9 skipped: it is down');
        procs.coordKilled = true;
        const c: CoordProc = procs.coord;
        procs.peakRssKb = Math.max(procs.peakRssKb, procStatusKb(c.child.pid!, 'VmHWM'));
        c.kill('SIGKILL');
        await c.exited;
        faults.coordKills++;
        log(`kill -9 coordinator (pid ${c.child.pid}); restart in ${f.downFor.toFixed(1)} s`);
        pending.push({ at: this.now() + f.downFor, kind: 'coord-start' });
        return;
      }
      case 'coord-start':
        // In the background: faults go on while it starts (it takes seconds on a busy machine).
        procs.startCoord('serve').catch((err: Error) => (procs.fatal ??= err));
        return;
      case 'agent-kill': {
        const s = this.standIn(f.slot, (x) => alive(x.proc));
        if (s.dead || !alive(s.proc)) return log(`kill -9 of ${label(s)} skipped: not running`);
        s.killed = true;
        for (const pid of childPids(s.proc.child.pid!)) if (isRunner(pid)) procs.runnerPids.add(pid);
        s.proc.kill('SIGKILL');
        await s.proc.exited;
        faults.agentKills++;
        log(`kill -9 ${label(s)} (pid ${s.proc.child.pid}); a new one in ${f.restartAfter.toFixed(1)} s`);
        pending.push({ at: this.now() + f.restartAfter, kind: 'agent-start', slot: s.index });
        return;
      }
      case 'agent-start': {
        const s = procs.slots[f.slot]!;
        if (!s.dead && !alive(s.proc)) procs.startSlot(s);
        return;
      }
      case 'agent-stop': {
        const s = this.standIn(f.slot, (x) => alive(x.proc) && !x.stoppedPid);
        if (s.dead || !alive(s.proc) || s.stoppedPid) return log(`SIGSTOP of ${label(s)} skipped: not running`);
        s.stoppedPid = s.proc.child.pid!;
        s.proc.kill('SIGSTOP');
        faults.flaps++;
        log(`SIGSTOP ${label(s)} (pid ${s.stoppedPid}) for ${f.stopFor.toFixed(1)} s`);
        pending.push({ at: this.now() + f.stopFor, kind: 'agent-cont', slot: s.index, pid: s.stoppedPid });
        return;
      }
      case 'agent-cont': {
        const s = procs.slots[f.slot]!;
        if (s.stoppedPid !== f.pid) return;
        s.stoppedPid = null;
        if (alive(s.proc)) {
          s.proc.kill('SIGCONT');
          log(`SIGCONT ${label(s)} (pid ${f.pid})`);
        }
        return;
      }
    }
  }
}
