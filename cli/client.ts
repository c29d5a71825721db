import { Readable } from 'node:stream';
import { CliError } from './errors';
import { loadCredentials, type Credentials } from './credentials';

/**
 * The CLI's only way to the platform: HTTP to the API with a bearer token. API errors
 * ({ id, message, hint }) become CliErrors carrying the API's message and hint.
 */
export interface ApiClient {
  apiUrl: string;
  request<T = unknown>(method: string, path: string, body?: unknown): Promise<T>;
  /** A raw response (for streams); errors are still turned into CliErrors. */
  stream(path: string, signal?: AbortSignal): Promise<Response>;
  /** POST a body (JSON, or a byte stream with its content type) and return the raw, streamed response. */
  post(path: string, body: unknown, contentType?: string, signal?: AbortSignal): Promise<Response>;
  token: string;
  /** Headers of the last response (e.g. X-Slipway-Release after config:set). */
  lastHeaders(): Headers | undefined;
}

export function requireCredentials(env: NodeJS.ProcessEnv = process.env): Credentials {
  const c = loadCredentials(env);
  if (!c.apiUrl || !c.token) {
    throw new CliError('not logged in', {
      hint: 'run: slipway login --api http://HOST:5080 --token TOKEN (or set SLIPWAY_API_URL and SLIPWAY_TOKEN)',
    });
  }
  return c as Credentials;
}

async function toError(res: Response): Promise<CliError> {
  const text = await res.text().catch(() => '');
  try {
    const j = JSON.parse(text) as { id?: string; message?: string; hint?: string };
    if (j && typeof j.message === 'string')
      return new CliError(j.message, { hint: j.hint, id: j.id, status: res.status });
  } catch {
    // not JSON
  }
  return new CliError(`the API answered ${res.status} ${res.statusText}`, {
    status: res.status,
    hint: text.slice(0, 200) || undefined,
  });
}

export function createApiClient(creds: Credentials): ApiClient {
  const base = creds.apiUrl.replace(/\/+$/, '');
  const headers = { authorization: `Bearer ${creds.token}`, 'user-agent': 'slipway-cli' };
  const send = async (method: string, path: string, body?: unknown, signal?: AbortSignal) => {
    try {
      return await fetch(`${base}/api${path}`, {
        method,
        headers: body === undefined ? headers : { ...headers, 'content-type': 'application/json' },
        body: body === undefined ? undefined : JSON.stringify(body),
        signal,
      });
    } catch (err) {
      if ((err as Error).name === 'AbortError') throw err;
      const cause = (err as { cause?: { code?: string } }).cause;
      throw new CliError(`cannot reach the Slipway API at ${base} (${cause?.code ?? (err as Error).message})`, {
        hint: 'is slipway-server running? check the URL with: slipway login --api URL --token TOKEN',
      });
    }
  };
  let last: Headers | undefined;
  return {
    lastHeaders: () => last,
    apiUrl: base,
    token: creds.token,
    async request<T>(method: string, path: string, body?: unknown): Promise<T> {
      const res = await send(method, path, body);
      last = res.headers;
      if (!res.ok) throw await toError(res);
      const text = await res.text();
      return (text ? JSON.parse(text) : undefined) as T;
    },
    async post(path, body, contentType, signal) {
      let res: Response;
      if (!contentType) res = await send('POST', path, body, signal);
      else {
        try {
          // A Node stream body: undici wants duplex 'half' for a streamed request.
          // fetch sends a Node stream as nothing: hand it a web stream.
          const payload = body instanceof Readable ? (Readable.toWeb(body) as unknown as BodyInit) : (body as BodyInit);
          res = await fetch(`${base}/api${path}`, {
            method: 'POST',
            headers: { ...headers, 'content-type': contentType },
            body: payload,
            signal,
            duplex: 'half',
          } as RequestInit);
        } catch (err) {
          throw new CliError(`cannot reach the Slipway API at ${base} (${(err as Error).message})`, {
            hint: 'is slipway-server running?',
          });
        }
      }
      last = res.headers;
      if (!res.ok) throw await toError(res);
      return res;
    },
    async stream(path, signal) {
      const res = await send('GET', path, undefined, signal);
      if (!res.ok) throw await toError(res);
      return res;
    },
  };
}
