import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { spawnSync } from 'node:child_process';
import { describe, test } from 'node:test';
import { UsageError } from '../lib/errors.js';
import { curvesSpec, type CurvePoint } from '../lib/scan/plot.js';
import { escapeHtml, scriptJson } from '../lib/report/escape_html.js';
import { buildReport, gatherReport, MAX_FAILURES_SHOWN } from '../lib/report/report.js';
import { choosePlots, MAX_LINE_POINTS, MAX_LINES, prefixIds, renderPlots, thinLines } from '../lib/report/report_plots.js';
import { varyingParameters } from '../lib/report/parameters.js';
import { writeReport } from '../lib/report/write_report.js';
import { scanRuns } from '../lib/scan/scan.js';
import { repoRoot, runCli, tempDir } from './helpers.js';
import { ALERT, eocSweep, failedSweep, gridSweep, hostileSweep, infinitySweep, lrSweep, manyRunsSweep, PWN, runFolders, seedsSweep } from './report_fixtures.js';

/** Line marks of a rendered SVG: one path per drawn line, its points the path's vertices. */
const linePaths = (svg: string) => [...svg.matchAll(/aria-roledescription="line mark" d="([^"]*)"/g)].map((m) => m[1]!);
const vertices = (d: string) => d.split(/[ML]/).filter((s) => s !== '').length;

/** The <svg> elements of a page: the plots, as nothing else in it is an SVG. */
const svgCount = (html: string) => html.match(/<svg[\s>]/g)?.length ?? 0;

