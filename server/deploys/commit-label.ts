import { shortVersion } from './events';

/**
 * How builds, releases and events name a commit: short sha and subject ("1a2b3c4 Fix the footer"),
 * or the short sha alone when the subject is unknown.
 */
export function commitLabel(sha: string | null | undefined, subject?: string | null): string {
  const short = (sha ? shortVersion(sha) : '') || 'unknown commit';
  return subject ? `${short} ${subject}` : short;
}

/**
 * A commit subject as it may be stored and shown: one line, no control characters, at most
 * 120 characters (it comes from the pushing client).
 */
export function cleanSubject(raw: unknown): string | undefined {
  if (typeof raw !== 'string') return undefined;
  // eslint-disable-next-line no-control-regex
  const s = raw.replace(/[\u0000-\u001f\u007f-\u009f]+/g, ' ').trim();
  if (!s) return undefined;
  return s.length > 120 ? `${s.slice(0, 119)}…` : s;
}
