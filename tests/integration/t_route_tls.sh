#!/bin/bash
# TLS on a tcp: work listener (issue 15 item 9): with tls_cert/tls_key and
# tls_client_ca, `drover call` with a client certificate the CA signed gets
# its reply; without one, or with one another CA signed, the handshake is
# refused; plaintext sent to the TLS port and a client that connects and sends
# nothing are closed (the second at tls_handshake_timeout), counted in status
# and metrics, and neither delays the other clients. At load: a non-loopback
# tcp: listen without TLS is refused unless insecure_tcp = yes (then a warning
# at start); TLS keys on a Unix socket, a key that does not match its
# certificate and a missing file are FILE:LINE errors.
. "$(dirname "$0")/lib.sh"
uses route

# ---- a throwaway CA, a server and client certificate, and a rogue CA's client ----
mkcert() { # NAME CA SAN
    openssl req -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -keyout "$T/$1.key" \
        -out "$T/$1.csr" -subj "/CN=$1" 2>/dev/null || fail "openssl req $1"
    openssl x509 -req -in "$T/$1.csr" -CA "$T/$2.pem" -CAkey "$T/$2.key" -CAcreateserial \
        -out "$T/$1.pem" -days 2 -extfile <(printf 'subjectAltName=%s\n' "$3") 2>/dev/null ||
        fail "openssl x509 $1"
}
for ca in ca rogue; do
    openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -keyout "$T/$ca.key" \
        -out "$T/$ca.pem" -subj "/CN=$ca" -days 2 2>/dev/null || fail "openssl CA $ca"
done
mkcert server ca "IP:127.0.0.1,DNS:localhost"
mkcert client ca "DNS:client"
mkcert intruder rogue "DNS:intruder"

PORT=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
HS=$((4 * SLOWDOWN))
write_config <<EOF2
[pool:sec]
command = $ECHO_WORKER
workers = 2
listen = tcp:127.0.0.1:$PORT
tls_cert = $T/server.pem
tls_key = $T/server.key
tls_client_ca = $T/ca.pem
tls_handshake_timeout = ${HS}s

[pool:plain]
command = $ECHO_WORKER
workers = 1
listen = $T/plain.sock
EOF2
start_daemon
for p in sec plain; do wait_for 10 "pool $p running" pool_running "$p"; done
tls_is() { [ "$(pool_json sec "p['route']['tls']['$1']")" = "$2" ]; }
TLSOK=(--tls-ca "$T/ca.pem" --tls-cert "$T/client.pem" --tls-key "$T/client.key")

# --- a client with a certificate the CA signed ---
out=$(dv call sec hello "${TLSOK[@]}") || fail "TLS call with a client certificate failed"
assert_eq "$out" "hello" "TLS call reply"
head -c 300000 /dev/urandom >"$T/big.req"
dv call sec "${TLSOK[@]}" <"$T/big.req" >"$T/big.rep" || fail "TLS call with a 300 KB body failed"
cmp -s "$T/big.req" "$T/big.rep" || fail "300 KB request not echoed byte for byte over TLS"
assert_eq "$(pool_route sec tls)" "{'handshakes': 2, 'handshake_failures': 0, 'handshake_timeouts': 0, 'handshaking': 0}" "tls counters"
assert_eq "$(pool_route plain tls)" "None" "a plain pool's tls"

# --- no client certificate, or one another CA signed: refused, counted ---
expect_exit 1 "call without a client certificate" dv call sec nocert --tls-ca "$T/ca.pem"
expect_exit 1 "call with a rogue CA's certificate" dv call sec rogue --tls-ca "$T/ca.pem" --tls-cert "$T/intruder.pem" --tls-key "$T/intruder.key"
wait_for 5 "two handshake failures" pool_route_is sec tls "{'handshakes': 2, 'handshake_failures': 2, 'handshake_timeouts': 0, 'handshaking': 0}"
# The client checks the server too: a CA that did not sign it is refused (droverd counts the abort).
expect_exit 1 "call not trusting the server" dv call sec wrongca --tls-ca "$T/rogue.pem" --tls-cert "$T/client.pem" --tls-key "$T/client.key"
wait_for 5 "the aborted handshake counted" tls_is handshake_failures 3

# --- plaintext to the TLS port: that connection closes; others are served ---
python3 - "$PORT" <<'EOF2' || fail "plaintext client was not closed"
import socket, struct, sys
s = socket.create_connection(("127.0.0.1", int(sys.argv[1])), timeout=10)
s.sendall(struct.pack(">I", 5) + b"hello")
try:
    while s.recv(4096):
        pass   # whatever alert comes back, the connection must end
except ConnectionResetError:
    pass
EOF2
wait_for 5 "plaintext counted as a handshake failure" tls_is handshake_failures 4
out=$(dv call plain still) || fail "plain pool call after plaintext failed"
assert_eq "$out" "still" "plain pool reply"

# --- slow handshakes: connect and send nothing; closed at the deadline, nobody waits on them ---
python3 - "$PORT" "$HS" >"$T/slow.out" 2>&1 <<'EOF2' &
import socket, sys, time
port, hs = int(sys.argv[1]), float(sys.argv[2])
t0 = time.monotonic()
socks = [socket.create_connection(("127.0.0.1", port), timeout=hs * 4 + 10) for _ in range(5)]
print("connected", flush=True)
for s in socks:
    try:
        data = s.recv(1)
    except ConnectionResetError:
        data = b""
    assert data == b"", data
