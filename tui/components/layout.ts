/**
 * Where the panes go: side by side on a wide terminal (sweeps over agents on the left, runs on the
 * right), stacked on a narrow one, each given the rows its content needs as far as the terminal
 * allows, the runs table taking the rest. The frame stays a row short of the terminal: Ink
 * clears the whole screen to draw a frame as tall as the terminal, which would flicker.
 */

/** Columns from which the panes stand side by side. */
export const WIDE_COLUMNS = 140;

/** A pane's size in cells. */
export interface Box {
  readonly width: number;
  readonly height: number;
}

/** Where the panes go: side by side or stacked, and each one's box. */
export interface Layout {
  readonly wide: boolean;
  readonly sweeps: Box;
  readonly agents: Box;
  readonly runs: Box;
  /** Rows of the body (between the header and the footer). */
  readonly body: number;
}

/** Rows each pane would like: its title line plus its content lines. */
export interface Wanted {
  readonly sweeps: number;
  readonly agents: number;
}

/** The panes' boxes for a terminal of `columns` × `rows`. */
export function layout(columns: number, rows: number, wanted: Wanted): Layout {
  const body = Math.max(6, rows - 3);
  if (columns >= WIDE_COLUMNS) {
    const left = Math.min(72, Math.floor(columns * 0.42));
    const sweeps = Math.max(3, Math.min(wanted.sweeps, body - 4));
    return {
      wide: true,
      body,
      sweeps: { width: left, height: sweeps },
      agents: { width: left, height: body - sweeps },
      runs: { width: columns - left - 1, height: body },
    };
  }
  const sweeps = Math.max(3, Math.min(wanted.sweeps, Math.floor(body * 0.3)));
  const agents = Math.max(2, Math.min(wanted.agents, Math.floor(body * 0.3)));
  return {
    wide: false,
    body,
    sweeps: { width: columns, height: sweeps },
    agents: { width: columns, height: agents },
    runs: { width: columns, height: body - sweeps - agents },
  };
}

/** The `height` items of `count` to show so that `cursor` is visible, near the middle once the list scrolls. */
export function windowAround(count: number, cursor: number, height: number): { start: number; end: number } {
  if (count <= height) return { start: 0, end: count };
  const start = Math.max(0, Math.min(count - height, cursor - Math.floor(height / 2)));
  return { start, end: start + height };
}
