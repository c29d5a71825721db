#!/usr/bin/env node
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { SUITES, type SuiteContext } from './suites';

/**
 * `npm run bench [-- --only SUITE] [--json] [--quick]`
 * Runs each suite (Slipway and its peer side by side, same machine, same run), prints a summary
 * (or one JSON object per suite with --json) and writes bench/results/<suite>.json with the
 * machine it ran on. --quick: one iteration each, for CI, so the harness cannot rot; CI never
 * asserts on times.
 */
function parseArgs(argv: string[]) {
  const only: string[] = [];
  let json = false;
  let quick = false;
  for (let i = 0; i < argv.length; i++) {
    if (argv[i] === '--only') only.push(argv[++i]);
    else if (argv[i] === '--json') json = true;
    else if (argv[i] === '--quick') quick = true;
    else if (argv[i] === '--help' || argv[i] === '-h') {
      console.log(
        `usage: npm run bench -- [--only SUITE]... [--json] [--quick]\nsuites: ${Object.keys(SUITES).join(', ')}`,
      );
      process.exit(0);
    } else {
      console.error(`unknown option ${argv[i]}; see npm run bench -- --help`);
      process.exit(2);
    }
  }
  for (const name of only) {
    if (!SUITES[name]) {
      console.error(`unknown suite "${name}"; suites: ${Object.keys(SUITES).join(', ')}`);
      process.exit(2);
    }
  }
  return { only: only.length ? only : Object.keys(SUITES), json, quick };
}

export function machine() {
  return {
    cpus: os.cpus().length,
    cpuModel: os.cpus()[0]?.model ?? 'unknown',
    memoryGiB: Math.round(os.totalmem() / 2 ** 30),
    kernel: os.release(),
    node: process.version,
    // Other work on the machine skews the numbers: the load average (1, 5, 15 min) goes with each result.
    loadavg: os.loadavg().map((l) => Math.round(l * 100) / 100),
  };
}

async function main(): Promise<void> {
  const args = parseArgs(process.argv.slice(2));
  const resultsDir = path.resolve(__dirname, '..', '..', 'bench', 'results');
  fs.mkdirSync(resultsDir, { recursive: true });
  const ctx: SuiteContext = {
    quick: args.quick,
    iterations: args.quick ? 1 : 3,
    log: args.json ? (l) => process.stderr.write(`${l}\n`) : (l) => console.log(`       ${l}`),
  };
  let failed = 0;
  for (const name of args.only) {
    if (!args.json) console.log(`-----> ${name}`);
    const started = Date.now();
    const loadAtStart = os.loadavg().map((l) => Math.round(l * 100) / 100);
    try {
      const figures = await SUITES[name](ctx);
      const result = {
        suite: name,
        date: new Date().toISOString(),
        quick: args.quick,
        machine: { ...machine(), loadavg_at_start: loadAtStart },
        seconds: Math.round((Date.now() - started) / 1000),
        ...figures,
      };
      if (!args.quick) fs.writeFileSync(path.join(resultsDir, `${name}.json`), JSON.stringify(result, null, 2) + '\n');
      if (args.json) console.log(JSON.stringify(result));
      else console.log(JSON.stringify(figures, null, 2).replace(/^/gm, '       '));
    } catch (err) {
      failed++;
      const msg = (err as Error).stack ?? String(err);
      if (args.json) console.log(JSON.stringify({ suite: name, error: (err as Error).message }));
      console.error(` !     ${name} failed: ${msg}`);
    }
  }
  process.exit(failed ? 1 : 0);
}

void main();
