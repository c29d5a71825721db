import type { RouteBackend } from '../../common/routes-file';
import type { Readable, Writable } from 'node:stream';

/**
 * The runtime's two interfaces. `Runtime` is what the rest of the server calls (releases, API,
 * routes publisher). `ContainerDriver` is the only part that knows the container engine: the
 * Docker implementation is in docker/driver.ts; a Swarm one implements the same interface and
 * nothing else changes (nothing outside runtime/docker* assumes one host: dynos are reached at the
 * `address` the driver reports).
 */
export type DynoState = 'starting' | 'up' | 'crashed' | 'restarting';

export interface DynoInfo {
  type: string;
  index: number;
  /** Heroku-style: "web.1". */
  name: string;
  state: DynoState;
  /** ISO-8601: when the dyno entered its current state. */
  since: string;
  /** Release version the dyno runs. */
  release: number;
  containerId: string;
  /** host:port where the dyno's $PORT is published (web dynos), else null. */
  address: string | null;
  size: string;
  /** Crash restarts since the last release or the last long healthy run. */
  restarts: number;
  /** When state is crashed: when the next restart is due (ISO-8601). */
  nextRestartAt: string | null;
  exitCode: number | null;
  /** One-off dynos (type "run"): the command. */
  command?: string;
}

/** A healthy web dyno as the route table lists it (common/routes-file.ts). */
export type WebBackend = RouteBackend;

export interface ContainerSpec {
  name: string;
  image: string;
  entrypoint: string[];
  cmd: string[];
  /** user[:group] the process runs as ('' = the image's root); buildpack images: 1000:1000. */
  user: string;
  workdir?: string;
  env: Record<string, string>;
  labels: Record<string, string>;
  size: string;
  /** Container port to publish on the host's loopback. */
  publishPort?: number;
  /** Swarm placement constraints (`node.labels.zone==a`); the Docker driver has one node and ignores them. */
  placement?: string[];
  tty?: boolean;
  openStdin?: boolean;
}

export interface ContainerInfo {
  id: string;
  name: string;
  running: boolean;
  exitCode: number | null;
  startedAt: number | null;
  labels: Record<string, string>;
  /** host:port of the published port, when one is published and the container runs. */
  address: string | null;
}

export interface AttachedIo {
  stdin?: Readable;
  stdout: Writable;
  stderr: Writable;
  /** Terminal size when tty is on. */
  rows?: number;
  cols?: number;
}

export interface ContainerDriver {
  create(spec: ContainerSpec): Promise<string>;
  start(id: string): Promise<void>;
  inspect(id: string): Promise<ContainerInfo | undefined>;
  /** SIGTERM, then SIGKILL after graceMs. A missing or stopped container is not an error. */
  stop(id: string, graceMs: number): Promise<void>;
  /** Force-removes; a missing container is not an error. */
  remove(id: string): Promise<void>;
  /** Containers this installation made (its home label), optionally of one app. startedAt is null here: inspect for it. */
  list(app?: string): Promise<ContainerInfo[]>;
  /** Follows output from sinceMs (epoch ms; 0 = from the start) until the container stops. Returns a stop function. */
  followLogs(id: string, sinceMs: number, onLine: (line: string, stream: 'stdout' | 'stderr') => void): () => void;
  tailLogs(id: string, lines: number): Promise<string[]>;
  /** Calls onExit for every container (Swarm: service) of this installation that stops. Returns a stop function. */
  watchExits(onExit: (id: string, exitCode: number | null, attributes?: Record<string, string>) => void): () => void;
  /** Starts a created container attached to io; resolves with its exit code. */
  runAttached(id: string, io: AttachedIo, tty: boolean): Promise<number>;
  /** Waits for a started container to exit. */
  wait(id: string): Promise<number>;
  /** Images provably this app's: io.slipway.managed=true and the io.slipway.app=APP label or a name in the repository .../apps/APP. */
  listAppImages(app: string): Promise<Array<{ id: string; size: number }>>;
  removeImage(id: string): Promise<boolean>;
  /** Removes the app's network once its containers are gone (docker/networks.ts). */
  removeAppNetwork(app: string): Promise<void>;
  /** Runs a command inside a running container (as its user) and returns its stdout; undefined when it cannot run. */
  execRead(id: string, cmd: string[], timeoutMs: number): Promise<string | undefined>;
}

/** One wait of a deploy, as data, reported every 5 s while it lasts (issue 14). */
export interface WaitProgress {
  /** The dyno waited for (`web.1`, `release.1`). */
  dyno: string;
  waitingFor: 'answer' | 'health-checks' | 'release-phase';
  elapsedS: number;
  /** The limit it runs against, when there is one (the boot timeout, the release phase's). */
  limitS?: number;
}

/** The line people see for a wait: `waiting for web.1 to answer on $PORT (12 s of 60)`. */
export function waitText(p: WaitProgress): string {
  if (p.waitingFor === 'answer') return `waiting for ${p.dyno} to answer on $PORT (${p.elapsedS} s of ${p.limitS})`;
  if (p.waitingFor === 'health-checks') return `waiting for ${p.dyno} to pass its health checks (${p.elapsedS} s)`;
  return `release phase still running (${p.elapsedS} s of ${p.limitS})`;
}

/**
 * Where a deploy's progress goes: lines, and its waits as data when the caller takes them
 * (the deploy pipeline makes them DeployEvents); without `wait`, a wait arrives as its line.
 */
export type DeployOutput = ((line: string) => void) & {
  wait?: (p: WaitProgress) => void;
  /** How long each step of a rollout took (image, release-phase, dynos, routes), for the push's timing line. */
  timing?: (step: string, ms: number) => void;
};
