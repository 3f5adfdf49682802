#!/bin/bash
# Shell completion (completions/drover.bash, completions/_drover): after
# sourcing, bash's `complete -p drover` names the function; a scripted
# request (COMP_LINE, COMP_WORDS, COMP_CWORD, then the function) answers the
# verbs of `drover --help`, a verb's options, the running droverd's pools and
# POOL:SLOT (after the colon, as bash splits words there), and the config
# file's pools when no droverd answers; zsh's function answers the same.
. "$(dirname "$0")/lib.sh"

COMPLETIONS="$SRC/completions"
write_config <<EOF
[pool:web]
command = /bin/sleep 1000
workers = 2

[pool:jobs]
command = /bin/sleep 1000
workers = 1
EOF
start_daemon
wait_for 10 "web running" pool_running web 2
wait_for 10 "jobs running" pool_running jobs 1

# complete LINE: what the bash completion answers for LINE (the cursor at its end).
complete_bash() {
    PATH="$(dirname "$DROVER"):$PATH" DROVER_CONFIG="${2:-/nonexistent}" bash -c '
        . "$1"
        COMP_LINE=$2
        COMP_POINT=${#COMP_LINE}
        read -ra COMP_WORDS <<<"$COMP_LINE"
        [[ $COMP_LINE == *" " ]] && COMP_WORDS+=("")
        COMP_CWORD=$((${#COMP_WORDS[@]} - 1))
        _drover
        echo "${COMPREPLY[*]}"' _ "$COMPLETIONS/drover.bash" "$1"
}

assert_eq "$(bash -c '. "$1"; complete -p drover' _ "$COMPLETIONS/drover.bash")" \
    "complete -F _drover drover" "complete -p drover"
verbs=$("$DROVER" --help | awk '/^verbs:/ {f = 1; next} /^$/ {f = 0} f {print $1}' | tr '\n' ' ')
assert_eq "$(complete_bash "drover ")" "${verbs% }" "verbs"
assert_eq "$(complete_bash "drover st")" "status start stop" "verbs starting with st"
assert_eq "$(complete_bash "drover ev")" "events" "events"
assert_eq "$(complete_bash "drover -s $SOCK stop ")" "all web web:0 web:1 jobs jobs:0" "stop targets"
assert_eq "$(complete_bash "drover -s $SOCK restart w")" "web web:0 web:1" "restart w"
assert_eq "$(complete_bash "drover -s $SOCK restart web:")" "0 1" "restart web: (after the colon)"
assert_eq "$(complete_bash "drover -s $SOCK top ")" "web jobs" "top pools"
assert_eq "$(complete_bash "drover -s $SOCK events --")" "--json" "events --"
assert_eq "$(complete_bash "drover -s $SOCK reload --")" "--json --no-wait" "reload options"
assert_eq "$(complete_bash "drover --socket=$SOCK logs j")" "jobs jobs:0" "--socket= then logs"
# No droverd at the socket: the config file's pools.
assert_eq "$(complete_bash "drover -s $T/nobody.sock stop " "$CONF")" "all web jobs" "pools from the config file"

# zsh: the function loads, and answers with compadd (stubbed here: a completion
# widget needs a terminal) for verbs, options and targets.
complete_zsh() {
    PATH="$(dirname "$DROVER"):$PATH" zsh -f -c '
        fpath=($1 $fpath)
        autoload -Uz +X _drover || exit 1
        compadd() { [[ $1 == -- ]] && shift; print -r -- "$@"; }
        words=(${(z)2}); [[ $2 == *" " ]] && words+=("")
        CURRENT=$#words; PREFIX=$words[CURRENT]
        _drover' _ "$COMPLETIONS" "$1"
}
if command -v zsh >/dev/null; then
    assert_eq "$(complete_zsh "drover ")" "${verbs% }" "zsh: verbs"
    assert_eq "$(complete_zsh "drover -s $SOCK stop ")" "all web web:0 web:1 jobs jobs:0" "zsh: stop targets"
    assert_eq "$(complete_zsh "drover -s $SOCK events --")" "-f --json" "zsh: events options"
else
    log "zsh not installed: its completion is not tested here"
fi
finish_checks
