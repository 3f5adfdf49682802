#!/bin/bash
# Config errors: droverd refuses to start on a file with errors and lists
# every one as FILE:LINE: message (with "did you mean" for near-miss keys);
# `drover check -c` and `droverd --check -c` accept a good file (exit 0) and
# reject a bad one (exit 1) naming file and line; includes are globbed in
# sorted order, an error inside an included file names that file, and
# relative paths resolve against the directory of the file they are in.
. "$(dirname "$0")/lib.sh"

# Run from elsewhere, so a path resolved against the cwd would be wrong.
cd /

# ---- A main file with many errors -------------------------------------------
BAD="$T/bad.ini"
cat >"$BAD" <<EOF
[daemon]
control_socket = $SOCK
log_levle = info
workers = 2

[pool:a]
comand = $SPEW_WORKER
workers = lots
restart = sometimes
command = ./missing-worker

[pool:a]
command = $SPEW_WORKER

[pol:b]
command = $SPEW_WORKER
EOF
# expect LINE REGEX: one line of the error output is "$BAD:LINE: " followed by REGEX.
expect() {
    grep -qE -- "^$(printf '%s' "$BAD" | sed 's/[.[\*^$]/\\&/g'):$1: $2" <<<"$errs" ||
        fail "expected an error '$BAD:$1: $2'; got:"$'\n'"$errs"
}
check_bad_main() {
    expect 3 "unknown key 'log_levle' in \[daemon\] \(did you mean 'log_level'\?\)"
    expect 4 "key 'workers' belongs in a \[pool:NAME\] section"
    expect 7 "unknown key 'comand' in \[pool:a\] \(did you mean 'command'\?\)"
    expect 8 "workers: "
    expect 9 "restart: invalid value 'sometimes'"
    expect 10 "command: $T/missing-worker: No such file or directory"
    expect 12 "duplicate pool 'a' \(first defined at $BAD:6\)"
    expect 15 "unknown section \[pol:b\]"
}

errs=$("$DROVERD" -c "$BAD" 2>&1 >"$T/stdout")
rc=$?
assert_eq "$rc" 1 "droverd exit status on a bad config"
check_bad_main
assert_contains "$errs" "$BAD: 8 errors; not starting" "droverd's summary line"
assert_eq "$(cat "$T/stdout")" "" "droverd's stdout on a bad config"
[ -e "$SOCK" ] && fail "droverd created its control socket although the config is bad"

errs=$("$DROVER" check -c "$BAD" 2>&1)
assert_eq "$?" 1 "drover check exit status on a bad config"
check_bad_main
errs=$("$DROVERD" --check -c "$BAD" 2>&1)
assert_eq "$?" 1 "droverd --check exit status on a bad config"
check_bad_main
errs=$("$DROVERD" -t -c "$BAD" 2>&1)
assert_eq "$?" 1 "droverd -t exit status on a bad config"
check_bad_main

# A file that does not exist.
out=$("$DROVER" check -c "$T/nope.ini" 2>&1)
assert_eq "$?" 1 "drover check on a missing file"
assert_contains "$out" "$T/nope.ini" "drover check names the missing file"

# ---- A good main file with includes and relative paths ----------------------
mkdir -p "$T/conf.d/bin" "$T/conf.d/data" "$T/tools"
ln -s "$SPEW_WORKER" "$T/tools/w"
ln -s "$SPEW_WORKER" "$T/conf.d/bin/w"
GOOD="$T/good.ini"
cat >"$GOOD" <<'EOF'
[daemon]
control_socket = ctl.sock
log_dir = logs
include = conf.d/*.ini
shutdown_timeout = 10s

[pool:main]
command = tools/w --out main-ok
workers = 1
EOF
# Written out of order: the glob is read sorted, so 10-a comes before 20-b.
cat >"$T/conf.d/20-b.ini" <<'EOF'
; pool b: an explicit relative directory, relative to conf.d/
[pool:b]
command = bin/w --out b-ok
directory = data
workers = 1
EOF
cat >"$T/conf.d/10-a.ini" <<'EOF'
[pool:a]
command = ./bin/w --out a-ok
workers = 2
EOF
cat >"$T/conf.d/ignored.txt" <<'EOF'
this is not an ini file and does not match the glob
EOF

out=$("$DROVER" check -c "$GOOD" 2>&1) || fail "drover check rejected a good file: $out"
assert_eq "$out" "$GOOD: ok (3 pools, 4 workers)" "drover check on a good file"
out=$("$DROVERD" --check -c "$GOOD" 2>&1) || fail "droverd --check rejected a good file: $out"
assert_eq "$out" "$GOOD: ok (3 pools, 4 workers)" "droverd --check on a good file"
[ -e "$SOCK" ] && fail "a check created the control socket"

start_daemon "$GOOD"
for p in main a b; do
    wait_for 10 "pool $p running" pool_running "$p"
done
assert_eq "$(status_json "[p['name'] for p in s['pools']]")" "['main', 'a', 'b']" "pool order (main file, then includes sorted)"
assert_eq "$(readlink "/proc/$(slot_field main 0 pid)/cwd")" "$T" "cwd of a worker of the main file"
assert_eq "$(readlink "/proc/$(slot_field a 0 pid)/cwd")" "$T/conf.d" "cwd of a worker of an included file"
assert_eq "$(readlink "/proc/$(slot_field b 0 pid)/cwd")" "$T/conf.d/data" "cwd from a relative directory"
assert_eq "$(readlink -f "/proc/$(slot_field a 1 pid)/exe")" "$(readlink -f "$SPEW_WORKER")" "exe of a relative command"
wait_for 5 "main's output in the relative log_dir" file_has "$T/logs/main.log" 'main-ok'
wait_for 5 "a's output in the relative log_dir" file_has "$T/logs/a.log" 'a-ok'
wait_for 5 "b's output in the relative log_dir" file_has "$T/logs/b.log" 'b-ok'
dv shutdown >/dev/null || fail "shutdown failed"
wait_daemon_exit
assert_eq "$DAEMON_STATUS" 0 "droverd exit status after shutdown"

# ---- An error inside an included file names that file -----------------------
mkdir -p "$T/bad.d"
cat >"$T/bad.d/10-x.ini" <<'EOF'
[pool:x]
command = ./nope
stdout = logfile
workres = 1
EOF
cat >"$T/bad.d/20-y.ini" <<'EOF'
[daemon]
log_level = debug
EOF
MAIN2="$T/main2.ini"
cat >"$MAIN2" <<EOF
[daemon]
control_socket = $SOCK
include = bad.d/*.ini
EOF
for run in "$DROVER check -c" "$DROVERD -c" "$DROVERD --check -c"; do
    errs=$($run "$MAIN2" 2>&1)
    assert_eq "$?" 1 "exit status of '$run' with a bad include"
    for want in \
        "$T/bad.d/10-x.ini:2: command: $T/bad.d/nope: No such file or directory" \
        "$T/bad.d/10-x.ini:3: stdout: invalid value 'logfile'" \
        "$T/bad.d/10-x.ini:4: unknown key 'workres' in [pool:x] (did you mean 'workers'?)" \
        "$T/bad.d/20-y.ini:1: [daemon] is only allowed in the main file"; do
        assert_contains "$errs" "$want" "'$run' with a bad include"
    done
    case "$errs" in *"$MAIN2:"[0-9]*) fail "'$run' blamed the main file for errors in includes: $errs" ;; esac
done
[ -e "$SOCK" ] && fail "droverd created its control socket although an include is bad"
exit 0
