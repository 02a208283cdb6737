/**
 * The seeded fault schedule of a soak: which faults, aimed at which agent, and when. Injecting
 * them is faults.ts's part.
 */

/** mulberry32: a small seeded PRNG, so one seed always gives the same schedule. */
function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

export type Fault =
  | { kind: 'disk-fill' }
  | { kind: 'disk-free'; waiting?: boolean }
  | { kind: 'coord-kill'; downFor: number }
  | { kind: 'coord-start' }
  | { kind: 'agent-kill'; slot: number; restartAfter: number }
  | { kind: 'agent-start'; slot: number }
  | { kind: 'agent-stop'; slot: number; stopFor: number }
  | { kind: 'agent-cont'; slot: number; pid?: number };
export type Scheduled = Fault & { at: number };

/** The faults of one soak, in time order (seconds after the faults begin). */
export function schedule(seed: number, seconds: number, agents: number, leaseTtl: number, disk: boolean): Scheduled[] {
  const r = rng(seed);
  const out: Scheduled[] = [];
  if (disk) {
    const at = seconds * (0.3 + 0.15 * r());
    const len = seconds * (0.15 + 0.1 * r());
    out.push({ at, kind: 'disk-fill' }, { at: at + len, kind: 'disk-free' });
  }
  const coordKills = Math.max(1, Math.round(seconds / 50));
  for (let i = 0; i < coordKills; i++) {
    out.push({ at: (seconds * (i + 0.2 + 0.6 * r())) / coordKills, kind: 'coord-kill', downFor: 0.5 + 2.5 * r() });
  }
  const agentKills = Math.max(2, Math.round(seconds / 20));
  for (let i = 0; i < agentKills; i++) {
    out.push({ at: (seconds * (i + 0.1 + 0.8 * r())) / agentKills, kind: 'agent-kill', slot: Math.floor(r() * agents), restartAfter: 0.5 + 2 * r() });
  }
  // The 3rd agent flaps: stopped for 1.5-2.5 lease TTLs, then left to run 3-8 s.
  for (let t = 3 + 3 * r(); t < seconds; ) {
    const stopFor = leaseTtl * (1.5 + r());
    if (t + stopFor > seconds) break;
    out.push({ at: t, kind: 'agent-stop', slot: 2, stopFor });
    t += stopFor + 3 + 5 * r();
  }
  return out.sort((a, b) => a.at - b.at);
}
