import { formatNumber } from '../format_number.js';
import type { Cell } from '../scan/scan.js';
import { escapeHtml, scriptJson } from './escape_html.js';
import { REPORT_CSS, REPORT_SCRIPT } from './report_assets.js';
import type { ReportData } from './report.js';

/**
 * The report page as one HTML string. Every piece of text from the runs goes through escapeHtml
 * (or scriptJson inside <script>); the plots are vega's SVG, whose text vega escapes itself.
 */
export function reportHtml(data: ReportData): string {
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>${escapeHtml(data.title)} — dlphys report</title>
<style>${REPORT_CSS}</style>
</head>
<body>
<main>
${header(data)}
${parametersSection(data)}
${plotsSection(data)}
${tableSection(data)}
${failuresSection(data)}
${skippedSection(data)}
${sweepFileSection(data)}
<footer>Made by <code>dlphys report</code> from <code>${escapeHtml(data.dir)}</code> at ${escapeHtml(data.generatedAt)}.</footer>
</main>
<script type="application/json" id="report-data">${scriptJson(sortData(data))}</script>
<script>${REPORT_SCRIPT}</script>
</body>
</html>
`;
}

function header(data: ReportData): string {
  const total = data.rows.length;
  const chips = data.statusCounts.map(([status, n]) => `<li class="chip ${statusClass(status)}">${escapeHtml(status)} <b>${n}</b></li>`).join('');
  return `<header>
<h1>${escapeHtml(data.title)}</h1>
<p class="meta">${total} run${total === 1 ? '' : 's'} in <code>${escapeHtml(data.dir)}</code>${metricWords(data)}</p>
<ul class="chips">${chips}</ul>
${bestCard(data)}
</header>`;
}

function metricWords(data: ReportData): string {
  const m = data.metric;
  if (m === null) return ' · no metrics logged yet';
  const from = { flag: 'as asked (--metric)', sweep: 'the sweep’s metric', default: 'chosen as no sweep.json names one' }[m.source];
  const what = m.column.startsWith('best.') ? `${m.goal === 'max' ? 'highest' : 'lowest'} <code>${escapeHtml(m.name)}</code>` : `final <code>${escapeHtml(m.name)}</code> (${m.goal === 'max' ? 'highest' : 'lowest'})`;
  return ` · ranked by ${what}, ${from}`;
}

function bestCard(data: ReportData): string {
  if (data.metric === null) return '';
  if (data.bestRow === null) return `<div class="card"><p>No run has a value of <code>${escapeHtml(data.metric.column)}</code> yet.</p></div>`;
  const row = data.rows[data.bestRow]!;
  const config = data.parameters
    .filter((p) => p.key in row)
    .map((p) => `<code>${escapeHtml(p.key)}</code> = ${escapeHtml(cellText(row[p.key] ?? null))}`)
    .join(' · ');
  return `<div class="card best-card">
<p>Best run <code>${escapeHtml(String(row.run))}</code> <span class="chip ${statusClass(String(row.status))}">${escapeHtml(String(row.status))}</span></p>
<p><span class="best-value">${escapeHtml(data.metric.column)} = ${escapeHtml(cellText(row[data.metric.column] ?? null))}</span></p>
${config ? `<p>${config}</p>` : ''}
</div>`;
}

function parametersSection(data: ReportData): string {
  const params = data.parameters.length
    ? `<dl class="params">${data.parameters
        .map((p) => `<dt><code>${escapeHtml(p.key)}</code>${p.seed ? ' <span class="meta">(seed)</span>' : ''}</dt><dd>${p.values.map((v) => escapeHtml(cellText(v))).join(', ')}</dd>`)
        .join('\n')}</dl>`
    : '<p>No config value differs across the runs.</p>';
  const source = data.sweep === null ? 'No <code>sweep.json</code> in the folder; these config values vary across the runs:' : 'These config values vary across the runs (the sweep file is <a href="#sweep-file">below</a>):';
  return `<section id="parameters">
<h2>Parameters</h2>
<p>${source}</p>
${params}
</section>`;
}

function sweepFileSection(data: ReportData): string {
  if (data.sweep === null) return '';
  return `<section id="sweep-file">
<h2>Sweep file</h2>
<p class="meta"><code>sweep.json</code> as submitted.</p>
<pre>${escapeHtml(JSON.stringify(data.sweep, null, 2))}</pre>
</section>`;
}

function plotsSection(data: ReportData): string {
  if (data.plots.length === 0) return '';
  const figures = data.plots.map((p) => `<figure>${p.svg}<figcaption>${escapeHtml(p.caption)}</figcaption></figure>`).join('\n');
  return `<section id="plots">
<h2>Plots</h2>
<div class="plots">
${figures}
</div>
</section>`;
}

function tableSection(data: ReportData): string {
  const numeric = data.columns.map((c) => data.rows.some((r) => typeof r[c] === 'number') && data.rows.every((r) => r[c] === null || r[c] === undefined || typeof r[c] === 'number'));
  const head = data.columns
    .map((c, i) => `<th scope="col"${numeric[i] ? ' class="num"' : ''}><button type="button" title="sort by ${escapeHtml(c)}">${escapeHtml(c)}<span class="dir"></span></button></th>`)
    .join('');
  const body = data.rows
    .map((row, i) => {
      const cells = data.columns.map((c, j) => cellHtml(c, row[c] ?? null, numeric[j]!)).join('');
      return `<tr data-i="${i}"${i === data.bestRow ? ' class="best"' : ''}>${cells}</tr>`;
    })
    .join('\n');
  return `<section id="table">
<h2>Runs</h2>
<p class="meta">Click a column’s name to sort by it; again to reverse.${data.bestRow !== null ? ' The best run is highlighted.' : ''}</p>
<div class="table-wrap"><table class="runs" id="runs">
<thead><tr>${head}</tr></thead>
<tbody>
${body}
</tbody>
</table></div>
</section>`;
}

function cellHtml(column: string, value: Cell, numeric: boolean): string {
  const cls = numeric ? ' class="num"' : '';
  if (value === null) return `<td${cls}><span class="missing">–</span></td>`;
  if (column === 'status') return `<td><span class="badge ${statusClass(String(value))}">${escapeHtml(String(value))}</span></td>`;
  if (typeof value === 'number') {
    const text = formatNumber(value);
    const full = String(value);
    return `<td${cls}${full !== text ? ` title="${escapeHtml(full)}"` : ''}>${escapeHtml(text)}</td>`;
  }
  return `<td${cls}>${escapeHtml(String(value))}</td>`;
}

function failuresSection(data: ReportData): string {
  if (data.failures.length === 0) return '';
  const items = data.failures
    .map(
      (f) => `<div class="failure">
<p><code>${escapeHtml(f.run)}</code> <span class="badge ${statusClass(f.status)}">${escapeHtml(f.status)}</span>${f.error !== null ? ` <span class="error">${escapeHtml(f.error)}</span>` : ' <span class="meta">no error recorded</span>'}</p>
${logHtml(f)}
</div>`,
    )
    .join('\n');
  const more = data.moreFailures.reduce((n, g) => n + g.count, 0);
  const groups = data.moreFailures
    .map(
      (g) => `<li><b>${g.count}</b> × ${g.error !== null ? `<span class="error">${escapeHtml(g.error)}</span>` : '<span class="meta">no error recorded</span>'}
<details><summary>${g.count === 1 ? 'the run' : `the ${g.count} runs`}</summary><p>${g.runs.map((r) => `<code>${escapeHtml(r)}</code>`).join(' ')}</p></details></li>`,
    )
    .join('\n');
  const rest = more
    ? `<h3>${more} more, by error</h3>
<p class="meta">The first ${data.failures.length} are shown above in full; the other ${more} are counted by the first line of their error.</p>
<ul class="failure-groups">${groups}</ul>`
    : '';
  return `<section id="failures">
<h2>Failures (${data.failures.length + more})</h2>
${items}
${rest}
</section>`;
}

function logHtml(f: ReportData['failures'][number]): string {
  if (f.logError !== null) return `<p class="error">cannot read train.log: ${escapeHtml(f.logError)}</p>`;
  if (f.log.length === 0) return '<p class="meta">no train.log</p>';
  return `<details><summary>last ${f.log.length} line${f.log.length === 1 ? '' : 's'} of train.log</summary><pre>${escapeHtml(f.log.join('\n'))}</pre></details>`;
}

function skippedSection(data: ReportData): string {
  if (data.skipped.length === 0) return '';
  const items = data.skipped.map((e) => `<li><code>${escapeHtml(e.path)}</code>: ${escapeHtml(e.message)}</li>`).join('\n');
  return `<section id="skipped">
<h2>Folders that could not be read (${data.skipped.length})</h2>
<ul>${items}</ul>
</section>`;
}

/**
 * What the sort script reads: each row's raw values (NaN as missing, ±Infinity as the extreme
 * numbers JSON can hold, except in the ranking column, where they are missing too: last either
 * way, as the page ranks them) and the initial order.
 */
function sortData(data: ReportData): { rows: Cell[][]; sortColumn: number | null; sortDir: 'ascending' | 'descending' } {
  const m = data.metric;
  const col = m === null ? -1 : data.columns.indexOf(m.column);
  // The ranking column as the page was ranked: a value that is not finite is no better than none.
  const rows = data.rows.map((row) => data.columns.map((c, j) => (j === col && !(typeof row[c] === 'number' && Number.isFinite(row[c])) ? null : sortValue(row[c] ?? null))));
  return { rows, sortColumn: col < 0 ? null : col, sortDir: m?.goal === 'max' ? 'descending' : 'ascending' };
}

function sortValue(value: Cell): Cell {
  if (typeof value !== 'number' || Number.isFinite(value)) return value;
  return Number.isNaN(value) ? null : value > 0 ? Number.MAX_VALUE : -Number.MAX_VALUE;
}

function cellText(value: Cell): string {
  if (value === null) return '–';
  return typeof value === 'number' ? formatNumber(value) : String(value);
}

/** A CSS class from a status (statuses are words, but a run folder can write anything). */
function statusClass(status: string): string {
  return `status-${status.toLowerCase().replace(/[^a-z0-9_-]/g, '_')}`;
}
