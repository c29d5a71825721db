# The Python buildpack's helper, run with the build image's own python3 (3.11+: tomllib):
# reads pyproject.toml, evaluates requires-python, and turns lock files into pinned requirements
# with hashes so pip installs exactly what was locked (no pipenv, poetry or uv at build time).
#
#   pytool.py requires-python PYPROJECT        prints project.requires-python (or nothing)
#   pytool.py satisfies SPEC VERSION           exit 0 when VERSION satisfies the specifier
#   pytool.py pyproject-deps PYPROJECT         project.dependencies, one per line (exit 3: no [project])
#   pytool.py pipfile-lock PIPFILE_LOCK        requirements from Pipfile.lock's "default" section
#   pytool.py poetry-lock POETRY_LOCK PYPROJECT  requirements of the main group
#   pytool.py uv-lock UV_LOCK                  requirements of the root project (no dev groups)
#
# Errors go to stderr with exit 2; the caller turns them into a build failure with a hint.
import json
import re
import sys
import tomllib


def die(msg):
    print(msg, file=sys.stderr)
    sys.exit(2)


def norm(name):
    return re.sub(r'[-_.]+', '-', name).lower()


def load_toml(path):
    try:
        with open(path, 'rb') as f:
            return tomllib.load(f)
    except (OSError, tomllib.TOMLDecodeError) as e:
        die(f'{path} is not valid TOML: {e}')


# ---- PEP 440 specifiers, the subset requires-python uses (==, !=, >=, <=, >, <, ~=, .* wildcards)
def vtuple(v):
    parts = re.match(r'^\s*v?(\d+(?:\.\d+)*)', v)
    if not parts:
        die(f'"{v}" is not a version')
    return tuple(int(p) for p in parts.group(1).split('.'))


def pad(t, n):
    return t + (0,) * (n - len(t))


def satisfies(spec, version):
    v = vtuple(version)
    for clause in filter(None, (c.strip() for c in spec.split(','))):
        m = re.match(r'^(~=|===|==|!=|>=|<=|>|<)\s*(\S+)$', clause)
        if not m:
            die(f'"{clause}" is not a version specifier')
        op, target = m.groups()
        if target.endswith('.*'):
            t = vtuple(target[:-2])
            match = v[:len(t)] == t
            if (op == '==' and not match) or (op == '!=' and match):
                return False
            continue
        t = vtuple(target)
        n = max(len(t), len(v))
        a, b = pad(v, n), pad(t, n)
        ok = {
            '==': a == b, '===': a == b, '!=': a != b, '>=': a >= b, '<=': a <= b, '>': a > b, '<': a < b,
            # ~=X.Y.Z means >=X.Y.Z and ==X.Y.*
            '~=': a >= b and v[:len(t) - 1] == t[:len(t) - 1],
        }[op]
        if not ok:
            return False
    return True


# ---- lock files
def req_line(name, version, hashes, marker=None, extras=None):
    line = f'{name}{"[" + ",".join(sorted(extras)) + "]" if extras else ""}=={version}'
    if marker:
        line += f' ; {marker}'
    for h in sorted(set(hashes)):
        line += f' \\\n    --hash={h}'
    return line


def emit(lines, unhashed):
    # pip's hash-checking mode is all or nothing: one entry without hashes turns it off for all.
    if unhashed:
        print(f'# note: {", ".join(unhashed)} has no hashes in the lock file; installing without hash checks', file=sys.stderr)
        lines = [l.split(' \\\n')[0] for l in lines]
    print('\n'.join(lines))


def pipfile_lock(path):
    try:
        with open(path, encoding='utf-8') as f:
            doc = json.load(f)
    except (OSError, ValueError) as e:
        die(f'{path} is not valid JSON: {e}')
    lines, unhashed = [], []
    for name, info in sorted((doc.get('default') or {}).items()):
        if not isinstance(info, dict):
            continue
        if info.get('path') or info.get('file') or info.get('git') or info.get('editable'):
            target = info.get('path') or info.get('file') or f'git+{info["git"]}@{info.get("ref", "HEAD")}#egg={name}'
            lines.append(('-e ' if info.get('editable') else '') + str(target))
            unhashed.append(name)
            continue
        version = str(info.get('version', '')).lstrip('=')
        if not version:
            die(f'{path}: "{name}" has no version')
        hashes = info.get('hashes') or []
        if not hashes:
            unhashed.append(name)
        lines.append(req_line(name, version, hashes, info.get('markers'), info.get('extras')))
    emit(lines, unhashed)


