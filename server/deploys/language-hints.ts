import * as fs from 'node:fs';
import * as path from 'node:path';

/**
 * Which buildpack (or builder) would handle a repository, from the files it has: said when a
 * dyno's command was not found (issue 14), the usual cause being a Procfile-only build of an app
 * whose language nothing installed. Builtin buildpacks are looked up in buildpacks/builtin, so a
 * language buildpack added later is named without changing this file.
 */
const MARKERS: Array<{ file: string; language: string; builtin: string }> = [
  { file: 'requirements.txt', language: 'Python', builtin: 'python' },
  { file: 'Pipfile', language: 'Python', builtin: 'python' },
  { file: 'pyproject.toml', language: 'Python', builtin: 'python' },
  { file: 'Gemfile', language: 'Ruby', builtin: 'ruby' },
  { file: 'go.mod', language: 'Go', builtin: 'go' },
  { file: 'pom.xml', language: 'Java (Maven)', builtin: 'java' },
  { file: 'build.gradle', language: 'Java (Gradle)', builtin: 'java' },
  { file: 'composer.json', language: 'PHP', builtin: 'php' },
  { file: 'package.json', language: 'Node.js', builtin: 'nodejs' },
];

export function languageHints(sourceDir: string, builtinDir: string): string[] {
  const out: string[] = [];
  const seen = new Set<string>();
  for (const m of MARKERS) {
    if (seen.has(m.builtin) || !fs.existsSync(path.join(sourceDir, m.file))) continue;
    seen.add(m.builtin);
    out.push(
      fs.existsSync(path.join(builtinDir, m.builtin, 'buildpack.toml'))
        ? `This repository has ${m.file} (${m.language}): the slipway/${m.builtin} buildpack installs it. Let detection choose (slipway buildpacks:clear) or add it: slipway buildpacks:add slipway/${m.builtin}`
        : `This repository has ${m.file} (${m.language}), and this platform has no builtin ${m.language} buildpack: add one by URL (slipway buildpacks:add https://...)`,
    );
  }
  if (fs.existsSync(path.join(sourceDir, 'Dockerfile'))) {
    out.push(
      'This repository has a Dockerfile: Slipway builds with buildpacks and does not run Dockerfiles; the Procfile command must come from a buildpack',
    );
  }
  return out;
}