describe('buildReport', () => {
  test('a 2 x 2 x 3-seed sweep gets curves, a heatmap and three per-layer plots, one table row per run', async () => {
    const { html, runs, plots } = await buildReport(eocSweep());
    assert.equal(runs, 12);
    assert.equal(plots, 5);
    assert.equal(svgCount(html), 5);
    assert.equal(html.match(/<tr data-i="/g)?.length, 12);
    assert.equal(html.match(/<tr data-i="\d+" class="best">/g)?.length, 1);
    assert.match(html, /<h1>eoc-mini<\/h1>/);
  });

  test('what runs wrote is escaped: the error, the log, the sweep file', async () => {
    const { html } = await buildReport(eocSweep());
    assert.doesNotMatch(html, /<script>alert/);
    assert.match(html, /&lt;script&gt;alert\(1\)&lt;\/script&gt;/);
    assert.match(html, /loss became &lt;b&gt;NaN&lt;\/b&gt; at step 20/);
    assert.match(html, /the run stops/);
    assert.doesNotMatch(html, /<b>bold\?<\/b>/);
    // Only the page's own two scripts: the sort data and the sorter.
    assert.equal(html.match(/<script/g)?.length, 2);
    assert.equal(html.match(/<\/script>/g)?.length, 2);
    assert.doesNotMatch(html, /<link|<img|<iframe|src=|@import|url\(http/);
  });

  test('the sweep file gives the metric and goal; --metric and --goal override it', async () => {
    const dir = eocSweep();
    const fromSweep = await gatherReport(dir);
    assert.deepEqual([fromSweep.metric?.name, fromSweep.metric?.goal, fromSweep.metric?.source], ['val_acc', 'max', 'sweep']);
    assert.equal(fromSweep.rows[0]!.run, 'w2-d4-s2');
    assert.equal(fromSweep.rows.at(-1)!.run, 'w2-d16-s2', 'the run without val_acc comes last');
    const byLoss = await gatherReport(dir, { metric: 'loss' });
    assert.deepEqual([byLoss.metric?.column, byLoss.metric?.goal, byLoss.metric?.source], ['best.loss', 'min', 'flag']);
    const worst = await gatherReport(dir, { goal: 'min' });
    assert.equal(worst.rows[0]!.run, 'w1.5-d16-s0');
    await assert.rejects(gatherReport(dir, { metric: 'nope' }), (e: Error) => e instanceof UsageError && /no run logged this metric; use one of: .*val_acc/.test(e.message));
  });

  test('without a sweep file: a val_ metric, the varying parameters named, a log-x scatter for one numeric parameter', async () => {
    const dir = lrSweep();
    const data = await gatherReport(dir);
    assert.deepEqual([data.metric?.name, data.metric?.source], ['val_acc', 'default']);
    assert.equal(data.plots.length, 2);
    const { html } = await buildReport(dir);
    assert.match(html, /No <code>sweep\.json<\/code>/);
    assert.match(html, /<dt><code>optimizer\.kwargs\.lr<\/code><\/dt><dd>0\.01, 0\.1, 1<\/dd>/);
    const runs = scanRuns(dir).runs;
    const planned = choosePlots(runs, varyingParameters(runs), { name: 'val_acc', goal: 'max', ranked: true });
    assert.deepEqual(planned.map((p) => p.request.type), ['curves', 'scatter']);
    assert.equal(planned[1]!.request.logX, true);
  });

  test('the heatmap puts sigma_w2 across and asks for the chi1 line; grouped curves only with repeats', () => {
    const runs = scanRuns(eocSweep()).runs;
    const planned = choosePlots(runs, varyingParameters(runs), { name: 'val_acc', goal: 'max', ranked: true });
    assert.deepEqual(planned.map((p) => p.request.type), ['curves', 'heatmap', 'layers', 'layers', 'layers']);
    const heatmap = planned[1]!;
    assert.deepEqual([heatmap.request.x, heatmap.request.y, heatmap.request.metric, heatmap.theory], ['init.kwargs.sigma_w2', 'model.kwargs.depth', 'best.val_acc', 'chi1']);
    assert.deepEqual(planned[0]!.lines?.groupBy, ['model.kwargs.depth', 'init.kwargs.sigma_w2']);
    assert.deepEqual(planned.slice(2).map((p) => p.request.metric), ['q', 'chi1', 'c']);
    // Layers draw the first probe step (plotSpec's default): no --step, no --group-by asked of it.
    assert.deepEqual(planned.slice(2).map((p) => [p.request.step, p.request.groupBy]), [[undefined, undefined], [undefined, undefined], [undefined, undefined]]);
    const lrRuns = scanRuns(lrSweep()).runs;
    assert.equal(choosePlots(lrRuns, varyingParameters(lrRuns), { name: 'val_acc', goal: 'max', ranked: true })[0]!.lines?.groupBy, null);
  });

  test('hostile runs: markup in a folder name, a config key and value, an error, a log and --title stays text', async () => {
    const title = `${PWN}</script><script>window.__pwned=3</script>`;
    const { html } = await buildReport(hostileSweep(), { title });
    assert.doesNotMatch(html, /<img/i);
    assert.equal(html.match(/<script/gi)?.length, 2, 'only the page\'s own scripts');
    assert.equal(html.match(/<\/script/gi)?.length, 2);
    assert.match(html, /<h1>&lt;img src=x onerror=window\.__pwned=1&gt;&lt;\/script&gt;&lt;script&gt;/);
    // The folder name in the table, the config key in the parameters and the table's header.
    assert.match(html, /<td>a&lt;\/script&gt;&lt;img src=x onerror=alert\(1\)&gt;<\/td>/);
    assert.match(html, /<dt><code>&lt;img src=x onerror=window\.__pwned=1&gt;&lt;\/script&gt;<\/code><\/dt>/);
    assert.match(html, /title="sort by &lt;img src=x onerror=window\.__pwned=1&gt;&lt;\/script&gt;"/);
    // The sort data holds the same strings, unbroken.
    const json = /<script type="application\/json" id="report-data">(.*?)<\/script>/s.exec(html)![1]!;
    assert.ok((JSON.parse(json) as { rows: unknown[][] }).rows.flat().includes(`a</script>${ALERT}`));
  });

  test('no run folders is a usage error', async () => {
    await assert.rejects(buildReport(tempDir()), (e: Error) => e instanceof UsageError && /no run folders under/.test(e.message));
  });

  test('escapeHtml and scriptJson', () => {
    assert.equal(escapeHtml(`<a href="x">'&'</a>`), '&lt;a href=&quot;x&quot;&gt;&#39;&amp;&#39;&lt;/a&gt;');
    const json = scriptJson({ s: '</script><!--' });
    assert.doesNotMatch(json, /</);
    assert.deepEqual(JSON.parse(json), { s: '</script><!--' });
  });
});

describe('ranking', () => {
  test('±Infinity and NaN rank last for either goal; the best run is the first with a finite value', async () => {
    const dir = infinitySweep();
    const min = await gatherReport(dir);
    assert.deepEqual([min.metric?.column, min.metric?.goal], ['best.val_loss', 'min']);
    assert.deepEqual(min.rows.slice(0, 2).map((r) => r.run), ['r3', 'r1']);
    assert.deepEqual(new Set(min.rows.slice(2).map((r) => r.run)), new Set(['r0', 'r2', 'r4']));
    assert.equal(min.bestRow, 0);
    const max = await gatherReport(dir, { goal: 'max' });
    assert.deepEqual(max.rows.slice(0, 2).map((r) => r.run), ['r1', 'r3']);
    assert.equal(max.bestRow, 0);
    const { html } = await buildReport(dir);
    assert.match(html, /Best run <code>r3<\/code>/);
    assert.match(html, /best\.val_loss = 0\.3</);
    // The sort script gets the ranking column's non-finite values as missing: last both ways.
    const data = JSON.parse(/<script type="application\/json" id="report-data">(.*?)<\/script>/s.exec(html)![1]!) as { rows: unknown[][]; sortColumn: number };
    assert.deepEqual(data.rows.map((r) => r[data.sortColumn]), [0.3, 0.5, null, null, null]);
  });

  test('--metric best.M or final.M says which column ranks; best. of a probe metric is refused', async () => {
    const dir = eocSweep();
    const final = await gatherReport(dir, { metric: 'final.val_acc' });
    assert.deepEqual([final.metric?.name, final.metric?.column, final.metric?.goal, final.metric?.source], ['val_acc', 'final.val_acc', 'max', 'flag']);
    assert.equal(final.rows[0]!.run, 'w2-d4-s2');
    assert.ok(final.columns.includes('best.val_acc'));
    const best = await gatherReport(dir, { metric: 'best.val_acc' });
    assert.deepEqual([best.metric?.name, best.metric?.column], ['val_acc', 'best.val_acc']);
    assert.match((await buildReport(dir, { metric: 'final.val_acc' })).html, /ranked by final <code>val_acc<\/code> \(highest\)/);
    await assert.rejects(gatherReport(dir, { metric: 'best.q_l1' }), (e: Error) => e instanceof UsageError && /q_l1 is a probe measurement, which has no best; use --metric final\.q_l1/.test(e.message));
    await assert.rejects(gatherReport(dir, { metric: 'final.nope' }), (e: Error) => e instanceof UsageError && /--metric final\.nope: no run logged this metric/.test(e.message));
    const probe = await gatherReport(dir, { metric: 'final.q_l1' });
    assert.deepEqual([probe.metric?.column, probe.metric?.ranked], ['final.q_l1', false]);
  });

  test("the table shows the ranking column right after the varying parameters", async () => {
    const data = await gatherReport(eocSweep());
    assert.deepEqual(data.columns.slice(0, 7), ['run', 'status', 'steps', 'init.kwargs.sigma_w2', 'model.kwargs.depth', 'seed', 'best.val_acc']);
    const byFinal = await gatherReport(eocSweep(), { metric: 'final.loss' });
    assert.equal(byFinal.columns[6], 'final.loss');
  });
});

describe('plots', () => {
  test('a sweep of seeds only draws one group; layers at initialisation on a log y axis over a 100× span; no one-point curves', async () => {
    const dir = seedsSweep();
    const runs = scanRuns(dir).runs;
    const parameters = varyingParameters(runs);
    assert.deepEqual(parameters.map((p) => [p.key, p.seed]), [['seed', true]]);
    const planned = choosePlots(runs, parameters, { name: 'val_acc', goal: 'max', ranked: true });
    assert.deepEqual(planned.map((p) => [p.request.type, p.lines?.groupBy]), [['curves', []], ['layers', []]]);
    const data = await gatherReport(dir);
    // val_acc was logged once per run: no curve, only the layers plot.
    assert.equal(data.plots.length, 1);
    assert.equal(
      data.plots[0]!.caption,
      'q_l over the layers at initialisation (step 0), on a log y axis (the values span 100× or more), the mean over all 3 runs (seeds) with a ±1 std band.',
    );
    const svg = data.plots[0]!.svg;
    assert.equal(linePaths(svg).length, 1, 'one line: the group of all runs');
    assert.match(svg, /geometric mean over each group/);
    assert.doesNotMatch(svg, /aria-roledescription="legend"/);
  });

  test('layers of the eoc sweep are captioned at initialisation; curves grouped over seeds', async () => {
    const data = await gatherReport(eocSweep());
    assert.match(data.plots[0]!.caption, /^val_acc over training steps, the mean over seeds per init\.kwargs\.sigma_w2 × model\.kwargs\.depth with a ±1 std band\.$/);
    assert.deepEqual(
      data.plots.slice(2).map((p) => p.caption.split(',')[0]),
      ['q_l over the layers at initialisation (step 0)', 'chi1_l over the layers at initialisation (step 0)', 'c_l over the layers at initialisation (step 0)'],
    );
  });

  test('more than 12 groups: grouped by the first parameter when it has at most 12 values; heatmap axes log over a 10× span', async () => {
    const dir = gridSweep();
    const runs = scanRuns(dir).runs;
    const planned = choosePlots(runs, varyingParameters(runs), { name: 'val_loss', goal: 'min', ranked: true });
    assert.deepEqual(planned[0]!.lines?.groupBy, ['model.kwargs.depth']);
    const heatmap = planned.find((p) => p.request.type === 'heatmap')!;
    assert.deepEqual([heatmap.request.x, heatmap.request.logX, heatmap.request.y, heatmap.request.logY], ['model.kwargs.depth', true, 'optimizer.kwargs.lr', true]);
    const eocRuns = scanRuns(eocSweep()).runs;
    const eocHeatmap = choosePlots(eocRuns, varyingParameters(eocRuns), { name: 'val_acc', goal: 'max', ranked: true })[1]!;
    assert.deepEqual([eocHeatmap.request.logX, eocHeatmap.request.logY], [undefined, undefined], 'depth 4..16 spans 4×: linear');
    const data = await gatherReport(dir);
    assert.match(data.plots[0]!.caption, /the mean per model\.kwargs\.depth over its runs \(optimizer\.kwargs\.lr pooled\)/);
    assert.equal(linePaths(data.plots[0]!.svg).length, 4);
    assert.match(data.plots[1]!.caption, /model\.kwargs\.depth and optimizer\.kwargs\.lr on a log scale/);
  });

  test(`a line per run: at most ${MAX_LINES} lines, picked evenly, each at most ${MAX_LINE_POINTS} points with its last`, async () => {
    const dir = manyRunsSweep(MAX_LINES + 10, 2 * MAX_LINE_POINTS + 50);
    const data = await gatherReport(dir);
    const curves = data.plots[0]!;
    assert.match(curves.caption, new RegExp(`one line per run \\(${MAX_LINES} of the ${MAX_LINES + 10} runs, picked evenly from best to worst, no legend\\)\\.$`));
    const paths = linePaths(curves.svg);
    assert.equal(paths.length, MAX_LINES);
    for (const d of paths) assert.ok(vertices(d) <= MAX_LINE_POINTS && vertices(d) > MAX_LINE_POINTS / 2, `${vertices(d)} points`);
    assert.doesNotMatch(curves.svg, /aria-roledescription="legend"/);
    // The best run (lr highest, lowest loss) and the worst are both drawn.
    assert.match(curves.svg, /aria-label="[^"]*run: r0209/);
    assert.match(curves.svg, /aria-label="[^"]*run: r0000/);
    assert.ok(Buffer.byteLength(curves.svg) < 2_000_000, `${Buffer.byteLength(curves.svg)} bytes`);
  });

  test('thinLines keeps every line\'s last point and at most MAX_LINE_POINTS', () => {
    const points: CurvePoint[] = ['a', 'b'].flatMap((run, r) => Array.from({ length: 1000 + r }, (_, i) => ({ run, x: i, y: i })));
    const thin = (spec: ReturnType<typeof curvesSpec>) => (spec as unknown as { data: { values: Record<string, number | string>[] } }).data.values;
    for (const spec of [curvesSpec(points, { metric: 'm', xTitle: 'step' }), curvesSpec(points.map((p) => ({ ...p, group: p.run })), { metric: 'm', xTitle: 'step', groupBy: 'g' })]) {
      const values = thin(thinLines(spec));
      for (const line of ['a', 'b']) {
        const xs = values.filter((v) => (v.run ?? v.group) === line).map((v) => v.x as number);
        assert.ok(xs.length <= MAX_LINE_POINTS && xs.length >= MAX_LINE_POINTS / 2, String(xs.length));
        assert.equal(xs.at(-1), line === 'a' ? 999 : 1000);
      }
    }
    const short = curvesSpec(points.slice(0, 10), { metric: 'm', xTitle: 'step' });
    assert.equal(thinLines(short), short);
  });

  test('two plots\' SVG ids do not collide, and each url(#id) finds its own plot\'s id', async () => {
    const dir = eocSweep();
    const runs = scanRuns(dir).runs;
    const heatmap = choosePlots(runs, varyingParameters(runs), { name: 'val_acc', goal: 'max', ranked: true })[1]!;
    const plots = await renderPlots(dir, runs, [heatmap, heatmap]);
    assert.equal(plots.length, 2);
    const ids = plots.map((p) => [...p.svg.matchAll(/\sid="([^"]+)"/g)].map((m) => m[1]!));
    assert.ok(ids.every((list) => list.length > 0), 'a heatmap has ids (its gradient, clip paths)');
    const all = ids.flat();
    assert.equal(new Set(all).size, all.length, all.join(' '));
    // Vega numbers its ids with counters of its own (gradient_0, gradient_1, ... in one process),
    // so they do not collide today; each plot's ids carry its own prefix so they never can.
    ids.forEach((list, i) => assert.ok(list.every((id) => id.startsWith(`plot${i + 1}-`)), list.join(' ')));
    const refs = (svg: string) => [...svg.matchAll(/(?:url\(#|href="#)([^)"]+)/g)].map((m) => m[1]!);
    plots.forEach((p, i) => {
      assert.ok(refs(p.svg).length > 0);
      for (const ref of refs(p.svg)) assert.ok(ids[i]!.includes(ref), ref);
    });
    // The same SVG twice (identical ids, as a vega that restarted its counters would write).
    const twice = [prefixIds(plots[0]!.svg, 'a-'), prefixIds(plots[0]!.svg, 'b-')];
    const twiceIds = twice.map((svg) => [...svg.matchAll(/\sid="([^"]+)"/g)].map((m) => m[1]!));
    assert.deepEqual(twiceIds[0]!.filter((id) => twiceIds[1]!.includes(id)), []);
    twice.forEach((svg, i) => {
      for (const ref of refs(svg)) assert.ok(twiceIds[i]!.includes(ref), ref);
    });
  });
});

describe('failures', () => {
  test('a train.log that cannot be read says why; a missing one says so', async () => {
    const dir = runFolders([
      { path: 'unreadable', config: { seed: 0 }, summary: { status: 'failed', error: 'boom' }, log: 'folder' },
      { path: 'nolog', config: { seed: 1 }, summary: { status: 'failed', error: 'bang' } },
    ]);
    const data = await gatherReport(dir);
    const byRun = Object.fromEntries(data.failures.map((f) => [f.run, f]));
    assert.equal(byRun.unreadable!.logError, 'EISDIR');
    assert.equal(byRun.nolog!.logError, null);
    const { html } = await buildReport(dir);
    assert.match(html, /cannot read train\.log: EISDIR/);
    assert.equal(html.match(/no train\.log/g)?.length, 1);
  });

  test(`more than ${MAX_FAILURES_SHOWN} failed runs: the first in full, the rest counted by error line`, async () => {
    const data = await gatherReport(failedSweep(80));
    assert.equal(data.failures.length, MAX_FAILURES_SHOWN);
    assert.ok(data.failures.every((f) => f.log.length === 2 && f.logError === null));
    assert.deepEqual(
      data.moreFailures.map((g) => [g.error, g.count]).sort(),
      [['CUDA out of memory', 10], ['killed by signal 9', 10], ['loss became NaN', 10]],
    );
    const { html } = await buildReport(failedSweep(80));
    assert.match(html, /<h2>Failures \(80\)<\/h2>/);
    assert.match(html, /<h3>30 more, by error<\/h3>/);
    assert.match(html, /<b>10<\/b> × <span class="error">CUDA out of memory<\/span>/);
  });

  test('600 failed runs under a 200-file limit: every train.log is read (no EMFILE)', (t) => {
    if (process.platform === 'win32') {
      t.skip('ulimit is a POSIX shell builtin');
      return;
    }
    const dir = failedSweep(600);
    const r = spawnSync('bash', ['-c', `ulimit -n 200 && exec "${process.execPath}" bin/dlphys.js report "$0" --out "$1"`, dir, path.join(dir, 'r.html')], { cwd: repoRoot, encoding: 'utf8' });
    assert.equal(r.status, 0, r.stderr);
    const html = fs.readFileSync(path.join(dir, 'r.html'), 'utf8');
    assert.doesNotMatch(html, /no train\.log|cannot read train\.log/);
    assert.equal(html.match(/last 2 lines of train\.log/g)?.length, MAX_FAILURES_SHOWN);
  });
});

describe('dlphys report', () => {
  test('writes DIR/report.html and says what it wrote', () => {
    const dir = eocSweep();
    const r = runCli(['report', dir]);
    assert.equal(r.status, 0, r.stderr);
    assert.equal(r.stderr, `dlphys: wrote ${path.join(dir, 'report.html')} (12 runs, 5 plots)\n`);
    assert.equal(svgCount(fs.readFileSync(path.join(dir, 'report.html'), 'utf8')), 5);
    assert.deepEqual(fs.readdirSync(dir).filter((f) => f.includes('.tmp')), []);
  });

  test('a folder without run folders is a one-line error and writes nothing', () => {
    const dir = tempDir();
    const r = runCli(['report', dir, '--goal', 'maximize']);
    assert.equal(r.status, 2);
    assert.equal(r.stderr.trim().split('\n').length, 1, r.stderr);
    assert.match(r.stderr, /^dlphys: no run folders under .* to report on/);
    assert.deepEqual(fs.readdirSync(dir), []);
  });

  test('--out must name a .html file', () => {
    const dir = eocSweep();
    const r = runCli(['report', dir, '--out', path.join(dir, 'report.txt')]);
    assert.equal(r.status, 2);
    assert.equal(r.stderr.trim().split('\n').length, 1, r.stderr);
    assert.match(r.stderr, /--out .*report\.txt: the page is HTML; give a file name ending in \.html/);
    assert.ok(!fs.existsSync(path.join(dir, 'report.txt')));
    assert.equal(runCli(['report', dir, '--out', path.join(dir, 'Page.HTML')]).status, 0);
  });

  test('--metric final.M ranks by the final value', () => {
    const r = runCli(['report', eocSweep(), '--metric', 'final.val_acc', '--out', path.join(tempDir(), 'r.html')]);
    assert.equal(r.status, 0, r.stderr);
  });

  test('a bad --goal is refused naming the words', () => {
    const r = runCli(['report', eocSweep(), '--goal', 'best']);
    assert.equal(r.status, 2);
    assert.match(r.stderr, /--goal must be one of min, max, minimize, maximize/);
  });
});
