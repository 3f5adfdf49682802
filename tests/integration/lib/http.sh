#!/bin/bash
# SPDX-License-Identifier: ISC
# HTTP helpers (`uses http`) for droverd's metrics_listen endpoint on 127.0.0.1, with curl when
# it is installed, else Python's http.client. Nothing leaves 127.0.0.1.

# free_port: a TCP port on 127.0.0.1 nobody listens on now.
free_port() {
    python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'
}

# http_get PORT PATH OUT: GET the path; the body goes to OUT, the status code to stdout
# ("000" when the connection failed). Bounded by a 5 s timeout.
http_get() {
    if command -v curl >/dev/null 2>&1; then
        curl -s -m 5 -o "$3" -w '%{http_code}' "http://127.0.0.1:$1$2" || true
        return 0
    fi
    python3 - "$1" "$2" "$3" <<'PY'
import http.client, sys
try:
    c = http.client.HTTPConnection("127.0.0.1", int(sys.argv[1]), timeout=5)
    c.request("GET", sys.argv[2])
    r = c.getresponse()
    open(sys.argv[3], "wb").write(r.read())
    print(r.status, end="")
except OSError:
    print("000", end="")
PY
}

# http_code_is PORT PATH CODE: the path answers CODE (for wait_for).
http_code_is() { [ "$(http_get "$1" "$2" "$T/http.body")" = "$3" ]; }

# json_field FILE EXPR: a Python expression over the JSON document j in FILE.
json_field() { python3 -c 'import json,sys; j=json.load(open(sys.argv[1])); print(eval(sys.argv[2]))' "$1" "$2"; }
