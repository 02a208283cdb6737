/** The bottom line: the keys that matter in the current view, and where to find the rest. */
import { Text } from 'ink';
import type { View } from '../state/ui.js';
import { cut } from '../format.js';

/** Props of Footer: the view whose keys it hints at. */
export interface FooterProps {
  readonly view: View;
  readonly editing: boolean;
  readonly width: number;
}

const HINTS: Readonly<Record<View, string>> = {
  main: 'tab pane  enter open  / filter  s S sort  space mark  c compare  ? help  q quit',
  detail: 'j/k scroll  esc back  ? help  q quit',
  compare: '← → metric  esc back  ? help  q quit',
};

/** The hints; on a narrow terminal with one space between them instead of two. */
export function Footer({ view, editing, width }: FooterProps) {
  const hints = editing ? 'type to filter (text, key=value)  enter keeps  esc drops' : HINTS[view];
  return (
    <Text dimColor wrap="truncate">
      {cut(hints.length > width ? hints.replace(/ {2}/g, ' ') : hints, width)}
    </Text>
  );
}
