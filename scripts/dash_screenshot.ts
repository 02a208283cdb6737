/**
 * `npm run screenshot:dash`: docs/dashboard.png from a real frame of the dashboard during the
 * demo. The demo runs in a detached tmux session of 100x30 (a real pseudo-terminal, so it shows
 * the dashboard); once a frame shows the sweep under way with its agents' health, tmux's capture
 * of the screen (with its colours, as ANSI) is drawn as SVG by ansi-to-svg and rendered to PNG by
 * resvg with DejaVu Sans Mono. Needs tmux.
 */
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { Resvg } from '@resvg/resvg-js';
import ansiToSvg from 'ansi-to-svg';
import { packagePath } from '../lib/package_dir.js';

const SESSION = `dlphys-shot-${process.pid}`;
const out = packagePath('docs', 'dashboard.png');
const [cols, rows] = [100, 30];

function tmux(...args: string[]): string {
  const r = spawnSync('tmux', args, { encoding: 'utf8' });
  if (r.error) throw new Error(`tmux: ${r.error.message} (install it: apt-get install tmux)`);
  if (r.status !== 0) throw new Error(`tmux ${args[0]}: ${r.stderr.trim()}`);
  return r.stdout;
}

/** The screen as plain text (for deciding) or with its colours as ANSI escapes (for the picture). */
const screen = (colours: boolean) => tmux('capture-pane', '-p', ...(colours ? ['-e'] : []), '-t', SESSION);

tmux('new-session', '-d', '-s', SESSION, '-x', String(cols), '-y', String(rows), '-c', packagePath(), 'npm run demo -- --dir /tmp/dlphys-screenshot-demo; sleep 30');
try {
  const deadline = Date.now() + 180_000;
  let frame = '';
  // A frame worth showing: runs finished and running at once, and the agents' CPU on screen.
  const worthShowing = (text: string) => /completed [3-9]/.test(text) && /running [1-9]/.test(text) && (text.match(/cpu \d/g) ?? []).length >= 2;
  while (!worthShowing(frame)) {
    if (Date.now() > deadline) throw new Error(`no frame with the sweep under way within 180 s; last screen:\n${frame}`);
    await new Promise((resolve) => setTimeout(resolve, 500));
    frame = screen(false);
  }
  const svg = ansiToSvg(screen(true), { fontFamily: 'DejaVu Sans Mono', fontSize: 14, paddingTop: 10, paddingLeft: 10, paddingRight: 10, paddingBottom: 10 });
  // ansi-to-svg places each run at its column already, yet keeps the run's leading spaces (which
  // SVG would collapse anyway): drop those, and keep every other space (the columns are made of them).
  const cells = svg.replace(/(<text[^>]*>) +/g, '$1').replace('<svg ', '<svg xml:space="preserve" ');
  const png = new Resvg(cells, { font: { loadSystemFonts: true, defaultFontFamily: 'DejaVu Sans Mono' } }).render().asPng();
  fs.mkdirSync(path.dirname(out), { recursive: true });
  fs.writeFileSync(out, png);
  console.log(`wrote ${path.relative(process.cwd(), out)} (${png.length} bytes) from this frame:\n${frame}`);
} finally {
  tmux('kill-session', '-t', SESSION);
}
