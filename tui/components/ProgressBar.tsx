/** A sweep's runs as one bar: completed, diverged, failed, cancelled, running, queued. */
import { Text } from 'ink';
import { BAR_GLYPH, BAR_STATES, barCells } from './bar.js';
import { STATE_COLOR, useColor, useColorOn } from './theme.js';

/** Props of ProgressBar. */
export interface ProgressBarProps {
  /** Runs per state (Status's SweepStatus.states). */
  readonly counts: Readonly<Record<string, number>>;
  /** Cells the bar takes. */
  readonly width: number;
}

/** The bar, `width` cells; coloured blocks with colour, a glyph per state without. */
export function ProgressBar({ counts, width }: ProgressBarProps) {
  const color = useColor();
  const on = useColorOn();
  const cells = barCells(counts, width);
  const used = BAR_STATES.reduce((a, s) => a + cells[s], 0);
  return (
    <Text>
      {BAR_STATES.map((s) =>
        cells[s] > 0 ? (
          <Text key={s} color={color(STATE_COLOR[s])}>
            {(on ? (s === 'queued' ? '░' : '█') : BAR_GLYPH[s]).repeat(cells[s])}
          </Text>
        ) : null,
      )}
      {used < width ? ' '.repeat(width - used) : ''}
    </Text>
  );
}