print("closed after %.2f s" % (time.monotonic() - t0), flush=True)
EOF2
SLOW_PID=$!
track_pid $SLOW_PID
deadline=$(($(now_ms) + 10000))
until tls_is handshaking 5; do
    [ "$(now_ms)" -lt "$deadline" ] ||
        fail "five handshakes not pending: tls $(pool_route sec tls); slow client: $(cat "$T/slow.out")"
    sleep 0.02
done
t0=$(now_ms)
out=$(dv call sec during "${TLSOK[@]}") || fail "TLS call during slow handshakes failed"
assert_eq "$out" "during" "TLS reply while five handshakes hang"
out=$(dv call plain during) || fail "plain call during slow handshakes failed"
t1=$(now_ms)
# Served while all five still hang (none reached its deadline yet): nothing waited on them.
assert_eq "$(pool_json sec "(p['route']['tls']['handshaking'], p['route']['tls']['handshake_timeouts'])")" "(5, 0)" \
    "slow handshakes pending after the calls ($((t1 - t0)) ms)"
wait "$SLOW_PID" || fail "slow handshakes were not closed: $(cat "$T/slow.out")"
untrack_gone
file_has "$T/slow.out" "closed after" || fail "slow client: $(cat "$T/slow.out")"
wait_for 5 "five handshake timeouts" tls_is handshake_timeouts 5
assert_eq "$(pool_route sec tls)" "{'handshakes': 3, 'handshake_failures': 4, 'handshake_timeouts': 5, 'handshaking': 0}" "tls counters at the end"
dv metrics | grep -q '^drover_pool_tls_handshake_timeouts_total{pool="sec"} 5$' ||
    fail "metrics lack the handshake timeouts: $(dv metrics | grep tls_)"
dv metrics | grep -q '^drover_pool_tls_handshake_failures_total{pool="sec"} 4$' ||
    fail "metrics lack the handshake failures"

# --- reload re-reads the files: a renewed certificate is served ---
cp "$T/server.pem" "$T/server.old.pem"
mkcert server ca "IP:127.0.0.1,DNS:renewed"
dv reload >/dev/null || fail "reload failed"
dv call sec renewed "${TLSOK[@]}" --tls-name renewed >/dev/null ||
    fail "the renewed certificate (DNS:renewed) is not served after reload"

# --- load-time rules, through drover check ---
check_conf() { # NAME: write $T/NAME.ini from stdin, run drover check on it
    { printf '[daemon]\ncontrol_socket = %s/%s.sock\n' "$T" "$1"; cat; } >"$T/$1.ini"
    "$DROVER" check -c "$T/$1.ini" >"$T/$1.out" 2>&1
}
check_conf open <<EOF2 && fail "a non-loopback tcp: listen without TLS passed check"
[pool:open]
command = $ECHO_WORKER
listen = tcp:0.0.0.0:$PORT
EOF2
file_has "$T/open.out" "open.ini:5: .*listen = tcp:0.0.0.0:$PORT is reachable from other hosts" ||
    fail "no FILE:LINE reason for the open listener: $(cat "$T/open.out")"
check_conf lo <<EOF2 || fail "a loopback tcp: listen without TLS was refused: $(cat "$T/lo.out")"
[pool:lo]
command = $ECHO_WORKER
listen = tcp:[::1]:$PORT
EOF2
check_conf unixtls <<EOF2 && fail "tls_cert on a Unix socket passed check"
[pool:u]
command = $ECHO_WORKER
listen = $T/u.sock
tls_cert = $T/server.pem
tls_key = $T/server.key
EOF2
file_has "$T/unixtls.out" "unixtls.ini:6: tls_cert applies only to a tcp: listen" ||
    fail "no FILE:LINE reason for TLS on a Unix socket: $(cat "$T/unixtls.out")"
check_conf mismatch <<EOF2 && fail "a key not matching its certificate passed check"
[pool:m]
command = $ECHO_WORKER
listen = tcp:0.0.0.0:$PORT
tls_cert = $T/server.pem
tls_key = $T/client.key
EOF2
file_has "$T/mismatch.out" "mismatch.ini:7: tls_key: .*does not match the certificate" ||
    fail "no FILE:LINE reason for a mismatched key: $(cat "$T/mismatch.out")"
check_conf missing <<EOF2 && fail "a missing client CA passed check"
[pool:m]
command = $ECHO_WORKER
listen = tcp:0.0.0.0:$PORT
tls_cert = $T/server.pem
tls_key = $T/server.key
tls_client_ca = $T/nope.pem
EOF2
file_has "$T/missing.out" "missing.ini:8: tls_client_ca: .*nope.pem: No such file" ||
    fail "no FILE:LINE reason for a missing CA file: $(cat "$T/missing.out")"

# --- the opt-in: accepted, and droverd warns at start ---
PORT2=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
cat >>"$CONF" <<EOF2

[pool:open]
command = $ECHO_WORKER
workers = 1
listen = tcp:0.0.0.0:$PORT2
insecure_tcp = yes
EOF2
dv reload >/dev/null || fail "reload with insecure_tcp = yes failed"
wait_for 10 "pool open running" pool_running open
file_has "$T/droverd.log" "pool open: listen = tcp:0.0.0.0:$PORT2 without TLS \(insecure_tcp = yes\)" ||
    fail "no warning for the insecure listener: $(cat "$T/droverd.log")"
alive "$DAEMON_PID" || fail "droverd died"
finish_checks
