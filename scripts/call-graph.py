#!/usr/bin/env python3
# Usage: scripts/call-graph.py [SRC [OBJDIR [MODULE...]]]  (defaults: . build/daemon)
# Call graph among daemon/ modules from the object files (nm: each file's defined
# and undefined functions) and include graph from daemon/*.[ch]; prints every
# cycle (a strongly connected set of 2 modules or more) and, per MODULE, what it
# calls and includes and who calls it. Function calls only (KINDS=T, the default);
# KINDS=TDBR counts data references too (cmd.c's verb table then ties cmd-*.c).
"""Call and include graph among daemon/ modules; prints every cycle (SCC > 1)."""
import glob, os, re, subprocess, sys
root = sys.argv[1] if len(sys.argv) > 1 else '.'
objdir = sys.argv[2] if len(sys.argv) > 2 else 'build/daemon'
defs, uses = {}, {}
for o in glob.glob(objdir + '/**/*.o', recursive=True):
    mod = os.path.basename(o)[:-4]  # x.c.o -> x
    out = subprocess.run(['nm', o], capture_output=True, text=True).stdout
    d = set(); u = set()
    for line in out.splitlines():
        parts = line.split()
        if len(parts) == 3 and parts[1] in (os.environ.get('KINDS') or 'T'): d.add(parts[2])
        elif len(parts) == 2 and parts[0] == 'U': u.add(parts[1])
    defs[mod] = d; uses[mod] = u
owner = {s: m for m, d in defs.items() for s in d}
calls = {m: sorted({owner[s] for s in u if s in owner and owner[s] != m}) for m, u in uses.items()}
inc = {}
for c in glob.glob(root + '/daemon/*.c') + glob.glob(root + '/daemon/*.h'):
    m = os.path.basename(c).rsplit('.', 1)[0]
    for h in re.findall(r'#include "([^"]+)\.h"', open(c).read()):
        if os.path.exists(f'{root}/daemon/{h}.h') and h != m:
            inc.setdefault(m, set()).add(h)
def sccs(g):
    idx, low, st, on, res, n = {}, {}, [], set(), [], [0]
    sys.setrecursionlimit(10000)
    def v(x):
        idx[x] = low[x] = n[0]; n[0] += 1; st.append(x); on.add(x)
        for y in g.get(x, ()):
            if y not in idx: v(y); low[x] = min(low[x], low[y])
            elif y in on: low[x] = min(low[x], idx[y])
        if low[x] == idx[x]:
            c = []
            while True:
                y = st.pop(); on.discard(y); c.append(y)
                if y == x: break
            if len(c) > 1: res.append(sorted(c))
    for x in list(g): 
        if x not in idx: v(x)
    return res
allg = {m: set(calls.get(m, ())) | inc.get(m, set()) for m in set(calls) | set(inc)}
print('call cycles:', sccs({m: set(v) for m, v in calls.items()}))
print('include cycles:', sccs(inc))
print('call+include cycles (module = x.c + x.h):', sccs(allg))
for m in sys.argv[3:]:
    print(f'{m} calls:', ', '.join(calls.get(m, [])))
    print(f'{m} includes:', ', '.join(sorted(inc.get(m, []))))
    print(f'{m} called by:', ', '.join(sorted(k for k, v in calls.items() if m in v)))
