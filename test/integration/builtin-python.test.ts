import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { tmpDir } from '../helpers/home';
import { createLangHarness, type LangHarness } from './lang-build';
import { flaskStyleApp, pythonWheels, sha256File, wheel, writeFiles, WSGI_APP } from './python-go-fixtures';

// slipway/python through the real lifecycle (built-in order, build container, export) on the
// bookworm stack, offline: every package comes from wheels the test builds into the app. All
// builds share one app build cache ("py"), so Python is downloaded from Debian once per file.
// django and gunicorn below are STAND-IN packages (test/fixtures/python/pkgs): they exercise the
// buildpack's collectstatic step and default Django process, not Django or gunicorn.

let h: LangHarness;
const dirs: string[] = [];
before(async () => {
  h = await createLangHarness('py');
});
after(() => {
  h?.cleanup();
  for (const d of dirs) fs.rmSync(d, { recursive: true, force: true });
});

function appDir(): string {
  const d = tmpDir('slipway-py-');
  dirs.push(d);
  return d;
}

const OFFLINE = { PIP_NO_INDEX: '1', PIP_FIND_LINKS: '/app/wheels' };
const installed = (output: string) => /Successfully installed (.*)/.exec(output)?.[1] ?? '';

test('requirements.txt with --find-links and --no-index: Python from Debian, serves as uid 1000; warm rebuild reuses the venv; a dependency change reinstalls', async (t) => {
  const dir = appDir();
  flaskStyleApp(dir);
  const cold = await h.build(dir, { cache: 'py' });
  assert.ok(cold.ok, `${cold.error}\n${cold.output}`);
  t.diagnostic(`cold build ${cold.result!.phaseTimings.total} ms`);
  assert.match(cold.output, /Python app detected \(slipway\/python@1\.0\.0\)/);
  assert.match(cold.output, /Installing Python 3\.11\.\d+ from Debian \(the bookworm stack's default\)/);
  assert.match(cold.output, /Looking in links: \.\/wheels/, 'the --find-links line of requirements.txt was honoured');
  assert.match(installed(cold.output), /greeting-1\.0/);
  assert.match(await h.serve(cold.result!), /^hello flask-style app from greeting 1\.0; uid 1000; python 3\.11$/);

  const warm = await h.build(dir, { cache: 'py' });
  assert.ok(warm.ok, warm.error);
  t.diagnostic(`warm build ${warm.result!.phaseTimings.total} ms`);
  assert.match(warm.output, /Using cached Python 3\.11/);
  assert.match(warm.output, /Reusing the virtualenv: requirements\.txt and Python 3\.11\.\d+ unchanged \(no pip run\)/);
  assert.doesNotMatch(warm.output, /pip install|Installing Python/);
  assert.match(await h.serve(warm.result!), /greeting 1\.0; uid 1000/);

  fs.rmSync(path.join(dir, 'wheels'), { recursive: true });
  flaskStyleApp(dir, '2.0');
  const changed = await h.build(dir, { cache: 'py' });
  assert.ok(changed.ok, changed.error);
  assert.match(changed.output, /pip install -r requirements\.txt/);
  assert.match(await h.serve(changed.result!), /greeting 2\.0; uid 1000/);
});

test('pyproject.toml (PEP 621): dependencies installed with pip, index settings from config vars (PIP_NO_INDEX, PIP_FIND_LINKS)', async () => {
  const dir = appDir();
  pythonWheels(dir);
  writeFiles(dir, {
    'pyproject.toml':
      '[project]\nname = "pep621app"\nversion = "0.1.0"\nrequires-python = ">=3.9"\ndependencies = ["greeting>=1.0", "tinywsgi"]\n',
    'app.py': WSGI_APP,
    Procfile: 'web: tinywsgi app:app\n',
  });
  const b = await h.build(dir, { cache: 'py', env: OFFLINE });
  assert.ok(b.ok, `${b.error}\n${b.output}`);
  assert.match(b.output, /Python 3\.11\.\d+ \(requires-python ">=3\.9"\)|requires-python ">=3\.9"/);
  assert.match(installed(b.output), /greeting-1\.0/);
  assert.match(await h.serve(b.result!), /greeting 1\.0; uid 1000/);
});

test('Pipfile.lock, poetry.lock and uv.lock install exactly the locked main dependencies with hash checks; a wrong hash fails', async () => {
  const dir = appDir();
  const { greeting } = pythonWheels(dir);
  const devtool = wheel(path.join(dir, 'wheels'), 'devtool', '1.0');
  const gh = sha256File(greeting);
  const dh = sha256File(devtool);
  const base = {
    'app.py': WSGI_APP,
    'check.py': 'import greeting\nprint(greeting.hello("lock"))\n',
    Procfile: 'web: python check.py\n',
  };

  const pipfileLock = {
    _meta: {
      hash: { sha256: 'x' },
      'pipfile-spec': 6,
      requires: {},
      sources: [{ name: 'pypi', url: 'https://pypi.org/simple', verify_ssl: true }],
    },
    default: { greeting: { hashes: [`sha256:${gh}`], index: 'pypi', version: '==1.0' } },
    develop: { devtool: { hashes: [`sha256:${dh}`], index: 'pypi', version: '==1.0' } },
  };
  writeFiles(dir, { ...base, 'Pipfile.lock': JSON.stringify(pipfileLock, null, 4) });
  const pipenv = await h.build(dir, { cache: 'py', env: OFFLINE });
  assert.ok(pipenv.ok, `${pipenv.error}\n${pipenv.output}`);
  assert.match(
    pipenv.output,
    /Installing from Pipfile\.lock \(1 pinned packages, hashes checked when the lock has them\)/,
  );
  assert.equal(installed(pipenv.output).trim(), 'greeting-1.0', 'develop packages are not installed');
  assert.equal(await h.exec(pipenv.result!, 'python check.py'), 'hello lock from greeting 1.0');

  fs.rmSync(path.join(dir, 'Pipfile.lock'));
  const file = (n: string, hash: string) => `{file = "${n}-1.0-py3-none-any.whl", hash = "sha256:${hash}"}`;
  writeFiles(dir, {
    'pyproject.toml':
      '[tool.poetry]\nname = "poetryapp"\nversion = "0.1.0"\n\n[tool.poetry.dependencies]\npython = "^3.11"\ngreeting = "1.0"\n\n[tool.poetry.group.dev.dependencies]\ndevtool = "1.0"\n',
    // A poetry 1.5+ lock: no category/groups, so the main group is found by walking pyproject's dependencies.
    'poetry.lock': `[[package]]\nname = "devtool"\nversion = "1.0"\ndescription = ""\noptional = false\npython-versions = "*"\nfiles = [\n    ${file('devtool', dh)},\n]\n\n[[package]]\nname = "greeting"\nversion = "1.0"\ndescription = ""\noptional = false\npython-versions = "*"\nfiles = [\n    ${file('greeting', gh)},\n]\n\n[metadata]\nlock-version = "2.0"\npython-versions = "^3.11"\ncontent-hash = "x"\n`,
  });
  const poetry = await h.build(dir, { cache: 'py', env: OFFLINE });
  assert.ok(poetry.ok, `${poetry.error}\n${poetry.output}`);
  assert.match(poetry.output, /Installing from poetry\.lock \(1 pinned packages/);
  assert.equal(installed(poetry.output).trim(), 'greeting-1.0');

  fs.rmSync(path.join(dir, 'poetry.lock'));
  const uvLock = (hash: string) =>
    `version = 1\nrequires-python = ">=3.11"\n\n[[package]]\nname = "devtool"\nversion = "1.0"\nsource = { registry = "https://pypi.org/simple" }\nwheels = [\n    { url = "https://example.invalid/devtool-1.0-py3-none-any.whl", hash = "sha256:${dh}" },\n]\n\n` +
    `[[package]]\nname = "greeting"\nversion = "1.0"\nsource = { registry = "https://pypi.org/simple" }\nwheels = [\n    { url = "https://example.invalid/greeting-1.0-py3-none-any.whl", hash = "sha256:${hash}" },\n]\n\n` +
    `[[package]]\nname = "uvapp"\nversion = "0.1.0"\nsource = { virtual = "." }\ndependencies = [\n    { name = "greeting" },\n]\n\n[package.dev-dependencies]\ndev = [\n    { name = "devtool" },\n]\n`;
  writeFiles(dir, {
    'pyproject.toml':
      '[project]\nname = "uvapp"\nversion = "0.1.0"\nrequires-python = ">=3.11"\ndependencies = ["greeting==1.0"]\n\n[dependency-groups]\ndev = ["devtool"]\n',
    'uv.lock': uvLock(gh),
  });
  const uv = await h.build(dir, { cache: 'py', env: OFFLINE });
  assert.ok(uv.ok, `${uv.error}\n${uv.output}`);
  assert.match(uv.output, /Installing from uv\.lock \(1 pinned packages/);
  assert.equal(installed(uv.output).trim(), 'greeting-1.0');

  writeFiles(dir, { 'uv.lock': uvLock('0'.repeat(64)) });
  const tampered = await h.build(dir, { cache: 'py', env: OFFLINE });
  assert.equal(tampered.ok, false);
  assert.match(tampered.output, /DO NOT MATCH THE HASHES/);
  assert.match(tampered.output, /pip could not install the dependencies from uv\.lock/);
});

test('Django: collectstatic runs at build (skipped with DISABLE_COLLECTSTATIC=1), no Procfile gives web: gunicorn <project>.wsgi', async () => {
  const dir = appDir();
  const wheels = path.join(dir, 'wheels');
  wheel(wheels, 'django', '0.0.0', 'console_script=django-admin=django.core.management:execute_from_command_line');
  wheel(wheels, 'gunicorn', '0.0.0', 'console_script=gunicorn=gunicorn:main');
  writeFiles(dir, {
    'requirements.txt': '--no-index\n--find-links ./wheels\ndjango==0.0.0\ngunicorn==0.0.0\n',
    'manage.py':
      "import os, sys\nif __name__ == '__main__':\n    os.environ.setdefault('DJANGO_SETTINGS_MODULE', 'mysite.settings')\n    from django.core.management import execute_from_command_line\n    execute_from_command_line(sys.argv)\n",
    'mysite/__init__.py': '',
    'mysite/settings.py':
      "from pathlib import Path\nBASE_DIR = Path(__file__).resolve().parent.parent\nSTATIC_ROOT = BASE_DIR / 'staticfiles'\nSTATICFILES_DIRS = [BASE_DIR / 'static']\n",
    'mysite/wsgi.py':
      "import os\nfrom pathlib import Path\n\ndef application(environ, start_response):\n    css = (Path(__file__).resolve().parent.parent / 'staticfiles' / 'site.css').read_text()\n    start_response('200 OK', [('Content-Type', 'text/plain')])\n    return [('collected %s; uid %d' % (css.strip(), os.getuid())).encode()]\n",
    'static/site.css': 'body { color: teal }\n',
  });
  const b = await h.build(dir, { cache: 'py' });
  assert.ok(b.ok, `${b.error}\n${b.output}`);
  assert.match(b.output, /Django: python manage\.py collectstatic --noinput/);
  assert.match(b.output, /1 static files copied to '\/app\/staticfiles'/);
  assert.match(b.output, /web: gunicorn mysite\.wsgi \(Django project mysite; no Procfile\)/);
  assert.equal(b.result!.processTypes.web, 'gunicorn mysite.wsgi');
  assert.equal(await h.serve(b.result!), 'collected body { color: teal }; uid 1000');

  const skipped = await h.build(dir, { cache: 'py', env: { DISABLE_COLLECTSTATIC: '1' } });
  assert.ok(skipped.ok, skipped.error);
  assert.match(skipped.output, /Django: collectstatic skipped \(DISABLE_COLLECTSTATIC=1\)/);
  assert.doesNotMatch(skipped.output, /static files copied/);
  assert.match(skipped.output, /Reusing the virtualenv/);
});

test("a Python version the stack lacks fails naming each stack's version and the switch command; no Procfile is a clear error", async () => {
  const cases: Array<[Record<string, string>, RegExp[]]> = [
    [
      { '.python-version': '3.13\n' },
      [
        /Python 3\.13 \(from \.python-version\) is not available on the bookworm stack, which has Python 3\.11\. Stacks: bookworm: Python 3\.11, trixie: Python 3\.13\./,
        /slipway stack:set trixie -a APP/,
      ],
    ],
    [
      { 'runtime.txt': 'python-3.8.10\n' },
      [
        /Python 3\.8\.10 \(from runtime\.txt\) is not available on any stack\. Stacks: bookworm: Python 3\.11, trixie: Python 3\.13\./,
      ],
    ],
    [
      { 'pyproject.toml': '[project]\nname = "x"\nversion = "1"\nrequires-python = ">=3.12"\n' },
      [
        /requires-python ">=3\.12" in pyproject\.toml excludes Python 3\.11\.\d+, the bookworm stack's version/,
        /slipway stack:set trixie -a APP/,
      ],
    ],
  ];
  for (const [files, want] of cases) {
    const dir = appDir();
    writeFiles(dir, { 'requirements.txt': '', ...files });
    const b = await h.build(dir, { cache: 'py-errors' });
    assert.equal(b.ok, false, JSON.stringify(files));
    for (const re of want) assert.match(b.output, re);
    assert.doesNotMatch(b.output, /Installing Python/, 'fails before downloading anything');
  }

  const dir = appDir();
  writeFiles(dir, { 'requirements.txt': '\n', 'app.py': 'print(1)\n' });
  const noProcfile = await h.build(dir, { cache: 'py' });
  assert.equal(noProcfile.ok, false);
  assert.match(noProcfile.output, /No Procfile: Slipway cannot tell how to start this app's web process/);
  assert.match(
    noProcfile.output,
    /Add a Procfile at the top of the repository with a line such as: web: gunicorn app:app/,
  );
});

test('package.json and requirements.txt: Node.js wins in the default order, and the build says how to choose', async () => {
  const dir = appDir();
  writeFiles(dir, {
    'package.json': JSON.stringify({
      name: 'both',
      version: '1.0.0',
      engines: { node: '20.x' },
      scripts: { start: 'node -e "1"' },
    }),
    'requirements.txt': 'greeting\n',
  });
  const b = await h.build(dir, { cache: 'both' });
  assert.ok(b.ok, `${b.error}\n${b.output}`);
  assert.match(b.output, /Node\.js app detected/);
  assert.doesNotMatch(b.output, /Python app detected/);
  assert.match(
    b.output,
    /This app also has requirements\.txt: Node\.js was chosen because it comes first in the default order\./,
  );
  assert.match(b.output, /name its buildpack first in \.buildpacks or project\.toml/);
});
