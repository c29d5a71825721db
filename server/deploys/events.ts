import { describeOrigin, type BuildpackOrigin } from '../../buildpacks/lifecycle/select';
import { waitText, type WaitProgress } from '../runtime/types';

/**
 * What a deploy reports while it runs, as data. The pipeline emits these; each reader renders
 * them its own way: the git hook output and the build log as Heroku-style lines
 * (`pushLine`), `slipway logs` as one line per milestone (`appLogLine`), the API from the
 * build row the pipeline records. Nobody parses text another part printed.
 */
export type DeployEvent =
  /** The build was recorded and is about to wait for its turn. */
  /** `commit`: the short sha and subject, as releases and events name it. */
  | { type: 'started'; buildId: string; sourceVersion: string; commit: string; user: string | null }
  /** It waits: behind another build of the app, or for a machine-wide build slot. */
  | { type: 'waiting'; reason: string }
  /** A line of the platform's about the build (the stack app.json asks for, a stack being built). */
  | { type: 'note'; line: string }
  /** Its turn came; the builder starts. */
  | { type: 'building'; stack: string; builder?: string }
  /** Which source chose the buildpacks (app.json, .buildpacks, project.toml, BUILDPACK_URL, buildpacks:set, detection). */
  | { type: 'buildpacks'; from: BuildpackOrigin }
  /** A builder step finished ({ step: 'export', ms }). */
  | { type: 'step'; step: string; ms: number }
  /** A line the builder (buildpacks, lifecycle) printed: shown as is. */
  | { type: 'build-output'; line: string }
  /** The image exists; the release and rollout begin (no cancelling from here on). */
  | { type: 'launching' }
  /** A line of the release phase or rollout (release command output, dyno starts). */
  | { type: 'release-output'; line: string }
  /** A wait of the rollout (a dyno's boot, its health checks, the release phase), every 5 s. */
  | ({ type: 'wait' } & WaitProgress)
  | { type: 'released'; version: number }
  /** ms per step of the push: queue, source, build, image, release-phase, dynos, routes, total. */
  | { type: 'timing'; timings: Record<string, number> }
  | { type: 'deployed'; url: string }
  | { type: 'succeeded'; buildId: string; commit: string; version?: number }
  /** `hints`: by cause (a command not found: which buildpack would install it). */
  | {
      type: 'failed';
      buildId: string;
      commit: string;
      message: string;
      hint?: string;
      hints?: string[];
      cancelled: boolean;
      app: string;
    };

/** The push output and build log line(s) for an event, Heroku-style; [] for events not shown there. */
export function pushLines(e: DeployEvent): string[] {
  switch (e.type) {
    case 'waiting':
      return [`-----> ${e.reason[0].toUpperCase()}${e.reason.slice(1)}`];
    case 'building':
      if (e.builder === 'dockerfile') return ['-----> Building with the Dockerfile'];
      if (e.builder === 'image') return ['-----> Deploying an image (no build)'];
      return [`-----> Building on the ${e.stack} stack`];
    case 'buildpacks':
      return [`-----> Buildpacks chosen by ${describeOrigin(e.from)}`];
    case 'build-output':
    case 'note':
      return [e.line];
    case 'launching':
      return ['-----> Launching...'];
    case 'release-output':
      // Release-command output keeps its own markers; plain lines are indented under "Launching".
      return [
        e.line.startsWith('-----> ') || e.line.startsWith(' !') || e.line.startsWith('       ')
          ? e.line
          : `       ${e.line}`,
      ];
    case 'wait':
      return [`       ${waitText(e)}`];
    case 'released':
      return [`       Released v${e.version}`];
    case 'timing':
      return [
        `       Push timing: ${Object.entries(e.timings)
          .map(([k, v]) => `${k} ${v} ms`)
          .join(', ')}`,
      ];
    case 'deployed':
      return [`       ${e.url} deployed to Slipway`];
    case 'failed':
      return [
        ` !     ${e.message}`,
        ...(e.hint ? [` !     ${e.hint}`] : []),
        ...(e.hints ?? []).map((l) => ` !     ${l}`),
        e.cancelled ? ' !     Push cancelled.' : ` !     Push rejected to ${e.app}.`,
      ];
    default:
      return [];
  }
}

/** The app log (`slipway logs`, source build) line for a milestone; undefined for the rest. */
export function appLogLine(e: DeployEvent): string | undefined {
  switch (e.type) {
    case 'started':
      return `Build ${e.buildId} of ${e.commit} started${e.user ? ` by ${e.user}` : ''}`;
    case 'succeeded':
      return `Build of ${e.commit} succeeded${e.version ? `, released v${e.version}` : ''}`;
    case 'failed':
      return `Build of ${e.commit} ${e.cancelled ? 'cancelled' : 'failed'}: ${e.message}`;
    default:
      return undefined;
  }
}

/** A source version for people: a commit's first 7 hex, a tarball's `sha256:` + 12, an image reference whole. */
export function shortVersion(v: string): string {
  if (/^[0-9a-f]{40}$/.test(v)) return v.slice(0, 7);
  if (v.startsWith('sha256:')) return v.slice(0, 19);
  return v;
}
