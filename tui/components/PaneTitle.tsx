/** A pane's title line: inverse when the pane has the focus, with a mark that shows without colour too. */
import { Text } from 'ink';
import { cut } from '../format.js';

/** Props of PaneTitle. */
export interface PaneTitleProps {
  readonly title: string;
  /** Right of the title: counts, sort, filter. */
  readonly detail?: string;
  readonly focused: boolean;
  readonly width: number;
}

/** One line: the pane's name (inverse and marked ▸ when focused), then its detail dimmed. */
export function PaneTitle({ title, detail, focused, width }: PaneTitleProps) {
  const head = `${focused ? '▸' : ' '} ${title}`;
  return (
    <Text wrap="truncate">
      <Text bold inverse={focused}>
        {cut(head, width)}
      </Text>
      <Text dimColor>{cut(detail ? `  ${detail}` : '', Math.max(0, width - head.length))}</Text>
    </Text>
  );
}
