import path from 'node:path';
import * as vega from 'vega';
import * as vl from 'vega-lite';
import { UsageError } from '../errors.js';
import { writeFileAtomic } from '../write_file_atomic.js';

export type PlotFormat = 'svg' | 'png';

/** svg or png from the file's extension; another extension is a UsageError. */
export function plotFormat(file: string): PlotFormat {
  const ext = path.extname(file).slice(1).toLowerCase();
  if (ext === 'svg' || ext === 'png') return ext;
  throw new UsageError(`--plot ${file}: the file name must end in .svg or .png (for the Vega-Lite spec itself use --vega FILE.json)`);
}

/** A headless vega View of a Vega-Lite spec (no DOM: renderer "none"), not yet run. */
export function plotView(spec: vl.TopLevelSpec): vega.View {
  return new vega.View(vega.parse(vl.compile(spec).spec), { renderer: 'none' });
}

/** The SVG of `spec`, each mark carrying its tooltip as a hover title (see withHoverTitles). */
export async function renderSvg(spec: vl.TopLevelSpec): Promise<string> {
  return withHoverTitles(await plotView(spec).toSVG());
}

/**
 * Vega's SVG renderer writes a mark's tooltip text into its aria-label but no hover text (tooltips
 * are a browser handler's job). A <title> child is what SVG viewers and browsers show on hover, so
 * each self-closing mark element with an aria-label gets one holding the same (already escaped) text.
 */
export function withHoverTitles(svg: string): string {
  return svg.replace(
    /<(path|rect|line|circle|text)( aria-label="([^"]*)" role="graphics-symbol" aria-roledescription="[^"]* mark"[^>]*?)\/>/g,
    (_all, tag: string, attrs: string, label: string) => `<${tag}${attrs}><title>${label}</title></${tag}>`,
  );
}

/** PNG at twice the SVG's size on white, through @resvg/resvg-js (prebuilt for each platform, from the npm registry). */
export async function renderPng(svg: string): Promise<Buffer> {
  let Resvg: typeof import('@resvg/resvg-js').Resvg;
  try {
    ({ Resvg } = await import('@resvg/resvg-js'));
  } catch {
    throw new UsageError('writing a PNG needs @resvg/resvg-js, which did not install for this platform: npm install @resvg/resvg-js (or write an SVG: --plot FILE.svg)');
  }
  return new Resvg(svg, { background: 'white', fitTo: { mode: 'zoom', value: 2 } }).render().asPng();
}

/** Renders `spec` to `file` (.svg or .png), written whole or not at all. */
export async function writePlot(spec: vl.TopLevelSpec, file: string): Promise<void> {
  const format = plotFormat(file);
  const svg = await renderSvg(spec);
  writeFileAtomic(file, format === 'svg' ? svg : await renderPng(svg));
}

/** The spec as JSON, for the Vega editor or a notebook. */
export function writeSpec(spec: vl.TopLevelSpec, file: string): void {
  writeFileAtomic(file, JSON.stringify(spec, null, 2) + '\n');
}

