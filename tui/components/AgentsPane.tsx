/**
 * The agents: per agent its host, slots in use, the runs it holds, how long since its last
 * heartbeat (marked stale when two are overdue, lost or left as the coordinator says), and its
 * host's load: CPU, RAM, and per GPU its utilisation and memory (a host without GPUs shows none).
 */
import { Box, Text } from 'ink';
import type { AgentView } from '../state/agents.js';
import { bytes, cut, duration } from '../format.js';
import { windowAround } from './layout.js';
import { PaneTitle } from './PaneTitle.js';
import { useColor } from './theme.js';

/** Props of AgentsPane: the agents, the cursor, and the box it draws in. */
export interface AgentsPaneProps {
  readonly agents: readonly AgentView[];
  readonly cursor: number;
  readonly focused: boolean;
  readonly width: number;
  /** Rows, title included. */
  readonly height: number;
  /** SLURM job arrays still queued (state/agents.ts slurmLines), shown under the agents. */
  readonly slurm?: readonly string[];
}

/** Lines an agent takes: one, and one more for its GPUs. */
export function agentLines(a: AgentView): number {
  return a.health && a.health.gpus.length > 0 ? 2 : 1;
}

function mark(a: AgentView): { text: string; color: string } | null {
  if (a.state === 'lost') return { text: 'LOST', color: 'red' };
  if (a.state === 'left') return { text: 'left', color: 'gray' };
  if (a.state === 'quarantined') return { text: `quarantined until ${a.quarantinedUntil}`, color: 'magenta' };
  if (a.stale) return { text: 'STALE', color: 'yellow' };
  return null;
}

function AgentLines({ a, selected, width }: { readonly a: AgentView; readonly selected: boolean; readonly width: number }) {
  const color = useColor();
  const m = mark(a);
  const h = a.health;
  const who = `${a.host && a.host !== a.id ? `${a.id}@${a.host}` : a.id}${a.slurmJob ? ` [${a.slurmJob}]` : ''}`;
  // Without a health report, the GPUs it registered with; with one, each GPU's load on its own line.
  const load = h
    ? `cpu ${Math.round(h.cpu_percent)}%  ram ${bytes(h.ram_used_bytes)}/${bytes(h.ram_total_bytes)}${h.gpus.length ? '' : '  GPUs: none'}`
    : `GPUs: ${a.gpus.length ? a.gpus.join(',') : 'none'}`;
  const line = `${selected ? '›' : ' '} ${who}  slots ${a.runs.length}/${a.slots}  hb ${duration(a.heartbeatAgeMs)}`;
  const tail = `  ${load}${a.runs.length ? `  runs ${a.runs.join(',')}` : ''}`;
  const gpus = (h?.gpus ?? []).map((g) => `gpu${g.index}${width >= 100 && g.name ? ` ${g.name}` : ''} ${Math.round(g.util_percent)}% ${bytes(g.mem_used_bytes)}/${bytes(g.mem_total_bytes)}`);
  return (
    <Box flexDirection="column">
      <Text wrap="truncate">
        <Text bold={selected}>{cut(line, width)}</Text>
        {m ? <Text color={color(m.color)} bold>{`  ${m.text}`}</Text> : null}
        {tail}
      </Text>
      {gpus.length ? <Text wrap="truncate">{`    ${gpus.join('  ')}`}</Text> : null}
    </Box>
  );
}

/** The agents pane, as many agents as fit around the cursor. */
export function AgentsPane({ agents, cursor, focused, width, height, slurm = [] }: AgentsPaneProps) {
  // The queued jobs take the last lines (at most half the pane); whole agents fit around the cursor
  // in the rest: count lines, not agents.
  const jobs = slurm.slice(0, Math.floor(Math.max(0, height - 1) / 2));
  const room = Math.max(1, height - 1 - jobs.length);
  let { start, end } = windowAround(agents.length, cursor, room);
  let lines = agents.slice(start, end).reduce((n, a) => n + agentLines(a), 0);
  while (lines > room && end - start > 1) {
    if (end - 1 > cursor) end--;
    else start++;
    lines = agents.slice(start, end).reduce((n, a) => n + agentLines(a), 0);
  }
  const alive = agents.filter((a) => a.state === 'alive' || a.state === 'quarantined').length;
  const shown = `${end - start < agents.length ? `  ${start + 1}-${end} shown` : ''}${jobs.length ? `  ${jobs.length} SLURM job(s) queued` : ''}`;
  return (
    <Box flexDirection="column" width={width} height={height} overflow="hidden">
      <PaneTitle title="agents" detail={`${alive} alive of ${agents.length}${shown}`} focused={focused} width={width} />
      {agents.length === 0 ? <Text dimColor>   no agent yet</Text> : null}
      {agents.slice(start, end).map((a, i) => (
        <AgentLines key={a.id} a={a} selected={focused && start + i === cursor} width={width} />
      ))}
      {jobs.map((line) => (
        <Text key={line} wrap="truncate" color="cyan">{`  ${line}`}</Text>
      ))}
    </Box>
  );
}
