/** The help overlay (`?`): every key and what it does, from the list the key handler implements. */
import { Box, Text } from 'ink';
import { KEY_HELP } from '../state/ui.js';
import { PaneTitle } from './PaneTitle.js';

/** Props of Help: its box. */
export interface HelpProps {
  readonly width: number;
  readonly height: number;
}

/** The key list (KEY_HELP) with a line on colour. */
export function Help({ width, height }: HelpProps) {
  const keyWidth = Math.max(...KEY_HELP.map(([k]) => k.length)) + 2;
  return (
    <Box flexDirection="column" width={width} height={height} overflow="hidden">
      <PaneTitle title="keys" detail="? or esc closes" focused width={width} />
      {KEY_HELP.map(([keys, what]) => (
        <Text key={keys} wrap="truncate">
          <Text bold>{`  ${keys.padEnd(keyWidth)}`}</Text>
          {what}
        </Text>
      ))}
      <Text> </Text>
      <Text wrap="truncate">  Colour is off under NO_COLOR and when the output is not a terminal.</Text>
    </Box>
  );
}
