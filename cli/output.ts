/**
 * Output helpers: readable tables, colour only on a TTY (and never with NO_COLOR), JSON for --json.
 * Handlers return data; printing is done here.
 */
export interface Out {
  json: boolean;
  color: boolean;
  log(line?: string): void;
  err(line: string): void;
  printJson(data: unknown): void;
  table(rows: Array<Record<string, unknown>>, columns: Array<[key: string, title: string]>): void;
  bold(s: string): string;
  dim(s: string): string;
  green(s: string): string;
  red(s: string): string;
  yellow(s: string): string;
  cyan(s: string): string;
}

export function createOut(opts: {
  json: boolean;
  stdout?: NodeJS.WriteStream;
  stderr?: NodeJS.WriteStream;
  env?: NodeJS.ProcessEnv;
}): Out {
  const stdout = opts.stdout ?? process.stdout;
  const stderr = opts.stderr ?? process.stderr;
  const env = opts.env ?? process.env;
  const color = Boolean(stdout.isTTY) && !env.NO_COLOR && env.TERM !== 'dumb';
  const paint = (code: number) => (s: string) => (color ? `\x1b[${code}m${s}\x1b[0m` : s);
  const strip = (s: string) => s.replace(/\x1b\[[0-9;]*m/g, '');
  return {
    json: opts.json,
    color,
    log: (line = '') => void stdout.write(line + '\n'),
    err: (line) => void stderr.write(line + '\n'),
    printJson: (data) => void stdout.write(JSON.stringify(data, null, 2) + '\n'),
    table(rows, columns) {
      const cells = rows.map((r) => columns.map(([k]) => (r[k] === null || r[k] === undefined ? '' : String(r[k]))));
      const widths = columns.map(([, title], i) => Math.max(title.length, ...cells.map((c) => strip(c[i]).length)));
      const line = (c: string[]) =>
        c
          .map((v, i) => (i === c.length - 1 ? v : v + ' '.repeat(widths[i] - strip(v).length)))
          .join('  ')
          .trimEnd();
      stdout.write(paint(1)(line(columns.map(([, t]) => t))) + '\n');
      stdout.write(widths.map((w) => '─'.repeat(w)).join('  ') + '\n');
      for (const c of cells) stdout.write(line(c) + '\n');
    },
    bold: paint(1),
    dim: paint(2),
    green: paint(32),
    red: paint(31),
    yellow: paint(33),
    cyan: paint(36),
  };
}
