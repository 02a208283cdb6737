/**
 * `npm run screenshot:report -- DIR|PAGE.html OUT.png`: a full-page screenshot, 1200 px wide, as
 * Chromium draws it, of `dlphys report DIR` (written to a temp folder, not into DIR) or of a
 * report page already written (PAGE.html, shown as it is). docs/report.png is one. Needs
 * playwright-core (a dev dependency) and Chromium at /usr/bin/chromium, or the path in CHROMIUM.
 * A missing folder, a folder without runs or no Chromium is a one-line error and exit status 2.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { UsageError } from '../lib/errors.js';
import { writeReport } from '../lib/report/write_report.js';

const USAGE = 'usage: npm run screenshot:report -- DIR|PAGE.html OUT.png';

function fail(message: string): never {
  console.error(`report_screenshot: ${message}`);
  process.exit(2);
}

const [source, out, ...extra] = process.argv.slice(2);
if (source === undefined || out === undefined || extra.length > 0) fail(USAGE);
if (!out.toLowerCase().endsWith('.png')) fail(`${out}: the screenshot is a PNG; give a file name ending in .png (${USAGE})`);
if (!fs.existsSync(source)) fail(`${source} not found: give a folder of run folders or a report's .html file`);
const isPage = fs.statSync(source).isFile();
if (isPage && !/\.html?$/i.test(source)) fail(`${source} is a file but not a .html page: give a folder of run folders or a report's .html file`);
const executablePath = process.env.CHROMIUM ?? '/usr/bin/chromium';
if (!fs.existsSync(executablePath)) fail(`no Chromium at ${executablePath}; install it (apt-get install chromium) or set CHROMIUM=/path/to/chrome`);

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'dlphys-report-shot-'));
try {
  let html = path.resolve(source);
  let what = 'as it is';
  if (!isPage) {
    html = path.join(tmp, 'report.html');
    const { runs, plots } = await writeReport(source, html);
    what = `${runs} run${runs === 1 ? '' : 's'}, ${plots} plot${plots === 1 ? '' : 's'}`;
  }
  const { chromium } = await import('playwright-core');
  const browser = await chromium.launch({
    executablePath,
    args: ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'],
  });
  try {
    const page = await browser.newPage({ viewport: { width: 1200, height: 900 }, deviceScaleFactor: 1 });
    await page.goto(pathToFileURL(html).href);
    fs.mkdirSync(path.dirname(path.resolve(out)), { recursive: true });
    await page.screenshot({ path: out, fullPage: true });
    console.log(`wrote ${out} (${what})`);
  } finally {
    await browser.close();
  }
} catch (err) {
  // One line, no stack: the temp folder goes first (process.exit skips finally blocks).
  fs.rmSync(tmp, { recursive: true, force: true });
  fail(err instanceof UsageError ? err.message : String((err as Error).message ?? err).split('\n')[0]!);
}
fs.rmSync(tmp, { recursive: true, force: true });
