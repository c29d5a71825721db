// The dashboard talks to the same REST API as the CLI (/api), authenticated by the session
// cookie; every change carries the session's CSRF token (server/api/web-session.ts).

export interface Session {
  email: string;
  admin: boolean;
  csrfToken: string;
}

export class ApiError extends Error {
  constructor(
    public status: number,
    public id: string,
    message: string,
    public hint?: string,
  ) {
    super(message);
  }
}

let csrf = '';
export function setCsrf(token: string): void {
  csrf = token;
}

async function toError(res: Response): Promise<ApiError> {
  try {
    const j = (await res.json()) as { id?: string; message?: string; hint?: string };
    return new ApiError(res.status, j.id ?? 'error', j.message ?? res.statusText, j.hint);
  } catch {
    return new ApiError(res.status, 'error', `${res.status} ${res.statusText}`);
  }
}

let onUnauthorized: () => void = () => undefined;
export function whenSignedOut(fn: () => void): void {
  onUnauthorized = fn;
}

export async function api<T = unknown>(
  method: string,
  path: string,
  body?: unknown,
  opts: { raw?: boolean } = {},
): Promise<T> {
  const headers: Record<string, string> = { accept: 'application/json' };
  if (body !== undefined) headers['content-type'] = 'application/json';
  if (method !== 'GET' && method !== 'HEAD') headers['x-csrf-token'] = csrf;
  const res = await fetch(`/api${path}`, {
    method,
    headers,
    body: body === undefined ? undefined : JSON.stringify(body),
    credentials: 'same-origin',
  });
  if (!res.ok) {
    const err = await toError(res);
    if (res.status === 401 && path !== '/session') onUnauthorized();
    throw err;
  }
  if (opts.raw) return res as unknown as T;
  const text = await res.text();
  return (text ? JSON.parse(text) : undefined) as T;
}

/**
 * Follows a streaming endpoint (logs tail, build output) line by line until it ends or the signal
 * aborts. Resolves when the stream ends.
 */
export async function follow(path: string, onLine: (line: string) => void, signal: AbortSignal): Promise<void> {
  const res = await fetch(`/api${path}`, { credentials: 'same-origin', signal });
  if (!res.ok) throw await toError(res);
  if (!res.body) return;
  const reader = res.body.getReader();
  const dec = new TextDecoder();
  let partial = '';
  for (;;) {
    const { value, done } = await reader.read();
    if (done) break;
    const lines = (partial + dec.decode(value, { stream: true })).split('\n');
    partial = lines.pop() ?? '';
    for (const l of lines) onLine(l);
  }
  if (partial) onLine(partial);
}
