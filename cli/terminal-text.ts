/**
 * Log and build output is written by apps and buildpacks, so it is untrusted text: printed raw, an
 * escape sequence in it can retitle the terminal (OSC 0), clear the screen (CSI 2J), rewrite what
 * was printed before (CR, cursor moves), set the clipboard (OSC 52) or, on some terminals, answer
 * back into the shell's input. The CLI removes every control sequence and control character from
 * such output before printing it: ESC sequences (CSI, OSC, DCS, SOS, PM, APC and two-byte ones),
 * their 8-bit C1 forms, every other C0/C1 control and DEL. Newlines and tabs stay.
 * The CLI's own colours are added after this (logs.ts paints its tags), never taken from the app.
 */
const CONTROL_RE = new RegExp(
  [
    // CSI: ESC [ or 8-bit CSI, parameters, intermediates, one final byte.
    '(?:\\x1b\\[|\\x9b)[\\x30-\\x3f]*[\\x20-\\x2f]*[\\x40-\\x7e]?',
    // OSC, DCS, SOS, PM, APC: up to BEL, ST (ESC \\ or 8-bit ST) or the end of the text.
    '(?:\\x1b[\\]PX^_]|[\\x90\\x98\\x9d\\x9e\\x9f])[\\s\\S]*?(?:\\x07|\\x1b\\\\|\\x9c|$)',
    // Other escape sequences: ESC, intermediates, one final byte.
    '\\x1b[\\x20-\\x2f]*[\\x30-\\x7e]?',
    // Every remaining C0 control but \\t and \\n, DEL, and C1.
    '[\\x00-\\x08\\x0b-\\x1f\\x7f-\\x9f]',
  ].join('|'),
  'g',
);

export function stripControls(text: string): string {
  return text.replace(CONTROL_RE, '');
}

/** Splits a byte stream into lines (across chunk boundaries) and hands each one on, stripped. */
export function createLineSanitizer(write: (line: string) => void): { push(chunk: Uint8Array): void; end(): void } {
  const decoder = new TextDecoder();
  let rest = '';
  return {
    push(chunk) {
      const lines = (rest + decoder.decode(chunk, { stream: true })).split('\n');
      rest = lines.pop() ?? '';
      for (const l of lines) write(stripControls(l) + '\n');
    },
    end() {
      rest += decoder.decode();
      if (rest) write(stripControls(rest) + '\n');
      rest = '';
    },
  };
}
