/**
 * The dashboard: the source's data through the hooks, the user's choices through the keys, and
 * the panes that draw them. Only wiring lives here: what is shown is derived by tui/state/, and
 * drawn by the pane components.
 */
import { Box, useApp } from 'ink';
import { useMemo, useRef } from 'react';
import type { DashSource } from '../source.js';
import { agentViews, slurmLines } from '../state/agents.js';
import { sampledCurves } from '../state/curves.js';
import { ACTIVE_STATES } from '../state/run_facts.js';
import { filterRows, sortKeys, sortRows } from '../state/run_table.js';
import { runsView } from '../state/runs.js';
import { sweepViews } from '../state/sweeps.js';
import { cursorRun, shownSweep, type KeyContext, type UiState } from '../state/ui.js';
import { useClock } from '../hooks/use-clock.js';
import { useCompare } from '../hooks/use-compare.js';
import { useDash } from '../hooks/use-dash.js';
import { useKeys } from '../hooks/use-keys.js';
import { useRunDetail } from '../hooks/use-run-details.js';
import { useSweepSteps } from '../hooks/use-sweep-steps.js';
import { useTerminalSize } from '../hooks/use-terminal-size.js';
import { AgentsPane, agentLines } from './AgentsPane.js';
import { Compare } from './Compare.js';
import { Footer } from './Footer.js';
import { Header } from './Header.js';
import { Help } from './Help.js';
import { layout } from './layout.js';
import { RunDetail } from './RunDetail.js';
import { RunsPane } from './RunsPane.js';
import { SweepsPane } from './SweepsPane.js';
import { ColorContext } from './theme.js';

/** Props of App: the source, and what tests and front doors may set. */
export interface AppProps {
  readonly source: DashSource;
  /** Draw in colour (runDashboard decides: tui/color.ts). @default true */
  readonly color?: boolean;
  /** Local time. @default Date.now */
  readonly clock?: () => number;
  /** Least ms between two redraws caused by data. @default 100 */
  readonly frameMs?: number;
  /** The choices to start from (tests start in a given view). */
  readonly initialUi?: UiState;
}

const NO_CONTEXT: KeyContext = { sweeps: [], sweep: null, runs: [], agents: [], varying: [], compareMetrics: [] };

/** The whole dashboard of `source`; it ends (useApp().exit) when the user quits. */
export function App({ source, color = true, clock = Date.now, frameMs, initialUi }: AppProps) {
  const { exit } = useApp();
  const context = useRef<KeyContext>(NO_CONTEXT);
  const ui = useKeys(context, exit, initialUi);
  const data = useDash(source, { frameMs, clock });
  const now = useClock(1000, clock);
  const steps = useSweepSteps(source, data.status);
  const { columns, rows: termRows } = useTerminalSize();

  const sweeps = useMemo(() => sweepViews(data, now, steps), [data, now, steps]);
  const agents = useMemo(() => agentViews(data, now), [data, now]);
  const slurm = useMemo(() => slurmLines(data), [data]);
  const sweep = shownSweep(ui, sweeps);
  const runs = useMemo(() => runsView(data, sweep, now, steps), [data, sweep, now, steps]);
  const sort = sortKeys(runs.varying).includes(ui.sort.key) ? ui.sort : { ...ui.sort, key: 'run' as const };
  const rows = useMemo(() => sortRows(filterRows(runs.rows, ui.filter), sort, runs.metric.maximize), [runs, ui.filter, sort.key, sort.reverse]);
  const ids = rows.map((r) => r.id);
  const cursor = cursorRun(ui, ids);
  const stateOf = (id: string) => data.status?.runs.find((r) => r.id === id)?.state ?? '';
  const isActive = (id: string) => ACTIVE_STATES.has(stateOf(id));

  const detail = useRunDetail(source, ui.view === 'detail' ? ui.detailRun : null, { isActive });
  const compareIds = ui.view === 'compare' ? (ui.marked.size ? [...ui.marked] : cursor ? [cursor] : []) : [];
  const compare = useCompare(source, compareIds, data, runs.metric.name, isActive);
  const compareMetric = ui.compareMetric !== null && compare.metrics.includes(ui.compareMetric) ? ui.compareMetric : (compare.metrics[0] ?? runs.metric.name);

  context.current = {
    sweeps: sweeps.map((s) => s.name),
    sweep,
    runs: ids,
    agents: agents.map((a) => a.id),
    varying: runs.varying,
    compareMetrics: compare.metrics,
  };

  const lay = layout(columns, termRows, { sweeps: 1 + 2 * sweeps.length, agents: 1 + agents.reduce((n, a) => n + agentLines(a), 0) });
  const health = data.status?.coordinator;
  const byId = new Map(runs.rows.map((r) => [r.id, r]));

  let body;
  if (ui.help) body = <Help width={columns} height={lay.body} />;
  else if (ui.view === 'detail' && ui.detailRun) {
    body = (
      <RunDetail
        runId={ui.detailRun}
        run={byId.get(ui.detailRun) ?? null}
        metric={runs.metric}
        varying={runs.varying}
        detail={detail.detail}
        error={detail.error}
        sampled={sampledCurves(data, ui.detailRun)}
        width={columns}
        height={lay.body}
        scroll={ui.scroll}
      />
    );
  } else if (ui.view === 'compare') {
    const compared = compareIds.map((id) => ({ id, name: byId.get(id)?.name ?? id, points: compare.curves.get(id)?.get(compareMetric) ?? [] }));
    body = <Compare runs={compared} metric={compareMetric} metrics={compare.metrics} loading={compare.loading} width={columns} height={lay.body} />;
  } else {
    const sweepsPane = <SweepsPane sweeps={sweeps} selected={sweep} focused={ui.pane === 'sweeps'} {...lay.sweeps} />;
    const agentsPane = <AgentsPane agents={agents} cursor={ui.agent} focused={ui.pane === 'agents'} slurm={slurm} {...lay.agents} />;
    const runsPane = (
      <RunsPane
        view={runs}
        rows={rows}
        cursor={cursor}
        marked={ui.marked}
        sort={sort}
        filter={ui.filter}
        editing={ui.editing !== null}
        focused={ui.pane === 'runs'}
        {...lay.runs}
      />
    );
    body = lay.wide ? (
      <Box flexDirection="row" height={lay.body}>
        <Box flexDirection="column" width={lay.sweeps.width} marginRight={1}>
          {sweepsPane}
          {agentsPane}
        </Box>
        {runsPane}
      </Box>
    ) : (
      <Box flexDirection="column" height={lay.body}>
        {sweepsPane}
        {runsPane}
        {agentsPane}
      </Box>
    );
  }

  return (
    <ColorContext.Provider value={color}>
      <Box flexDirection="column" width={columns}>
        <Header label={source.label} connection={data.connection} diskFull={health?.disk_full ? health.disk_error || 'run folders cannot land' : undefined} width={columns} />
        {body}
        <Footer view={ui.help ? 'main' : ui.view} editing={ui.editing !== null} width={columns} />
      </Box>
    </ColorContext.Provider>
  );
}
