/**
 * The report page's inline style sheet and table-sorting script: constants, so that the page
 * fetches nothing (no CDN, no web font) and opens the same from a laptop, a cluster's file
 * browser or an e-mail attachment.
 */

export const REPORT_CSS = `
:root { color-scheme: light; --fg: #1f2328; --muted: #656d76; --line: #d8dee4; --bg-soft: #f6f8fa; --accent: #0969da; --best: #fff8c5; }
* { box-sizing: border-box; }
body { margin: 0; background: #fff; color: var(--fg); font: 14px/1.5 system-ui, -apple-system, "Segoe UI", Roboto, "Helvetica Neue", Arial, sans-serif; }
main { max-width: 1280px; margin: 0 auto; padding: 24px 28px 48px; }
h1 { font-size: 26px; margin: 0 0 4px; }
h2 { font-size: 18px; margin: 32px 0 12px; padding-bottom: 6px; border-bottom: 1px solid var(--line); }
code, pre, .mono { font-family: ui-monospace, SFMono-Regular, "SF Mono", Menlo, Consolas, "Liberation Mono", monospace; font-size: 12.5px; }
.meta { color: var(--muted); margin: 0 0 14px; }
.chips { display: flex; flex-wrap: wrap; gap: 6px; margin: 8px 0 16px; padding: 0; list-style: none; }
.chip { border-radius: 999px; padding: 2px 10px; background: var(--bg-soft); border: 1px solid var(--line); font-size: 13px; }
.chip b { font-variant-numeric: tabular-nums; }
.status-completed { background: #dafbe1; border-color: #aceebb; }
.status-failed, .status-crashed, .status-diverged { background: #ffebe9; border-color: #ffcecb; }
.status-running, .status-incomplete { background: #ddf4ff; border-color: #b6e3ff; }
.status-stopped, .status-early_stopped { background: #fff1e5; border-color: #ffd8b5; }
.card { border: 1px solid var(--line); border-radius: 8px; padding: 12px 16px; background: var(--bg-soft); }
.card p { margin: 4px 0; }
.best-value { font-size: 20px; font-weight: 600; font-variant-numeric: tabular-nums; }
dl.params { display: grid; grid-template-columns: max-content 1fr; gap: 4px 16px; margin: 8px 0; }
dl.params dt { font-weight: 600; }
dl.params dd { margin: 0; }
details { margin: 8px 0; }
summary { cursor: pointer; }
pre { background: var(--bg-soft); border: 1px solid var(--line); border-radius: 6px; padding: 10px 12px; overflow: auto; max-height: 420px; margin: 8px 0; }
.plots { display: grid; grid-template-columns: repeat(auto-fill, minmax(min(100%, 560px), 1fr)); gap: 16px; }
figure { margin: 0; border: 1px solid var(--line); border-radius: 8px; padding: 12px; display: flex; flex-direction: column; align-items: center; background: #fff; }
figure svg { max-width: 100%; height: auto; }
figcaption { color: var(--muted); font-size: 13px; margin-top: 6px; align-self: stretch; }
.table-wrap { overflow: auto; max-height: 80vh; border: 1px solid var(--line); border-radius: 8px; }
table.runs { border-collapse: collapse; width: 100%; font-size: 13px; }
table.runs th, table.runs td { padding: 5px 10px; border-bottom: 1px solid var(--line); white-space: nowrap; text-align: left; }
table.runs td.num, table.runs th.num { text-align: right; font-variant-numeric: tabular-nums; }
table.runs thead th { position: sticky; top: 0; background: var(--bg-soft); z-index: 1; padding: 0; }
table.runs thead th button { all: unset; box-sizing: border-box; display: block; width: 100%; padding: 6px 10px; cursor: pointer; font-weight: 600; }
table.runs thead th button:hover { color: var(--accent); }
table.runs thead th button:focus-visible { outline: 2px solid var(--accent); outline-offset: -2px; }
table.runs .dir { display: inline-block; min-width: 1em; color: var(--accent); }
table.runs tbody tr:nth-child(even) { background: #fbfcfd; }
table.runs tbody tr:hover { background: #eef4fb; }
table.runs tbody tr.best { background: var(--best); font-weight: 600; }
table.runs .missing { color: #adb5bd; }
.badge { border-radius: 4px; padding: 0 6px; border: 1px solid var(--line); }
.failure { border: 1px solid #ffcecb; border-radius: 8px; padding: 8px 12px; margin: 10px 0; }
.failure .error { color: #cf222e; }
h3 { font-size: 15px; margin: 20px 0 6px; }
.failure-groups { padding-left: 20px; }
.failure-groups li { margin: 6px 0; }
.failure-groups .error, .failure p.error { color: #cf222e; }
.failure-groups details { margin: 2px 0; }
.failure-groups details p { white-space: normal; word-break: break-all; }
footer { color: var(--muted); font-size: 12px; margin-top: 40px; }
`;

/**
 * Sorts #runs by a clicked header: numbers numerically, text in natural order, missing values
 * last in either direction; a second click on the same header reverses. The values come from the
 * JSON in #report-data (`{"rows": [[cell, ...], ...]}`, row i of it being <tr data-i="i">), not
 * from the cells' text, which rounds numbers to 4 digits.
 */
export const REPORT_SCRIPT = `
(function () {
  var table = document.getElementById('runs');
  var data = JSON.parse(document.getElementById('report-data').textContent);
  if (!table || !data) return;
  var tbody = table.tBodies[0];
  var headers = Array.prototype.slice.call(table.tHead.rows[0].cells);
  var collator = new Intl.Collator(undefined, { numeric: true });
  var state = { col: data.sortColumn, dir: data.sortDir };
  function compare(a, b) {
    if (typeof a === 'number' && typeof b === 'number') return a - b;
    if (typeof a === 'number') return -1;
    if (typeof b === 'number') return 1;
    return collator.compare(String(a), String(b));
  }
  function sortBy(col, dir) {
    var rows = Array.prototype.slice.call(tbody.rows);
    rows.sort(function (ra, rb) {
      var ia = Number(ra.getAttribute('data-i')), ib = Number(rb.getAttribute('data-i'));
      var a = data.rows[ia][col], b = data.rows[ib][col];
      var missingA = a === null, missingB = b === null;
      if (missingA || missingB) return missingA === missingB ? ia - ib : missingA ? 1 : -1;
      var c = compare(a, b);
      return c !== 0 ? (dir === 'ascending' ? c : -c) : ia - ib;
    });
    rows.forEach(function (row) { tbody.appendChild(row); });
    headers.forEach(function (th, i) {
      var mark = th.querySelector('.dir');
      if (i === col) { th.setAttribute('aria-sort', dir); mark.textContent = dir === 'ascending' ? ' \\u25b2' : ' \\u25bc'; }
      else { th.removeAttribute('aria-sort'); mark.textContent = ''; }
    });
    state = { col: col, dir: dir };
  }
  headers.forEach(function (th, i) {
    th.querySelector('button').addEventListener('click', function () {
      sortBy(i, state.col === i && state.dir === 'ascending' ? 'descending' : 'ascending');
    });
  });
  if (state.col !== null) sortBy(state.col, state.dir);
})();
`;
