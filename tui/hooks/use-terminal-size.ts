/** useTerminalSize(): the terminal's columns and rows, following resizes. */
import { useStdout } from 'ink';
import { useEffect, useState } from 'react';

/** What is assumed of a stream that does not say (a pipe, a test's stream without rows). */
export const DEFAULT_SIZE = { columns: 80, rows: 24 } as const;

/** A terminal's size in cells. */
export interface TerminalSize {
  readonly columns: number;
  readonly rows: number;
}

function sizeOf(stdout: NodeJS.WriteStream): TerminalSize {
  return { columns: stdout.columns || DEFAULT_SIZE.columns, rows: stdout.rows || DEFAULT_SIZE.rows };
}

/** Columns and rows of Ink's stdout, updated on its 'resize' events. */
export function useTerminalSize(): TerminalSize {
  const { stdout } = useStdout();
  const [size, setSize] = useState(() => sizeOf(stdout));
  useEffect(() => {
    const onResize = () => setSize(sizeOf(stdout));
    stdout.on('resize', onResize);
    return () => {
      stdout.off('resize', onResize);
    };
  }, [stdout]);
  return size;
}
