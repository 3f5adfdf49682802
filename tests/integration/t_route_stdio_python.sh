#!/bin/bash
# Workers in other languages: work_fd = stdio with framing = line runs the shell
# filter examples/upper.sh (requests on stdin, replies on stdout); the Python
# example examples/echo_worker.py serves both length and line framing on fd 3.
. "$(dirname "$0")/lib.sh"
uses route

PY=$(python3 -c 'import sys; print(sys.executable)')
SH=$(command -v sh)
write_config <<EOF2
[pool:upper]
command = $SH $SRC/examples/upper.sh
workers = 2
listen = $T/upper.sock
framing = line
work_fd = stdio

[pool:pylen]
command = $PY $SRC/examples/echo_worker.py
workers = 2
listen = $T/pylen.sock

[pool:pyline]
command = $PY $SRC/examples/echo_worker.py
workers = 2
listen = $T/pyline.sock
framing = line
EOF2
start_daemon
for p in upper pylen pyline; do wait_for 15 "$p running" pool_running "$p" 2; done

# --- the shell filter on stdin/stdout ---
out=$(dv call upper "hello, world") || fail "call upper failed"
assert_eq "$out" "HELLO, WORLD" "upper.sh reply"
out=$(printf 'from stdin\n' | dv call upper) || fail "call upper from stdin failed"
assert_eq "$out" "FROM STDIN" "upper.sh reply to stdin"
wc_run "$T/wc_upper" -s "$T/upper.sock" -f line -e upper -c 2 -p 4 -n 300 -z 60 -d 30
# Its stdout is the work socket: nothing of the replies may reach the pool's log.
if [ -f "$T/log/upper.log" ]; then
    ! grep -q "HELLO" "$T/log/upper.log" || fail "upper.sh replies went to the log"
fi
assert_eq "$(pool_route upper failed)" 0 "upper: failed"

# --- Python, length framing ---
out=$(dv call pylen abc) || fail "call pylen failed"
assert_eq "$out" "py:abc" "echo_worker.py reply (length)"
printf 'bin\0ary\nstuff' >"$T/bin.req"
dv call pylen <"$T/bin.req" >"$T/bin.rep" || fail "call pylen with binary data failed"
assert_eq "$(od -An -c "$T/bin.rep" | tr -s ' \n' ' ')" \
    "$( (printf 'py:'; cat "$T/bin.req") | od -An -c | tr -s ' \n' ' ')" "binary reply from Python"
wc_run "$T/wc_pylen" -s "$T/pylen.sock" -e prefix:py: -c 4 -p 8 -n 3000 -z 100 -d 30

# --- Python, line framing ---
out=$(dv call pyline "a line") || fail "call pyline failed"
assert_eq "$out" "py:a line" "echo_worker.py reply (line)"
wc_run "$T/wc_pyline" -s "$T/pyline.sock" -f line -e prefix:py: -c 4 -p 8 -n 3000 -z 100 -d 30

for p in upper pylen pyline; do
    assert_eq "$(slot_sum "$p" restarts)" 0 "$p: restarts"
    [ "$(slot_sum "$p" requests)" -gt 0 ] || fail "$p: no requests counted"
done