def poetry_lock(path, pyproject):
    doc = load_toml(path)
    packages = doc.get('package') or []
    by_name = {norm(p['name']): p for p in packages}

    def main_group(p):
        if 'groups' in p:  # poetry 2.x
            return 'main' in p['groups']
        if 'category' in p:  # poetry 1.x before 1.5
            return p['category'] == 'main'
        return None

    if all(main_group(p) is not None for p in packages):
        chosen = [p for p in packages if main_group(p)]
    else:
        # poetry 1.5+ locks do not say which group a package is in: walk from pyproject's main
        # dependencies through each package's own dependencies.
        proj = load_toml(pyproject) if pyproject else {}
        roots = list(((proj.get('tool') or {}).get('poetry') or {}).get('dependencies') or {})
        roots += [re.split(r'[\s\[<>=!~;(]', d, 1)[0] for d in (proj.get('project') or {}).get('dependencies') or []]
        seen, todo = set(), [norm(r) for r in roots if norm(r) != 'python']
        while todo:
            n = todo.pop()
            if n in seen or n not in by_name:
                continue
            seen.add(n)
            todo += [norm(d) for d in (by_name[n].get('dependencies') or {})]
        chosen = [by_name[n] for n in sorted(seen)]
    lines, unhashed = [], []
    for p in sorted(chosen, key=lambda p: norm(p['name'])):
        src = p.get('source') or {}
        if src.get('type') in ('directory', 'file', 'git', 'url'):
            url = src.get('url', '')
            lines.append(f'git+{url}@{src.get("resolved_reference", src.get("reference", "HEAD"))}' if src['type'] == 'git' else url)
            unhashed.append(p['name'])
            continue
        hashes = [f['hash'] for f in p.get('files') or [] if 'hash' in f]
        if not hashes:
            unhashed.append(p['name'])
        marker = p.get('markers')
        if isinstance(marker, dict):
            marker = marker.get('main')
        lines.append(req_line(p['name'], p['version'], hashes, marker if isinstance(marker, str) else None))
    emit(lines, unhashed)


def uv_lock(path):
    doc = load_toml(path)
    packages = doc.get('package') or []
    by_name = {norm(p['name']): p for p in packages}
    roots = [p for p in packages if {'editable', 'virtual'} & set((p.get('source') or {}).keys())
             and (p.get('source') or {}).get('editable', (p.get('source') or {}).get('virtual')) == '.']
    if not roots:
        die(f'{path} has no package for the project itself (source editable or virtual ".")')
    root = roots[0]
    # name -> markers of the edges that reach it (None: reached unconditionally)
    reached, todo = {}, [(d, None) for d in root.get('dependencies') or []]
    while todo:
        dep, parent_marker = todo.pop()
        n = norm(dep['name'])
        marker = dep.get('marker')
        if parent_marker and marker:
            marker = f'({parent_marker}) and ({marker})'
        else:
            marker = marker or parent_marker
        known = reached.get(n, 'unseen')
        if known is None or (known != 'unseen' and marker is not None and marker in known):
            continue
        reached[n] = None if marker is None else (([] if known == 'unseen' else known) + [marker])
        pkg = by_name.get(n)
        if pkg is None:
            die(f'{path}: "{dep["name"]}" is required but not locked')
        todo += [(d, marker) for d in pkg.get('dependencies') or []]
        for extra in dep.get('extra') or []:
            todo += [(d, marker) for d in (pkg.get('optional-dependencies') or {}).get(extra, [])]
    lines, unhashed = [], []
    for n in sorted(reached):
        p = by_name[n]
        src = p.get('source') or {}
        markers = reached[n]
        marker = None if markers is None else ' or '.join(f'({m})' for m in markers) if len(markers) > 1 else markers[0]
        if 'registry' not in src:
            target = src.get('path') or src.get('directory') or src.get('editable') or src.get('url') or src.get('git')
            lines.append(('git+' if 'git' in src else '') + str(target) + (f' ; {marker}' if marker else ''))
            unhashed.append(p['name'])
            continue
        hashes = [w['hash'] for w in p.get('wheels') or [] if 'hash' in w]
        if (p.get('sdist') or {}).get('hash'):
            hashes.append(p['sdist']['hash'])
        if not hashes:
            unhashed.append(p['name'])
        lines.append(req_line(p['name'], p['version'], hashes, marker))
    emit(lines, unhashed)


def main(argv):
    if len(argv) < 2:
        die(__doc__ or 'usage: pytool.py COMMAND ...')
    cmd, args = argv[1], argv[2:]
    if cmd == 'requires-python':
        print(((load_toml(args[0]).get('project') or {}).get('requires-python') or '').strip())
    elif cmd == 'satisfies':
        sys.exit(0 if satisfies(args[0], args[1]) else 1)
    elif cmd == 'pyproject-deps':
        project = load_toml(args[0]).get('project')
        if not isinstance(project, dict):
            sys.exit(3)
        for d in project.get('dependencies') or []:
            print(d)
    elif cmd == 'pipfile-lock':
        pipfile_lock(args[0])
    elif cmd == 'poetry-lock':
        poetry_lock(args[0], args[1] if len(args) > 1 else None)
    elif cmd == 'uv-lock':
        uv_lock(args[0])
    else:
        die(f'unknown command {cmd}')


if __name__ == '__main__':
    main(sys.argv)
