/**
 * What metrics need from one router access-log line (router/access-log.ts formats it):
 * `at=info method=GET ... connect=1ms service=12ms status=200 bytes=532 protocol=http`, with
 * `at=error code=H12 desc="..."` for router errors. Parsed by hand: this runs for every request.
 */
export interface RouterSample {
  status: number;
  /** connect + service, in ms. */
  ms: number;
  bytes: number;
  /** Heroku router error code (H10, H12, ...) or null. */
  code: string | null;
}

function intAfter(line: string, key: string): number {
  const i = line.lastIndexOf(key);
  if (i < 0) return 0;
  let n = 0;
  for (let j = i + key.length; j < line.length; j++) {
    const c = line.charCodeAt(j) - 48;
    if (c < 0 || c > 9) break;
    n = n * 10 + c;
  }
  return n;
}

export function parseRouterLine(line: string): RouterSample | null {
  // status/bytes/service/connect are the last fields: search from the end (the path is quoted and could contain anything).
  if (line.lastIndexOf(' status=') < 0) return null;
  let code: string | null = null;
  if (line.startsWith('at=error code=') || line.startsWith('at=info code=')) {
    const m = /^at=\w+ code=(H\d{1,2})\b/.exec(line);
    code = m ? m[1] : null;
  }
  return {
    status: intAfter(line, ' status='),
    ms: intAfter(line, ' connect=') + intAfter(line, ' service='),
    bytes: intAfter(line, ' bytes='),
    code,
  };
}
