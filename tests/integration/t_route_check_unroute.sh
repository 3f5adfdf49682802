#!/bin/bash
# A routed worker whose liveness checks failed is being replaced: it gets no new
# request from then on (it is stopped with stop_signal, and may take up to
# stop_timeout to go), while the requests it already held are answered or retried.
# A load runs through it with no failed request. Issue 14.
. "$(dirname "$0")/lib.sh"
uses route

cat >"$T/check.sh" <<EOF2
#!/bin/sh
[ "\$DROVER_SLOT" = 0 ] && [ -e "$T/fail0" ] && exit 3
exit 0
EOF2
chmod 755 "$T/check.sh"
mkdir "$T/cnt"
write_config <<EOF2
[pool:web]
command = $FAULTY_ECHO_WORKER --ignore-term --count-dir $T/cnt
workers = 2
listen = $T/web.sock
check_command = $T/check.sh
check_interval = 100ms
check_failures = 2
stop_timeout = 60s
EOF2
start_daemon
wait_for 10 "web running" pool_running web
read -r w0 w1 <<<"$(pool_pids web)"

served() { cat "$T/cnt/$1" 2>/dev/null | tr -d ' ' || echo 0; }
wc_start "$T/wc" -s "$T/web.sock" -c 4 -p 2 -z 64 -t 60 -d 90
wait_for 10 "both workers to serve" test -s "$T/cnt/$w0" -a -s "$T/cnt/$w1"

touch "$T/fail0"
wait_for 10 "web:0's checks to fail" file_has "$T/droverd.log" \
    "pool web slot 0: pid $w0: liveness check failed \(2 of 2 in a row\)"
alive "$w0" || fail "web:0 ($w0) ignores TERM, it should still be stopping"
# What it held when it was told to stop is answered; nothing new comes after.
before=$(pool_route web requests)
wait_for 10 "the load to go on" pool_route_ge web requests $((before + 200))
c1=$(served "$w0")
before=$(pool_route web requests)
wait_for 10 "the load to go on" pool_route_ge web requests $((before + 500))
c2=$(served "$w0")
alive "$w0" || fail "web:0 ($w0) is gone before the end of the check"
[ "$c1" = "$c2" ] || fail "web:0 got new requests while it was being replaced ($c1 then $c2 served)"
wc_stop "$T/wc"
wc_clean "$T/wc" "load while web:0 was replaced"
assert_eq "$(pool_route web failed)" 0 "requests failed at web"
finish_checks
