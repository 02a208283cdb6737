/**
 * `npm run screenshot:report -- DIR OUT.png`: a full-page screenshot of `dlphys report DIR` as
 * Chromium draws it, 1200 px wide (docs/report.png). The page is written to a temp folder, not
 * into DIR. Needs playwright-core (a dev dependency) and Chromium at /usr/bin/chromium, or the
 * path in CHROMIUM.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { chromium } from 'playwright-core';
import { writeReport } from '../lib/report/write_report.js';

const [dir, out] = process.argv.slice(2);
if (dir === undefined || out === undefined || !out.toLowerCase().endsWith('.png')) {
  console.error('usage: npm run screenshot:report -- DIR OUT.png');
  process.exit(2);
}
const executablePath = process.env.CHROMIUM ?? '/usr/bin/chromium';
if (!fs.existsSync(executablePath)) {
  console.error(`no Chromium at ${executablePath}; install it (apt-get install chromium) or set CHROMIUM=/path/to/chrome`);
  process.exit(2);
}

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'dlphys-report-shot-'));
const browser = await chromium.launch({
  executablePath,
  args: ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'],
});
try {
  const html = path.join(tmp, 'report.html');
  const { runs, plots } = await writeReport(dir, html);
  const page = await browser.newPage({ viewport: { width: 1200, height: 900 }, deviceScaleFactor: 1 });
  await page.goto(pathToFileURL(html).href);
  fs.mkdirSync(path.dirname(path.resolve(out)), { recursive: true });
  await page.screenshot({ path: out, fullPage: true });
  console.log(`wrote ${out} (${runs} runs, ${plots} plots)`);
} finally {
  await browser.close();
  fs.rmSync(tmp, { recursive: true, force: true });
}
