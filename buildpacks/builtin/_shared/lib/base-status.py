# Prints the dpkg status entries of the packages every Debian root has: priority "required" and
# essential packages plus everything they depend on. apt resolves Aptfile packages against this
# set instead of the build image, so libraries only the build image has are downloaded too.
import re
import sys

entries = {}
for block in open(sys.argv[1], encoding='utf-8').read().split('\n\n'):
    m = re.search(r'^Package: (\S+)', block, re.M)
    if m and re.search(r'^Status: install ok installed', block, re.M):
        entries[m.group(1)] = block.strip('\n')

def field(block, name):
    m = re.search(r'^%s: (.*)$' % name, block, re.M)
    return m.group(1) if m else ''

todo = [p for p, b in entries.items()
        if field(b, 'Priority') == 'required' or field(b, 'Essential') == 'yes']
keep = set()
while todo:
    p = todo.pop()
    if p in keep or p not in entries:
        continue
    keep.add(p)
    for dep in re.split(r'[,|]', field(entries[p], 'Pre-Depends') + ',' + field(entries[p], 'Depends')):
        name = dep.strip().split(' ')[0].split(':')[0]
        if name:
            todo.append(name)

sys.stdout.write('\n\n'.join(entries[p] for p in sorted(keep)) + '\n\n')
