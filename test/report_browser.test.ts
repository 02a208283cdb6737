import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { describe, test } from 'node:test';
import type { TestContext } from 'node:test';
import type { Browser } from 'playwright-core';
import { writeReport } from '../lib/report/write_report.js';
import { spawnSync } from 'node:child_process';
import { repoRoot, tempDir } from './helpers.js';
import { ALERT, eocSweep, hostileSweep, PWN } from './report_fixtures.js';

/**
 * `dlphys report`'s page in a real browser (Chromium through playwright-core): it fetches nothing,
 * logs no error, shows its plots, sorts its table, and runs nothing a run wrote.
 */

/** Chromium for the browser tests: $CHROMIUM, else /usr/bin/chromium. */
const CHROMIUM = process.env.CHROMIUM ?? '/usr/bin/chromium';
/** With DLPHYS_REQUIRE_BROWSER=1 (CI), a missing Chromium fails the browser tests instead of skipping them. */
const REQUIRE_BROWSER = process.env.DLPHYS_REQUIRE_BROWSER === '1';
const BROWSER_ARGS = ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'];

/** A launched Chromium, or undefined after skipping the test when there is none (failing it when one is required). */
async function launchBrowser(t: TestContext): Promise<Browser | undefined> {
  if (!fs.existsSync(CHROMIUM)) {
    const why = `no Chromium at ${CHROMIUM} (set CHROMIUM=/path/to/chrome)`;
    if (REQUIRE_BROWSER) assert.fail(`${why}, and DLPHYS_REQUIRE_BROWSER=1 requires one`);
    t.skip(why);
    return undefined;
  }
  const { chromium } = await import('playwright-core');
  return chromium.launch({ executablePath: CHROMIUM, args: BROWSER_ARGS });
}

describe('the report in a browser', () => {
  test('fetches nothing, logs no error, shows the plots and sorts by a clicked column', async (t) => {
    const browser = await launchBrowser(t);
    if (browser === undefined) return;
    const dir = eocSweep();
    const file = path.join(tempDir(), 'report.html');
    await writeReport(dir, file);
    const url = pathToFileURL(file).href;
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

describe('the report in a browser, hostile runs', () => {
  test('markup in folder names, config keys and values, errors, logs and --title runs nothing', async (t) => {
    const browser = await launchBrowser(t);
    if (browser === undefined) return;
    const file = path.join(tempDir(), 'report.html');
    await writeReport(hostileSweep(), file, { title: `${PWN}</script><script>window.__pwned=3</script>` });
    try {
      const page = await browser.newPage();
      const dialogs: string[] = [];
      page.on('dialog', (d) => {
        dialogs.push(d.message());
        void d.dismiss();
      });
      await page.goto(pathToFileURL(file).href, { waitUntil: 'load' });
      // An <img src=x> that got in would have failed to load by now and run its onerror.
      await page.waitForTimeout(200);
      assert.equal(await page.evaluate(() => (window as unknown as { __pwned?: unknown }).__pwned), undefined);
      assert.deepEqual(dialogs, []);
      assert.equal(await page.locator('img').count(), 0);
      assert.equal(await page.locator('script').count(), 2);
      // The markup is there as text.
      assert.equal(await page.locator('h1').textContent(), `${PWN}</script><script>window.__pwned=3</script>`);
      const runs = await page.$$eval('#runs tbody tr td:first-child', (tds) => tds.map((td) => td.textContent));
      assert.ok(runs.includes(`a</script>${ALERT}`), runs.join(', '));
      // The sort script still reads its data: a click sorts.
      await page.locator('#runs thead th button').first().click();
      assert.equal(await page.locator('#runs thead th').first().getAttribute('aria-sort'), 'ascending');
    } finally {
      await browser.close();
    }
  });
});

describe('npm run screenshot:report', () => {
  const screenshot = (args: string[], env: NodeJS.ProcessEnv = {}) =>
    spawnSync(process.execPath, ['--import', 'tsx', 'scripts/report_screenshot.ts', ...args], { cwd: repoRoot, encoding: 'utf8', env: { ...process.env, ...env }, timeout: 120_000 });

  test('a missing folder, a folder without runs, a bad output name: one line, exit status 2', () => {
    const out = path.join(tempDir(), 'r.png');
    for (const [args, message] of [
      [['/nonexistent/runs', out], /nonexistent\/runs not found/],
      [[tempDir(), out], /no run folders under/],
      [[eocSweep(), path.join(tempDir(), 'r.jpg')], /ending in \.png/],
      [[], /usage: npm run screenshot:report -- DIR\|PAGE\.html OUT\.png/],
    ] as const) {
      // Any existing file stands in for Chromium: these fail before it starts.
      const r = screenshot([...args], { CHROMIUM: process.execPath });
      assert.equal(r.status, 2, r.stderr);
      assert.equal(r.stderr.trim().split('\n').length, 1, r.stderr);
      assert.match(r.stderr, message);
    }
    assert.ok(!fs.existsSync(out));
  });

  test('takes a run folder or a report page as it is', async (t) => {
    const browser = await launchBrowser(t);
    if (browser === undefined) return;
    await browser.close();
    const dir = eocSweep();
    const page = path.join(tempDir(), 'page.html');
    await writeReport(dir, page);
    for (const source of [dir, page]) {
      const out = path.join(tempDir(), 'r.png');
      const r = screenshot([source, out], { CHROMIUM });
      assert.equal(r.status, 0, r.stderr);
      assert.match(r.stdout, source === page ? /\(as it is\)/ : /\(12 runs, 5 plots\)/);
      assert.deepEqual([...fs.readFileSync(out).subarray(1, 4)], [...Buffer.from('PNG')]);
    }
    assert.ok(!fs.existsSync(path.join(dir, 'report.html')), 'DIR is left as it was');
  });
});
