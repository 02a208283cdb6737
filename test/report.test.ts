import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { describe, test } from 'node:test';
import { UsageError } from '../lib/errors.js';
import { escapeHtml, scriptJson } from '../lib/report/escape_html.js';
import { buildReport, gatherReport } from '../lib/report/report.js';
import { choosePlots } from '../lib/report/report_plots.js';
import { varyingParameters } from '../lib/report/parameters.js';
import { writeReport } from '../lib/report/write_report.js';
import { scanRuns } from '../lib/scan/scan.js';
import { runCli, tempDir } from './helpers.js';
import { eocSweep, lrSweep } from './report_fixtures.js';

const CHROMIUM = '/usr/bin/chromium';

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
    assert.deepEqual(planned[0]!.request.groupBy, ['model.kwargs.depth', 'init.kwargs.sigma_w2']);
    assert.deepEqual(planned.slice(2).map((p) => p.request.metric), ['q', 'chi1', 'c']);
    const lrRuns = scanRuns(lrSweep()).runs;
    assert.equal(choosePlots(lrRuns, varyingParameters(lrRuns), { name: 'val_acc', goal: 'max', ranked: true })[0]!.request.groupBy, undefined);
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

describe('the report in a browser', () => {
  test('fetches nothing, logs no error, shows the plots and sorts by a clicked column', async (t) => {
    if (!fs.existsSync(CHROMIUM)) {
      t.skip(`no Chromium at ${CHROMIUM}`);
      return;
    }
    const { chromium } = await import('playwright-core');
    const dir = eocSweep();
    const file = path.join(tempDir(), 'report.html');
    await writeReport(dir, file);
    const url = pathToFileURL(file).href;
    const browser = await chromium.launch({
      executablePath: CHROMIUM,
      args: ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'],
    });
    try {
      const page = await browser.newPage({ viewport: { width: 1200, height: 900 } });
      const requests: string[] = [];
      const problems: string[] = [];
      page.on('request', (r) => requests.push(r.url()));
      page.on('console', (m) => {
        if (m.type() === 'error') problems.push(`console: ${m.text()}`);
      });
      page.on('pageerror', (e) => problems.push(`page error: ${e.message}`));
      await page.goto(url, { waitUntil: 'load' });

      const visible = await page.$$eval('svg', (els) => els.filter((e) => { const r = e.getBoundingClientRect(); return r.width > 0 && r.height > 0; }).length);
      assert.equal(visible, 5);

      const columns = await page.$$eval('#runs thead th', (ths) => ths.map((th) => th.querySelector('button')!.childNodes[0]!.textContent));
      const column = async (name: string) => {
        const i = columns.indexOf(name);
        return page.$$eval('#runs tbody tr', (rows, i) => (rows as HTMLTableRowElement[]).map((r) => r.cells[i]!.textContent!.trim()), i);
      };
      const click = (name: string) => page.locator('#runs thead th button').nth(columns.indexOf(name)).click();

      // As written: best val_acc first, the run without one last.
      assert.equal((await column('run'))[0], 'w2-d4-s2');
      assert.equal((await column('best.val_acc')).at(-1), '–');

      // 16 before 4 as text; numbers sort as numbers.
      await click('model.kwargs.depth');
      assert.deepEqual(await column('model.kwargs.depth'), [...Array(6).fill('4'), ...Array(6).fill('16')]);
      assert.equal(await page.locator('#runs thead th').nth(columns.indexOf('model.kwargs.depth')).getAttribute('aria-sort'), 'ascending');
      await click('model.kwargs.depth');
      assert.deepEqual(await column('model.kwargs.depth'), [...Array(6).fill('16'), ...Array(6).fill('4')]);
      assert.match((await page.locator('#runs thead th').nth(columns.indexOf('model.kwargs.depth')).textContent())!, /▼/);

      // Missing values last in both directions.
      for (const expected of ['ascending', 'descending']) {
        await click('best.val_acc');
        const values = await column('best.val_acc');
        assert.equal(values.at(-1), '–');
        const numbers = values.slice(0, -1).map(Number);
        const sorted = [...numbers].sort((a, b) => (expected === 'ascending' ? a - b : b - a));
        assert.deepEqual(numbers, sorted, expected);
      }

      assert.deepEqual(problems, []);
      assert.deepEqual(requests, [url]);
    } finally {
      await browser.close();
    }
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

  test('a bad --goal is refused naming the words', () => {
    const r = runCli(['report', eocSweep(), '--goal', 'best']);
    assert.equal(r.status, 2);
    assert.match(r.stderr, /--goal must be one of min, max, minimize, maximize/);
  });
});
