/**
 * The dashboard's colours, and the one switch that turns them off (NO_COLOR, not a terminal):
 * components ask `useColor()` for a colour and get undefined when colour is off, so no colour
 * escape is ever written then. Without colour, marks and glyphs carry the meaning (a cursor
 * mark, state names, a digit at each compared curve's end).
 */
import { createContext, useContext } from 'react';

/** Whether colour is on; the App provides it (runDashboard decides: tui/color.ts). */
export const ColorContext = createContext<boolean>(true);

/** Colours of run states, as in the progress bar and the runs table. */
export const STATE_COLOR: Readonly<Record<string, string>> = {
  completed: 'green',
  running: 'cyan',
  leased: 'blue',
  queued: 'gray',
  failed: 'red',
  diverged: 'magenta',
  cancelled: 'yellow',
  early_stopped: 'magenta',
};

/** Colours of overlaid curves, in order (a chart's train and val curves, the compared runs). */
export const SERIES_COLORS: readonly string[] = ['cyan', 'magenta', 'yellow', 'green', 'blue', 'red', 'white', 'gray'];

/** A function giving `name` back when colour is on, undefined when it is off. */
export function useColor(): (name: string | undefined) => string | undefined {
  const on = useContext(ColorContext);
  return (name) => (on ? name : undefined);
}

/** Whether colour is on (for the few components that draw differently without it). */
export function useColorOn(): boolean {
  return useContext(ColorContext);
}
