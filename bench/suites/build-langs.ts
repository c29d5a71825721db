import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import type { SuiteContext } from '../suites';
import { ratio, summarize, timeIt } from '../lib/stats';
import { benchTmpDir, cleanupPeers } from '../lib/peer-run';
import { dockerBuild, imageSize } from '../lib/dockerfile-peer';
import { createBenchHome, slipwayBuild, slipwayImageSize, type BenchHome } from '../lib/slipway-build';
import { flaskStyleApp, goStdlibApp } from '../../test/integration/python-go-fixtures';

/**
 * The Python and Go apps of the `build` and `image-size` suites: Slipway's lifecycle against a
 * hand-written Dockerfile for the same app on the same stack (bookworm), cold then warm (one line
 * of source changed), plus image sizes. Offline like the tests: the Python app is a WSGI app with
 * its dependencies as local wheels (tinywsgi stands in for Flask + gunicorn, which are not
 * reachable here); the Go app is a stdlib HTTP server.
 */
const PY_DOCKERFILE = `FROM slipway/bookworm-run:latest
USER root
RUN apt-get update -qq && apt-get install -y -qq --no-install-recommends python3 python3-venv >/dev/null && rm -rf /var/lib/apt/lists/*
RUN python3 -m venv /opt/venv
ENV PATH=/opt/venv/bin:$PATH PYTHONUNBUFFERED=1
WORKDIR /app
COPY requirements.txt ./
COPY wheels ./wheels
RUN pip install --no-cache-dir -q -r requirements.txt
COPY --chown=1000:1000 . .
USER 1000
CMD ["tinywsgi", "app:app"]
`;

const GO_DOCKERFILE = `FROM slipway/bookworm-build:latest AS build
USER root
RUN apt-get update -qq && apt-get install -y -qq --no-install-recommends golang-1.19-go >/dev/null && rm -rf /var/lib/apt/lists/*
ENV PATH=/usr/lib/go-1.19/bin:$PATH GOTOOLCHAIN=local
WORKDIR /src
COPY go.mod ./
COPY . .
RUN go build -trimpath -o /out/hello .
FROM slipway/bookworm-run:latest
COPY --from=build /out/hello /usr/local/bin/hello
USER 1000
CMD ["hello"]
`;

interface Lang {
  name: 'python' | 'go';
  write(dir: string): void;
  dockerfile: string;
  /** One line of source changed. */
  touch(dir: string, n: number): void;
}

const LANGS: Lang[] = [
  {
    name: 'python',
    write: (d) => flaskStyleApp(d),
    dockerfile: PY_DOCKERFILE,
    touch: (d, n) => fs.appendFileSync(path.join(d, 'app.py'), `# edit ${n}\n`),
  },
  {
    name: 'go',
    write: (d) => goStdlibApp(d),
    dockerfile: GO_DOCKERFILE,
    touch: (d, n) =>
      fs.writeFileSync(
        path.join(d, 'main.go'),
        fs.readFileSync(path.join(d, 'main.go'), 'utf8').replace(/hello from go[^"]*/, `hello from go, edit ${n}`),
      ),
  },
];

function prepare(home: BenchHome, lang: Lang, peerCtx: string): void {
  fs.rmSync(home.src, { recursive: true, force: true });
  fs.mkdirSync(home.src, { recursive: true });
  lang.write(home.src);
  if (process.getuid?.() === 0) execFileSync('chown', ['-R', '1000:1000', home.src]);
  fs.rmSync(peerCtx, { recursive: true, force: true });
  fs.cpSync(home.src, peerCtx, { recursive: true });
  fs.writeFileSync(path.join(peerCtx, 'Dockerfile'), lang.dockerfile);
}

export async function runLangBuilds(ctx: SuiteContext): Promise<Record<string, unknown>> {
  const out: Record<string, unknown> = {};
  const runSize = await imageSize('slipway/bookworm-run:latest');
  for (const lang of LANGS) {
    const t = {
      slipway: { cold: [] as number[], warm: [] as number[] },
      peer: { cold: [] as number[], warm: [] as number[] },
    };
    let sizes = { slipway: 0, peer: 0 };
    let binary = 0;
    for (let i = 0; i < ctx.iterations; i++) {
      ctx.log(`${lang.name}: iteration ${i + 1}/${ctx.iterations}`);
      const home = await createBenchHome(`build-${lang.name}`);
      const peerCtx = benchTmpDir(`slipway-bench-peer-${lang.name}-`);
      const peerTag = `slipway-bench/peer-${lang.name}:${process.pid}-${i}`;
      try {
        prepare(home, lang, peerCtx);
        const cold = await timeIt(() => slipwayBuild(home));
        t.slipway.cold.push(cold.ms);
        t.peer.cold.push((await timeIt(() => dockerBuild(peerCtx, peerTag, true))).ms);
        lang.touch(home.src, i);
        lang.touch(peerCtx, i);
        const warm = await timeIt(() => slipwayBuild(home, cold.value));
        t.slipway.warm.push(warm.ms);
        t.peer.warm.push((await timeIt(() => dockerBuild(peerCtx, peerTag, false))).ms);
        if (i === 0) {
          sizes = { slipway: await slipwayImageSize(home, warm.value), peer: await imageSize(peerTag) };
          if (lang.name === 'go') {
            binary = Number(
              execFileSync(
                'docker',
                ['run', '--rm', '--entrypoint', 'stat', peerTag, '-c', '%s', '/usr/local/bin/hello'],
                { encoding: 'utf8' },
              ).trim(),
            );
          }
        }
        ctx.log(
          `${lang.name}: slipway cold ${Math.round(cold.ms)} ms warm ${Math.round(warm.ms)} ms; peer cold ${Math.round(t.peer.cold[i])} ms warm ${Math.round(t.peer.warm[i])} ms`,
        );
      } finally {
        home.cleanup();
        fs.rmSync(peerCtx, { recursive: true, force: true });
        try {
          execFileSync('docker', ['rmi', '-f', peerTag], { stdio: 'ignore' });
        } catch {
          /* already gone */
        }
        await cleanupPeers();
      }
    }
    const s = (k: 'cold' | 'warm') => ({ slipway_ms: summarize(t.slipway[k]), peer_ms: summarize(t.peer[k]) });
    const cold = s('cold');
    const warm = s('warm');
    out[lang.name] = {
      cold,
      warm,
      cold_ratio: ratio(cold.slipway_ms.median, cold.peer_ms.median),
      warm_ratio: ratio(warm.slipway_ms.median, warm.peer_ms.median),
      image_bytes: { ...sizes, run_image: runSize, ...(binary ? { binary } : {}) },
      image_size_ratio: ratio(sizes.slipway, sizes.peer),
      ...(binary
        ? { image_over_run_image_in_binaries: Math.round(((sizes.slipway - runSize) / binary) * 100) / 100 }
        : {}),
    };
  }
  return out;
}
