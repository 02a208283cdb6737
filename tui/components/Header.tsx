/** The top line: what is watched, whether the feed is live, and the coordinator's own trouble (a full disk). */
import { Box, Text } from 'ink';
import type { ConnectionState } from '../source.js';
import { cut } from '../format.js';
import { useColor } from './theme.js';

/** Props of Header: the source's label, the connection, the coordinator's trouble. */
export interface HeaderProps {
  /** The source's label ("coordinator 127.0.0.1:50051"). */
  readonly label: string;
  readonly connection: ConnectionState;
  /** Set while the coordinator cannot land run folders. */
  readonly diskFull?: string | undefined;
  readonly width: number;
}

function connectionText(c: ConnectionState): string {
  switch (c.state) {
    case 'connecting':
      return 'connecting…';
    case 'live':
      return 'live';
    case 'reconnecting':
      return `reconnecting… (${c.reason})`;
  }
}

/** One line, cut to `width`. */
export function Header({ label, connection, diskFull, width }: HeaderProps) {
  const color = useColor();
  const state = connectionText(connection);
  const title = `dlphys dash · ${label} · `;
  const disk = diskFull ? ` · DISK FULL: ${diskFull}` : '';
  const room = Math.max(0, width - title.length);
  return (
    <Box width={width}>
      <Text wrap="truncate">
        <Text bold>{cut(title, width)}</Text>
        <Text color={color(connection.state === 'live' ? 'green' : 'yellow')}>{cut(state, room)}</Text>
        <Text color={color('red')}>{cut(disk, Math.max(0, room - state.length))}</Text>
      </Text>
    </Box>
  );
}
