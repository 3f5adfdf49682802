# bash completion for drover(1)                                  -*- shell-script -*-
# Installed as share/bash-completion/completions/drover.
#
# Verbs and each verb's options come from `drover --help` (so they follow the
# binary); pool names and POOL:SLOT from the running droverd (`drover status
# --json`, read with grep, no JSON tool needed), else from the [pool:NAME]
# sections of the config file (DROVER_CONFIG, else /etc/drover/drover.ini and
# its conf.d/*.ini).

# The -s/--socket given on the command line so far, as arguments for drover.
_drover_socket_args()
{
    local i
    for ((i = 1; i < ${#w[@]} - 1; i++)); do
        case ${w[i]} in
        -s | --socket) [[ -n ${w[i + 1]-} ]] && printf '%s\n' -s "${w[i + 1]}" ;;
        --socket=*) printf '%s\n' -s "${w[i]#--socket=}" ;;
        -s?*) printf '%s\n' -s "${w[i]#-s}" ;;
        esac
    done
}

_drover_verbs()
{
    "${1:-drover}" --help 2>/dev/null | awk '/^verbs:/ {f = 1; next} /^$/ {f = 0} f {print $1}'
}

# The options in a verb's usage (the help line's first 42 columns).
_drover_verb_options()
{
    "$1" --help 2>/dev/null |
        awk -v v="$2" '/^verbs:/ {f = 1; next} /^$/ {f = 0} f && $1 == v {print substr($0, 3, 40)}' |
        grep -oE -- '(^|[[ |])--?[a-zA-Z][a-zA-Z-]*' | tr -d '[ |'
}

# Pool names, then POOL:SLOT for every slot (with slots=1).
_drover_targets()
{
    local drover=$1 slots=$2 out
    local -a sock
    mapfile -t sock < <(_drover_socket_args)
    out=$("$drover" "${sock[@]}" status --json 2>/dev/null |
        grep -oE '"name":"[^"]*"|"slot":[0-9]+' |
        awk -F: -v slots="$slots" '
            /^"name"/ { gsub(/"/, "", $2); pool = $2; print pool; next }
            slots && pool != "" { print pool ":" $2 }')
    if [[ -z $out ]]; then
        local conf=${DROVER_CONFIG:-/etc/drover/drover.ini}
        out=$(sed -n 's/^[[:space:]]*\[pool:\([^]]*\)\].*/\1/p' "$conf" "${conf%/*}"/conf.d/*.ini 2>/dev/null)
    fi
    printf '%s\n' "$out"
}

_drover()
{
    local -a w
    local cur prev drover verb="" i npos=0 words
    # Words split at blanks only (COMP_WORDS splits POOL:SLOT at the colon).
    if [[ -n ${COMP_LINE-} ]]; then
        local line=${COMP_LINE:0:COMP_POINT}
        read -ra w <<<"$line"
        [[ $line == *[[:space:]] ]] && w+=("")
    else
        w=("${COMP_WORDS[@]:0:COMP_CWORD+1}")
    fi
    local n=$((${#w[@]} - 1))
    cur=${w[n]} prev=${w[n - 1]} drover=${w[0]}

    # The verb: the first word that is no option (nor an option's value).
    for ((i = 1; i < n; i++)); do
        case ${w[i]} in
        -s | --socket) ((i++)) ;;
        -*) ;;
        *)
            if [[ -z $verb ]]; then
                verb=${COMP_WORDS[i]}
            else
                ((npos++))
            fi
            ;;
        esac
    done

    case $prev in
    -s | --socket | -c | --config)
        mapfile -t COMPREPLY < <(compgen -f -- "$cur")
        return
        ;;
    esac

    if [[ -z $verb ]]; then
        if [[ $cur == -* ]]; then
            words="-s --socket -h --help -V --version --json"
        else
            words=$(_drover_verbs "$drover")
        fi
        mapfile -t COMPREPLY < <(compgen -W "$words" -- "$cur")
        return
    fi

    if [[ $cur == -* ]]; then
        words=$(_drover_verb_options "$drover" "$verb")
        mapfile -t COMPREPLY < <(compgen -W "$words" -- "$cur")
        return
    fi

    case $verb in
    start | stop | restart) words="all $(_drover_targets "$drover" 1)" ;;
    signal)
        if ((npos == 0)); then
            words="all $(_drover_targets "$drover" 1)"
        else
            words="HUP INT QUIT USR1 USR2 TERM KILL CONT STOP WINCH"
        fi
        ;;
    status | logs) ((npos == 0)) && words=$(_drover_targets "$drover" 1) ;;
    scale | call | health | events | top) ((npos == 0)) && words=$(_drover_targets "$drover" 0) ;;
    esac
    [[ -n $words ]] || return
    mapfile -t COMPREPLY < <(compgen -W "$words" -- "$cur")
    # bash splits words at ':' (COMP_WORDBREAKS): answer only what follows the last one.
    if [[ $cur == *:* && $COMP_WORDBREAKS == *:* ]]; then
        local colon=${cur%"${cur##*:}"}
        for i in "${!COMPREPLY[@]}"; do COMPREPLY[i]=${COMPREPLY[i]#"$colon"}; done
    fi
}
complete -F _drover drover
