#!/bin/sh
# A test's wait_for polls its command, but the shell expands the command's
# arguments once, when wait_for is called: `wait_for 10 "x" test "$(count)" -ge 1`
# reads count once and can never succeed if it was short then (a CI failure of
# t_svc_ready_reload). A condition that reads state must be a function or an
# `sh -c '...'` string. This finds a command substitution in the command part
# of a wait_for call (the description may hold one; `$((...))` is arithmetic,
# `\$(` is expanded by the `sh -c` it is passed to).
set -eu
cd "${SRC:?set SRC to the source tree}"
exec python3 - tests/integration/*.sh tests/integration/lib/*.sh tests/system/*.sh <<'PY'
import shlex, sys

bad = 0
for path in sys.argv[1:]:
    for no, line in enumerate(open(path, encoding="utf-8"), 1):
        code = line.strip()
        if not code.startswith("wait_for ") or code.endswith("\\"):
            continue
        try:
            lex = shlex.shlex(code, posix=False, punctuation_chars=";&|")
            lex.whitespace_split = True
            words = list(lex)
        except ValueError:
            continue
        cmd = []
        for w in words[3:]:
            if w in (";", "&&", "||", "|", "&"):
                break
            cmd.append(w)
        # Double-quoted or bare words are expanded by the caller; single-quoted ones are not.
        if any("$(" in w.replace("\\$(", "").replace("$((", "") for w in cmd if not w.startswith("'")):
            print(f"{path}:{no}: wait_for's command expands $(...) once: {code}", file=sys.stderr)
            bad = 1
sys.exit(bad)
PY
