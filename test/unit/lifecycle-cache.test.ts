import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { fingerprint } from '../../buildpacks/lifecycle/cache';
import { walkDir, writeTar } from '../../buildpacks/lifecycle/tar';

const owner = { uid: 1000, gid: 1000 };

test('a layer fingerprint follows content, not timestamps, and equal fingerprints mean equal tars', async () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'lc-fp-'));
  fs.mkdirSync(path.join(dir, 'bin'));
  fs.writeFileSync(path.join(dir, 'bin', 'tool'), 'v1', { mode: 0o755 });
  fs.symlinkSync('bin/tool', path.join(dir, 'link'));
  const hashes = new Map<string, string>();
  const e1 = walkDir(dir, '/layers/bp/l', owner);
  const t1 = await writeTar(e1, path.join(dir, '..', `${path.basename(dir)}-1.tar`), (e, sha) =>
    hashes.set(e.path, sha),
  );
  const a = fingerprint(e1, hashes);
  // Unchanged files: hashes come from the index (no read), same fingerprint.
  const b = fingerprint(walkDir(dir, '/layers/bp/l', owner), new Map(), a.index);
  assert.equal(b.fp, a.fp);
  // Rewritten with the same content (new mtime): same fingerprint.
  fs.writeFileSync(path.join(dir, 'bin', 'tool'), 'v1');
  fs.utimesSync(path.join(dir, 'bin', 'tool'), new Date(), new Date(Date.now() + 5000));
  const c = fingerprint(walkDir(dir, '/layers/bp/l', owner), new Map(), a.index);
  assert.equal(c.fp, a.fp);
  const t2 = await writeTar(walkDir(dir, '/layers/bp/l', owner), path.join(dir, '..', `${path.basename(dir)}-2.tar`));
  assert.equal(t2.diffId, t1.diffId, 'mtimes are normalised in the tar');
  // Changed content or mode: different fingerprint.
  fs.writeFileSync(path.join(dir, 'bin', 'tool'), 'v2');
  assert.notEqual(fingerprint(walkDir(dir, '/layers/bp/l', owner), new Map(), a.index).fp, a.fp);
  fs.writeFileSync(path.join(dir, 'bin', 'tool'), 'v1');
  fs.chmodSync(path.join(dir, 'bin', 'tool'), 0o700);
  assert.notEqual(fingerprint(walkDir(dir, '/layers/bp/l', owner), new Map(), a.index).fp, a.fp);
  for (const f of [dir, `${dir}-1.tar`, `${dir}-2.tar`]) fs.rmSync(f, { recursive: true, force: true });
});
