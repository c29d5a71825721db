/**
 * The two ignore-file dialects a build context meets, as one small matcher each, so nothing is
 * sent to a build that the user said to leave out.
 *
 * `.dockerignore` (Docker's rules): patterns are relative to the context root (a leading `/` is
 * dropped), `*` and `?` stay inside one path segment, `**` spans any number of segments, a
 * pattern that matches a directory excludes everything under it, `!` re-includes, and the last
 * matching line wins. `.gitignore` differs in that a pattern without a slash (other than a
 * trailing one) matches at any depth, and a trailing `/` matches directories only.
 */
export type IgnoreMatcher = (relPath: string, isDir: boolean) => boolean;

interface Rule {
  re: RegExp;
  negate: boolean;
  dirOnly: boolean;
}

function globToRegex(glob: string): string {
  let out = '';
  for (let i = 0; i < glob.length; i++) {
    const c = glob[i];
    if (c === '*') {
      if (glob[i + 1] === '*') {
        // `**/` matches zero or more directories; a trailing `**` anything below.
        if (glob[i + 2] === '/') {
          out += '(?:.*/)?';
          i += 2;
        } else {
          out += '.*';
          i += 1;
        }
      } else out += '[^/]*';
    } else if (c === '?') out += '[^/]';
    else if (c === '[') {
      const end = glob.indexOf(']', i + 1);
      if (end < 0) out += '\\[';
      else {
        out +=
          '[' +
          glob
            .slice(i + 1, end)
            .replace(/^!/, '^')
            .replace(/\\/g, '\\\\') +
          ']';
        i = end;
      }
    } else if (c === '\\' && i + 1 < glob.length) out += '\\' + glob[++i];
    else out += c.replace(/[.+^${}()|\\]/g, '\\$&');
  }
  return out;
}

function clean(p: string): string {
  const parts: string[] = [];
  for (const seg of p.split('/')) {
    if (seg === '' || seg === '.') continue;
    if (seg === '..') parts.pop();
    else parts.push(seg);
  }
  return parts.join('/');
}

function parse(text: string, dialect: 'docker' | 'git'): Rule[] {
  const rules: Rule[] = [];
  for (let line of text.split(/\r?\n/)) {
    if (dialect === 'git') line = line.replace(/(?<!\\)\s+$/, '');
    else line = line.trim();
    if (!line || line.startsWith('#')) continue;
    let negate = false;
    if (line.startsWith('!')) {
      negate = true;
      line = line.slice(1);
    }
    const dirOnly = dialect === 'git' && line.endsWith('/');
    const anchored = dialect === 'docker' || line.replace(/\/$/, '').includes('/');
    const pat = clean(line);
    if (!pat) continue;
    const body = globToRegex(pat);
    // Docker: a match of a parent directory excludes what is under it (the `(/.*)?` tail).
    rules.push({
      re: new RegExp(`^${anchored ? '' : '(?:.*/)?'}${body}${dialect === 'docker' ? '(?:/.*)?' : ''}$`),
      negate,
      dirOnly,
    });
  }
  return rules;
}

export function dockerignore(text: string): IgnoreMatcher {
  const rules = parse(text, 'docker');
  return (relPath) => {
    const p = clean(relPath);
    let ignored = false;
    for (const r of rules) if (r.re.test(p)) ignored = !r.negate;
    return ignored;
  };
}

/**
 * One .gitignore's rules, relative to its directory: true (ignored), false (re-included by `!`)
 * or undefined (no rule matches; a parent directory's .gitignore decides).
 */
export function gitignore(text: string): (relPath: string, isDir: boolean) => boolean | undefined {
  const rules = parse(text, 'git');
  return (relPath, isDir) => {
    const p = clean(relPath);
    let ignored: boolean | undefined;
    for (const r of rules) if ((!r.dirOnly || isDir) && r.re.test(p)) ignored = !r.negate;
    return ignored;
  };
}
