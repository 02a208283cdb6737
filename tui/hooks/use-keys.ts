/**
 * useKeys(context, onQuit): the user's choices (tui/state/ui.ts), changed by key presses. The
 * context (what is on screen) is read when a key comes, through a ref the App keeps current, so
 * a key acts on what the user sees. Without a terminal to read keys from (stdin is a pipe), no
 * keys are read and the dashboard only shows.
 */
import { useInput, useStdin, type Key } from 'ink';
import { useRef, useState, type RefObject } from 'react';
import { INITIAL_UI, onKey, type KeyContext, type KeyPress, type UiState } from '../state/ui.js';

/** Ink's key as the state module's KeyPress. */
export function keyPress(input: string, key: Key): KeyPress {
  return {
    input,
    up: key.upArrow,
    down: key.downArrow,
    left: key.leftArrow,
    right: key.rightArrow,
    pageUp: key.pageUp,
    pageDown: key.pageDown,
    enter: key.return,
    escape: key.escape,
    tab: key.tab,
    shift: key.shift,
    // Most terminals send DEL (0x7f) for backspace, which Ink reports as `delete`.
    backspace: key.backspace || key.delete,
    ctrl: key.ctrl,
  };
}

/**
 * The presses in one input. Keys typed fast, held down or sent together reach Ink as one input
 * ("jjjj", "k\r"): each character is then its own press, a carriage return an enter and a tab a
 * tab, so none is lost. A single key, or an escape sequence Ink decoded (arrows), is one press.
 */
export function keyPresses(input: string, key: Key): KeyPress[] {
  const chars = [...input];
  if (chars.length <= 1) return [keyPress(input, key)];
  const plain = { ...key, return: false, tab: false, escape: false, backspace: false, delete: false };
  return chars.map((c) => keyPress(c === '\r' || c === '\n' || c === '\t' ? '' : c, { ...plain, return: c === '\r' || c === '\n', tab: c === '\t' }));
}

/** The current choices; `onQuit` is called for `q`. */
export function useKeys(context: RefObject<KeyContext>, onQuit: () => void, initial: UiState = INITIAL_UI): UiState {
  const [ui, setUi] = useState(initial);
  // Keys come one after another, each acting on the state the previous one left.
  const current = useRef(ui);
  const { isRawModeSupported } = useStdin();
  useInput(
    (input, key) => {
      for (const press of keyPresses(input, key)) {
        const next = onKey(current.current, press, context.current);
        if (next === 'quit') return onQuit();
        current.current = next;
      }
      setUi(current.current);
    },
    { isActive: isRawModeSupported },
  );
  return ui;
}
