#!/usr/bin/python3
"""Tables and plots for bench/peers from the raw lines bench/supervise.sh and bench/route.sh
wrote when run.sh drove them with the peers in SYSTEMS.

    report.py [--results DIR] [--out DIR] [--plots DIR] [--meta FILE] [--results-md FILE]

Reads DIR/supervise.jsonl, DIR/route.jsonl (throughput), DIR/route-cpr.jsonl,
DIR/route-kill.jsonl, DIR/restart-<system>.txt and the run's
metadata (machine, versions, command; written by run.sh), writes OUT/RESULTS.md (every
table), OUT/HEADLINE.md (the headline comparison for the README) and PNG plots made by
gnuplot into PLOTS. With --results-md it also puts RESULTS.md, image links adjusted,
between the "Peers" markers at the end of that file (appending them the first time).
Every figure is "median (min–max)" over the runs unless the table says otherwise.
"""
import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile

SUP_PEERS = ["drover", "supervisord", "runit", "s6", "s6-notify", "pm2", "floor"]
SUP_NAMES = {
    "drover": "drover",
    "supervisord": "supervisord",
    "runit": "runit",
    "s6": "s6",
    "s6-notify": "s6 + notification-fd",
    "pm2": "PM2",
    "floor": "floor: no supervisor (waitpid, fork, exec)",
}
ROUTES = ["limit", "drover-msg", "drover-msg1", "drover-handoff", "nginx", "haproxy", "pm2",
          "node-limit", "gearman"]
ROUTE_NAMES = {
    "limit": "no router (C)",
    "drover-msg": "drover message (defaults)",
    "drover-msg1": "drover message, inflight 1",
    "drover-handoff": "drover handoff",
    "nginx": "nginx stream",
    "haproxy": "haproxy",
    "pm2": "PM2 cluster",
    "node-limit": "no router (Node)",
    "gearman": "gearmand",
}
# One colour per route in every plot: drover's in greens, the no-router limits in greys.
ROUTE_COLORS = {
    "limit": "#555555",
    "drover-msg": "#1b7837",
    "drover-msg1": "#5aae61",
    "drover-handoff": "#a6dba0",
    "nginx": "#2166ac",
    "haproxy": "#67a9cf",
    "pm2": "#b2182b",
    "node-limit": "#bbbbbb",
    "gearman": "#e08214",
}
SUP_COLORS = {
    "drover": "#1b7837",
    "supervisord": "#e08214",
    "runit": "#2166ac",
    "s6": "#762a83",
    "s6-notify": "#c2a5cf",
    "pm2": "#b2182b",
    "floor": "#000000",
}
README_BEGIN = "<!-- peers-headline:begin (written by bench/peers/report.py) -->"
README_END = "<!-- peers-headline:end -->"
MARK_BEGIN = "<!-- peers:begin (written by bench/peers/report.py; edit there) -->"
MARK_END = "<!-- peers:end -->"


def load(path):
    rows = []
    if os.path.exists(path):
        with open(path) as f:
            for line in f:
                line = line.strip()
                if line:
                    try:
                        rows.append(json.loads(line))
                    except json.JSONDecodeError:
                        pass
    return rows


# The scripts' system names where the tables use longer ones, and their kinds of line.
ROUTE_OF_SYSTEM = {"msgD": "drover-msg", "msg1": "drover-msg1", "handoff64": "drover-handoff"}
ROUTE_KINDS = {"route": "throughput", "cpr": "cpr", "kill": "fault"}


def load_supervise(results):
    """supervise.jsonl's lines of the systems' sections, with the system as "peer"."""
    rows = []
    for r in load(os.path.join(results, "supervise.jsonl")):
        if "system" in r:
            r["peer"] = r["system"]
            rows.append(r)
    return rows


# route.sh's uneven work (1 request in 20 takes 5 ms) is written as work_us 0 with "uneven": 1;
# here it is a work value of its own, sorted after the others, so that it never joins the
# 0 µs cells (whose medians it would drag down to a few thousand requests/s).
UNEVEN = 10**9
# Routes whose workers cannot be uneven (no --slow-every: PM2's and the Node limit's echo
# worker, gearman-echo-worker, which read "uneven" as 0 µs); route.sh now skips them there,
# and their uneven lines of older runs are dropped.
NO_UNEVEN = {"pm2", "node-limit", "gearman"}


def work_label(w):
    # route.sh's default UNEVEN="20 5000"; its lines do not carry another setting
    return "uneven (1 in 20: 5 ms)" if w == UNEVEN else f"{w} µs"


def load_routes(results):
    """route.sh's throughput, cpr and kill lines, each with "route" and the kind the tables use."""
    rows = []
    for name in ("route.jsonl", "route-cpr.jsonl", "route-kill.jsonl"):
        for r in load(os.path.join(results, name)):
            if r.get("kind") in ROUTE_KINDS and "system" in r:
                r["kind"] = ROUTE_KINDS[r["kind"]]
                r["route"] = ROUTE_OF_SYSTEM.get(r["system"], r["system"])
                if r.get("uneven"):
                    if r["route"] in NO_UNEVEN:
                        continue
                    r["work_us"] = UNEVEN
                rows.append(r)
    return rows


def get(d, path, default=None):
    for k in path.split("."):
        if not isinstance(d, dict) or k not in d:
            return default
        d = d[k]
    return d


def mmm(values, fmt="{:.0f}", scale=1.0):
    """'median (min–max)' of the values; a single value alone; '–' for none."""
    v = [x * scale for x in values if x is not None]
    if not v:
        return "–"
    med = statistics.median(v)
    if len(v) == 1 or min(v) == max(v):
        return fmt.format(med)
    return f"{fmt.format(med)} ({fmt.format(min(v))}–{fmt.format(max(v))})"


def med(values):
    v = [x for x in values if x is not None]
    return statistics.median(v) if v else None


def human_us(us):
    if us is None:
        return "–"
    if us >= 100000:
        return f"{us / 1e6:.2f} s"
    if us >= 1000:
        return f"{us / 1000:.1f} ms"
    return f"{us:.0f} µs"


def mmm_time(values_us):
    v = [x for x in values_us if x is not None]
    if not v:
        return "–"
    if len(v) == 1 or min(v) == max(v):
        return human_us(statistics.median(v))
    return f"{human_us(statistics.median(v))} ({human_us(min(v))}–{human_us(max(v))})"


# --------------------------------------------------------------------------------------
# Supervision


def supervision_tables(sup, samples):
    out = []
    by = {}
    for r in sup:
        by.setdefault((r["kind"], r["peer"]), []).append(r)
    peers = [p for p in SUP_PEERS if any(k[1] == p for k in by)]

    out.append("#### Restart after SIGKILL of a healthy worker")
    out.append("")
    out.append("64 workers; a worker is killed once it has run 1.5 s; latency is the kill to the "
               "replacement's own first clock reading (bench/stamp-worker). Per run: p50 / p99 / max "
               "over its kills; the table gives median (min–max) over the runs, and the pooled "
               "samples of all runs.")
    out.append("")
    out.append("| supervisor | kills | p50 | p99 | max | pooled p50 | pooled p99 | missed |")
    out.append("|---|---|---|---|---|---|---|---|")
    for p in peers:
        rs = by.get(("restart", p), [])
        if not rs:
            continue
        kills = sum(r.get("restarts_measured", 0) for r in rs)
        pooled = sorted(samples.get(p, []))

        def q(x):
            return pooled[min(len(pooled) - 1, int(x * len(pooled)))] if pooled else None

        out.append("| {} | {} | {} | {} | {} | {} | {} | {} |".format(
            SUP_NAMES[p], kills,
            mmm_time([get(r, "restart_us.p50") for r in rs]),
            mmm_time([get(r, "restart_us.p99") for r in rs]),
            mmm_time([get(r, "restart_us.max") for r in rs]),
            human_us(q(0.5)), human_us(q(0.99)),
            sum(r.get("missed", 0) for r in rs)))
    out.append("")

    out.append("#### A worker that exits at once (status 1), default settings")
    out.append("")
    crash_s = next((r.get("observe_s") for r in sup if r["kind"] == "crash"), None)
    out.append(f"Every start of the one worker over {crash_s:.0f} s (the first start at 0); "
               "the gaps come from each supervisor's own policy (bench/peers/README.md)."
               if crash_s else "")
    out.append("")
    out.append("| supervisor | starts in the window | restarts/s | start times of the first run, s | last start, s |")
    out.append("|---|---|---|---|---|")
    for p in peers:
        rs = by.get(("crash", p), [])
        if not rs:
            continue
        starts = [r.get("starts") for r in rs]
        rate = [(r.get("starts", 1) - 1) / r.get("observe_s", 1) for r in rs]
        times = rs[0].get("start_ms", [])
        shown = ", ".join(f"{t / 1000:.2f}" for t in times[:12]) + (" …" if len(times) > 12 else "")
        out.append("| {} | {} | {} | {} | {} |".format(
            SUP_NAMES[p], mmm(starts), mmm(rate, "{:.2f}"), shown,
            mmm([r.get("last_start_ms", 0) / 1000 for r in rs], "{:.2f}")))
    out.append("")

    out.append("#### 256 and 16 workers: start, stop, the supervisor's own memory and wake-ups")
    out.append("")
    out.append("Start: the supervisor's fork to the last worker's first clock reading (its first "
               "worker in brackets: the supervisor's own boot). Stop: its stop signal (or command) to "
               "every worker gone / to every supervisor process gone. Memory: VmRSS and Pss summed over "
               "every supervisor process (runit and s6 run one supervisor process per worker; Pss "
               "shares their common pages out fairly). Wake-ups: context switches of all supervisor "
               "threads while nothing happens.")
    out.append("")
    out.append("| supervisor | start 256, ms | first worker, ms | stop 256: workers gone, ms | stop 256: all gone, ms | processes | RSS 256, MB | Pss 256, MB | RSS 16, MB | Pss 16, MB | idle wake-ups/s, 256 |")
    out.append("|---|---|---|---|---|---|---|---|---|---|---|")
    for p in peers:
        w = by.get(("w256", p), [])
        s = by.get(("w16", p), [])
        if not w and not s:
            continue
        out.append("| {} | {} | {} | {} | {} | {} | {} | {} | {} | {} | {} |".format(
            SUP_NAMES[p],
            mmm([r.get("startup_ms") for r in w], "{:.0f}"),
            mmm([r.get("first_worker_ms") for r in w], "{:.0f}"),
            mmm([r.get("stop_workers_ms") for r in w], "{:.0f}"),
            mmm([r.get("stop_all_ms") for r in w], "{:.0f}"),
            mmm([r.get("sup_procs") for r in w]),
            mmm([r.get("rss_kb") for r in w], "{:.1f}", 1 / 1024),
            mmm([r.get("pss_kb") for r in w], "{:.1f}", 1 / 1024),
            mmm([r.get("rss_kb") for r in s], "{:.1f}", 1 / 1024),
            mmm([r.get("pss_kb") for r in s], "{:.1f}", 1 / 1024),
            mmm([r.get("wakeups_per_s") for r in w], "{:.1f}")))
    out.append("")
    return out


# --------------------------------------------------------------------------------------
# Routing


def route_tables(rows):
    out = []
    thr = [r for r in rows if r["kind"] == "throughput"]
    routes = [x for x in ROUTES if any(r["route"] == x for r in thr)]
    cells = sorted({(r["work_us"], r.get("size", 0), r.get("clients", 0)) for r in thr})
    by = {}
    for r in thr:
        by.setdefault((r["route"], r["work_us"], r.get("size"), r.get("clients")), []).append(r)

    if thr:
        out.append("#### Requests/s, median (min–max) of the runs")
        out.append("")
        out.append("| work | size | clients | " + " | ".join(ROUTE_NAMES[x] for x in routes) + " |")
        out.append("|---|---|---|" + "---|" * len(routes))
        for w, s, c in cells:
            line = f"| {work_label(w)} | {s} B | {c} |"
            for x in routes:
                line += " " + mmm([r.get("rps") for r in by.get((x, w, s, c), [])]) + " |"
            out.append(line)
        out.append("")
        out.append("#### Latency, µs: p50 / p99 (medians of the runs)")
        out.append("")
        out.append("| work | size | clients | " + " | ".join(ROUTE_NAMES[x] for x in routes) + " |")
        out.append("|---|---|---|" + "---|" * len(routes))
        for w, s, c in cells:
            line = f"| {work_label(w)} | {s} B | {c} |"
            for x in routes:
                rs = by.get((x, w, s, c), [])
                a, b = med([get(r, "lat_us.p50") for r in rs]), med([get(r, "lat_us.p99") for r in rs])
                line += (f" {a:.0f} / {b:.0f} |" if a is not None else " – |")
            out.append(line)
        out.append("")
        out.append("#### Router CPU per request, µs (medians of the runs)")
        out.append("")
        out.append("The router's own processes and threads (droverd; nginx master and workers; haproxy; "
                   "PM2's God process; gearmand), from /proc schedstat: what each request costs the router "
                   "whatever the machine's load. The no-router rows have none.")
        out.append("")
        rroutes = [x for x in routes if x not in ("limit", "node-limit")]
        out.append("| work | size | clients | " + " | ".join(ROUTE_NAMES[x] for x in rroutes) + " |")
        out.append("|---|---|---|" + "---|" * len(rroutes))
        for w, s, c in cells:
            line = f"| {work_label(w)} | {s} B | {c} |"
            for x in rroutes:
                rs = by.get((x, w, s, c), [])
                v = med([r.get("router_cpu_s", 0) * 1e6 / r["answered"] for r in rs
                         if r.get("answered")])
                line += (f" {v:.1f} |" if v is not None else " – |")
            out.append(line)
        out.append("")
        errs = sum(max(0, get(r, "errors.total", 0) or 0) for r in thr)
        out.append(f"Verification errors over the whole grid (mismatched, duplicated or lost replies, "
                   f"I/O and connect errors): {errs}.")
        out.append("")

    cpr = [r for r in rows if r["kind"] == "cpr"]
    if cpr:
        out.append("#### A new connection per request (16 clients, 64 B, no work)")
        out.append("")
        out.append("What the connection routers cost when clients do not keep connections open: each "
                   "request is connect, send, reply, close.")
        out.append("")
        out.append("| route | requests/s | p50 µs | p99 µs |")
        out.append("|---|---|---|---|")
        for x in ROUTES:
            rs = [r for r in cpr if r["route"] == x]
            if rs:
                out.append("| {} | {} | {} | {} |".format(
                    ROUTE_NAMES[x], mmm([r.get("rps") for r in rs]),
                    mmm([get(r, "lat_us.p50") for r in rs]), mmm([get(r, "lat_us.p99") for r in rs])))
        out.append("")

    flt = [r for r in rows if r["kind"] == "fault"]
    if flt:
        fs = next((r.get("fault_s") for r in flt), 5)
        out.append(f"#### Faults under load: one of the two workers SIGKILLed every 100 ms")
        out.append("")
        out.append(f"16 clients, 64 B, {fs} s with a kill every 100 ms (the oldest of the route's "
                   "workers, so each dies every 200 ms); median (min–max) of the runs. *Answered/s*: "
                   "correct replies per second during the run. *Lost*: requests sent that never got a "
                   "reply (their connection closed under them; the client reconnects at once and goes "
                   "on). *Failed*: an error reply (drover's FAILED/TIMEOUT, gearman's WORK_FAIL). "
                   "*Duplicated*: a reply to a request already answered. *Mismatched*: a reply with "
                   "the wrong bytes. *Conn. errors*: refused connects.")
        out.append("")
        out.append("| work | route | kills | answered/s | lost | failed | duplicated | mismatched | conn. errors |")
        out.append("|---|---|---|---|---|---|---|---|---|")
        for w in sorted({r["work_us"] for r in flt}):
            for x in ROUTES:
                rs = [r for r in flt if r["route"] == x and r["work_us"] == w]
                if not rs:
                    continue
                out.append("| {} | {} | {} | {} | {} | {} | {} | {} | {} |".format(
                    work_label(w), ROUTE_NAMES[x], mmm([r.get("kills") for r in rs]),
                    mmm([r.get("ok", 0) / r.get("fault_s", 1) for r in rs]),
                    mmm([get(r, "errors.lost") for r in rs]),
                    mmm([get(r, "errors.failed") for r in rs]),
                    mmm([get(r, "errors.duplicate") for r in rs]),
                    mmm([get(r, "errors.mismatch") for r in rs]),
                    mmm([get(r, "errors.connect") for r in rs])))
        out.append("")
    return out


# --------------------------------------------------------------------------------------
# Headline


def headline(sup, rows, samples):
    by = {}
    for r in sup:
        by.setdefault((r["kind"], r["peer"]), []).append(r)
    thr = [r for r in rows if r["kind"] == "throughput"]
    flt = [r for r in rows if r["kind"] == "fault"]

    def restart(p):
        s = sorted(samples.get(p, []))
        if not s:
            return "–"
        return f"{human_us(s[len(s) // 2])} / {human_us(s[min(len(s) - 1, int(0.99 * len(s)))])}"

    def sup_cell(p, kind, key, fmt, scale=1.0):
        rs = by.get((kind, p), [])
        v = med([r.get(key) for r in rs])
        return fmt.format(v * scale) if v is not None else "–"

    def crash(p):
        rs = by.get(("crash", p), [])
        if not rs:
            return "–"
        r = rs[0]
        return (f"{med([x.get('starts') for x in rs]):.0f} starts in {r.get('observe_s', 0):.0f} s, "
                f"the last at {med([x.get('last_start_ms', 0) for x in rs]) / 1000:.1f} s")

    def rps(route, work=50, size=64, clients=16):
        rs = [r for r in thr if r["route"] == route and r["work_us"] == work
              and r.get("size") == size and r.get("clients") == clients]
        v = med([r.get("rps") for r in rs])
        p99 = med([get(r, "lat_us.p99") for r in rs])
        return (f"{v / 1000:.1f}k" if v is not None else "–"), (f"{p99:.0f}" if p99 is not None else "–")

    def lost(route, work=50):
        rs = [r for r in flt if r["route"] == route and r["work_us"] == work]
        if not rs:
            return "–"
        lo = med([get(r, "errors.lost") for r in rs])
        fa = med([get(r, "errors.failed") for r in rs])
        du = med([get(r, "errors.duplicate") for r in rs])
        return f"{lo:.0f} / {fa:.0f} / {du:.0f}"

    rows_out = []
    # (name, supervise peer or None, route or None)
    spec = [
        ("**drover** (message mode, defaults)", "drover", "drover-msg"),
        ("**drover** (message, inflight 1)", None, "drover-msg1"),
        ("**drover** (handoff)", None, "drover-handoff"),
        ("supervisord", "supervisord", None),
        ("runit", "runit", None),
        ("s6 (+ notification-fd)", "s6", None),
        ("PM2 (cluster mode)", "pm2", "pm2"),
        ("nginx stream", None, "nginx"),
        ("haproxy", None, "haproxy"),
        ("gearmand", None, "gearman"),
        ("no router (clients straight to the C workers)", None, "limit"),
    ]
    for name, p, route in spec:
        if p:
            rs = restart(p)
            if p == "s6":
                rs = f"{restart('s6')} ({restart('s6-notify')})"
            cols = [rs, crash(p),
                    sup_cell(p, "w256", "startup_ms", "{:.0f} ms"),
                    sup_cell(p, "w256", "pss_kb", "{:.1f} MB", 1 / 1024),
                    sup_cell(p, "w256", "wakeups_per_s", "{:.1f}")]
        elif route == "drover-msg1" or route == "drover-handoff":
            cols = ["″"] * 5
        else:
            cols = ["n/a (does not supervise)"] + ["n/a"] * 4 if route != "limit" else ["–"] * 5
        if route:
            r, p99 = rps(route)
            r0, p990 = rps(route, work=0)
            cols += [f"{r0} / {r}", f"{p990} / {p99}", lost(route)]
        else:
            cols += ["n/a (does not route)", "n/a", "n/a"]
        rows_out.append("| " + name + " | " + " | ".join(cols) + " |")

    out = []
    floor = [get(r, "restart_us.p50") for r in by.get(("restart", "floor"), [])]
    floor_p50 = med(floor)
    out.append("| | restart after SIGKILL, p50 / p99 | worker that exits at once | start 256 workers | "
               "memory with 256 workers (Pss) | idle wake-ups/s | req/s, 16 clients, 64 B: echo / 50 µs work "
               "| p99 µs: echo / 50 µs | killed every 100 ms: lost / failed / duplicated |")
    out.append("|---|---|---|---|---|---|---|---|---|")
    out.extend(rows_out)
    if floor_p50 is not None:
        out.append("")
        out.append(f"Restart floor on this machine (no supervisor: a blocking `waitpid`, then `fork` and "
                   f"`exec` at once): p50 {human_us(floor_p50)}. droverd starts workers with `vfork`, "
                   f"which copies no page tables, so it can come in under this `fork` floor.")
    return out


# --------------------------------------------------------------------------------------
# Plots (gnuplot)


def gnuplot(script, tmp):
    path = os.path.join(tmp, "plot.gp")
    with open(path, "w") as f:
        f.write(script)
    subprocess.run(["gnuplot", path], check=True)


def plot_restart(samples, plots, tmp):
    series = []
    for p in SUP_PEERS:
        s = sorted(samples.get(p, []))
        if not s:
            continue
        f = os.path.join(tmp, f"cdf-{p}.dat")
        with open(f, "w") as fh:
            n = len(s)
            for i, v in enumerate(s):
                fh.write(f"{max(v, 1) / 1000.0} {(i + 1) / n}\n")
        series.append((f, SUP_NAMES[p], len(s), SUP_COLORS[p]))
    if not series:
        return None
    out = os.path.join(plots, "restart-cdf.png")
    plots_cmd = ", ".join(f"'{f}' using 1:2 with steps lw 2 lc rgb '{c}' title '{n} ({k} kills)'"
                          for f, n, k, c in series)
    gnuplot(f"""set terminal pngcairo size 1000,560 font 'DejaVu Sans,11'
set output '{out}'
set title 'Restart latency: SIGKILL of a healthy worker to its replacement exec''d (64 workers)'
set xlabel 'kill to replacement''s first clock reading, ms (log scale)'
set ylabel 'fraction of restarts'
set logscale x
set xrange [0.2:2000]
set yrange [0:1.02]
set grid
set key at 600,0.5 right center box opaque
plot {plots_cmd}
""", tmp)
    return out


def plot_crash(sup, plots, tmp):
    rs = {}
    for r in sup:
        if r["kind"] == "crash" and r["peer"] not in rs:
            rs[r["peer"]] = r
    peers = [p for p in SUP_PEERS if p in rs]
    if not peers:
        return None
    series, labels = [], []
    for i, p in enumerate(peers):
        f = os.path.join(tmp, f"crash-{p}.dat")
        with open(f, "w") as fh:
            for t in rs[p].get("start_ms", []):
                fh.write(f"{t / 1000.0} {i}\n")
        series.append(f"'{f}' using 1:2 with points pt 9 ps 1.5 lc rgb '{SUP_COLORS[p]}'")
        labels.append(f"set label {i + 1} '{rs[p].get('starts', 0)} starts' at graph 1.02, first {i} left")
    tics = ", ".join(f"'{SUP_NAMES[p]}' {i}" for i, p in enumerate(peers))
    window = rs[peers[0]].get("observe_s", 15)
    out = os.path.join(plots, "crash-loop.png")
    label_cmds = "\n".join(labels)
    gnuplot(f"""set terminal pngcairo size 1000,380 font 'DejaVu Sans,11'
set output '{out}'
set title 'A worker that exits at once: every start over {window:.0f} s (first run; default settings)'
set xlabel 'seconds since the first start'
set ytics ({tics})
set yrange [-0.6:{len(peers) - 0.4}]
set xrange [-0.3:{window + 0.3}]
set rmargin 12
set grid x
unset key
{label_cmds}
plot {", ".join(series)}
""", tmp)
    return out


def plot_routes(rows, plots, tmp):
    thr = [r for r in rows if r["kind"] == "throughput"]
    if not thr:
        return []
    routes = [x for x in ROUTES if any(r["route"] == x for r in thr)]
    works = sorted({r["work_us"] for r in thr})
    sizes = sorted({r.get("size") for r in thr})
    clients = sorted({r.get("clients") for r in thr})

    def stat(route, w, s, c, key):
        v = [get(r, key) for r in thr if r["route"] == route and r["work_us"] == w
             and r.get("size") == s and r.get("clients") == c]
        v = [x for x in v if x is not None]
        return (statistics.median(v), min(v), max(v)) if v else (0, 0, 0)

    files = {}
    for w in works:
        for s in sizes:
            for key in ("rps", "lat_us.p50", "lat_us.p99"):
                f = os.path.join(tmp, f"r-{w}-{s}-{key}.dat")
                with open(f, "w") as fh:
                    for c in clients:
                        cols = [str(c)]
                        for x in routes:
                            m, lo, hi = stat(x, w, s, c, key)
                            if key == "rps":
                                m, lo, hi = m / 1000, lo / 1000, hi / 1000
                            cols += [f"{m:.3f}", f"{lo:.3f}", f"{hi:.3f}"]
                        fh.write(" ".join(cols) + "\n")
                files[(w, s, key)] = f
    titles = [(ROUTE_NAMES[x], ROUTE_COLORS[x]) for x in routes]
    outs = []
    npanels = len(works) * len(sizes)

    def panel(f, title, ylabel, log=False, key=False):
        parts = []
        for i, (t, color) in enumerate(titles):
            c = 2 + 3 * i
            parts.append(f"'{f}' using {c}:{c + 1}:{c + 2}:xtic(1) lc rgb '{color}' title '{t}'")
        return (f"set title '{title}'\nset ylabel '{ylabel}'\n"
                + ("set logscale y\n" if log else "unset logscale y\n")
                + ("set key outside right top\n" if key else "unset key\n")
                + "plot " + ", ".join(parts) + "\n")

    common = """set style data histogram
set style histogram errorbars gap 2 lw 1
set style fill solid 0.85 border -1
set boxwidth 0.9
set grid y
set xlabel 'closed-loop clients'
set yrange [0:*]
"""
    # throughput: one panel per (work, size)
    out = os.path.join(plots, "route-throughput.png")
    script = (f"set terminal pngcairo size 1500,{420 * ((npanels + 1) // 2) + 60} font 'DejaVu Sans,10'\n"
              f"set output '{out}'\n" + common
              + f"set multiplot layout {(npanels + 1) // 2},2 title "
              "'Requests/s per route (thousands; bars: median of the runs, whiskers: min–max; two workers on 2 cores)'\n")
    n = 0
    for w in works:
        for s in sizes:
            n += 1
            script += panel(files[(w, s, "rps")], f"{work_label(w)} work, {s} B", "k requests/s",
                            key=(n == min(2, npanels)))
    script += "unset multiplot\n"
    gnuplot(script, tmp)
    outs.append(out)

    # latency: p50 and p99 (log scale), 64 B, one column per work value
    out = os.path.join(plots, "route-latency.png")
    s = sizes[0]
    script = (f"set terminal pngcairo size 1500,900 font 'DejaVu Sans,10'\nset output '{out}'\n"
              + common + "set yrange [*:*]\n"
              + f"set multiplot layout 2,{len(works)} title 'Latency per route, {s} B requests, µs "
                "(log scale; bars: median of the runs, whiskers: min–max)'\n")
    n = 0
    for key, name in (("lat_us.p50", "p50"), ("lat_us.p99", "p99")):
        for w in works:
            n += 1
            script += panel(files[(w, s, key)], f"{name}, {work_label(w)} work", f"{name} µs", log=True,
                            key=(n == len(works)))
    script += "unset multiplot\n"
    gnuplot(script, tmp)
    outs.append(out)
    return outs


# --------------------------------------------------------------------------------------


def main():
    here = os.path.dirname(os.path.abspath(__file__))
    ap = argparse.ArgumentParser()
    ap.add_argument("--results", default=os.path.join(here, "results"))
    ap.add_argument("--out", default=here)
    ap.add_argument("--plots", default=os.path.join(here, "plots"))
    ap.add_argument("--meta", default=None)
    ap.add_argument("--results-md", default=None)
    ap.add_argument("--readme", default=None, help="README.md whose headline markers get the table")
    ap.add_argument("--stdout", action="store_true", help="print RESULTS.md instead of writing it")
    args = ap.parse_args()

    sup = load_supervise(args.results)
    rows = load_routes(args.results)
    samples = {}
    for p in SUP_PEERS:
        f = os.path.join(args.results, f"restart-{p}.txt")
        if os.path.exists(f):
            with open(f) as fh:
                samples[p] = [float(x) for x in fh if x.strip()]
    meta = []
    if args.meta and os.path.exists(args.meta):
        with open(args.meta) as f:
            meta = [line.rstrip("\n") for line in f]

    os.makedirs(args.plots, exist_ok=True)
    with tempfile.TemporaryDirectory() as tmp:
        plots = [plot_restart(samples, args.plots, tmp), plot_crash(sup, args.plots, tmp)]
        plots += plot_routes(rows, args.plots, tmp)
    plots = [p for p in plots if p]

    head = headline(sup, rows, samples)
    doc = ["## Peers: drover against supervisord, runit, s6, PM2, nginx, haproxy, gearmand", ""]
    doc += meta + [""] if meta else []
    doc += ["### Headline", ""] + head + [""]
    doc += ["Supervision columns: 64 workers for restarts, 256 for start, memory and wake-ups; "
            "\"s6 (+ notification-fd)\" gives s6 without and with its readiness protocol (without it, "
            "s6-supervise waits a second before every restart). Routing columns: two workers on the 2 "
            "cores, 16 closed-loop clients; \"lost / failed / duplicated\" over a "
            "5-s run with 16 clients and 50 µs of work while a worker is SIGKILLed every 100 ms. "
            "supervisord, runit and s6 do not route; nginx, haproxy and gearmand do not supervise "
            "(their workers were kept alive by droverd pools, restarted as fast as drover's own). "
            "How every peer was set up and why: [bench/peers/README.md](peers/README.md).", ""]
    doc += ["### Supervision", ""] + supervision_tables(sup, samples)
    doc += ["### Routing", ""] + route_tables(rows)
    if plots:
        doc += ["### Plots", ""]
        for p in plots:
            rel = os.path.relpath(p, args.out)
            doc += [f"![{os.path.basename(p)}]({rel})", ""]
    text = "\n".join(doc) + "\n"

    if args.stdout:
        sys.stdout.write(text)
        return
    with open(os.path.join(args.out, "RESULTS.md"), "w") as f:
        f.write(text.replace("](peers/README.md)", "](README.md)"))
    with open(os.path.join(args.out, "HEADLINE.md"), "w") as f:
        f.write("<!-- written by bench/peers/report.py from bench/peers/results; the lead moves it into README.md -->\n")
        f.write("### drover and the tools users would pick instead\n\n")
        f.write("\n".join(head) + "\n\n")
        f.write("Median of 3 runs on a shared 2-core VM; min–max, every table, the plots and how each "
                "peer was configured: [bench/peers/RESULTS.md](bench/peers/RESULTS.md), "
                "[bench/peers/README.md](bench/peers/README.md). Reproduce: `bench/peers/run.sh`.\n")
    if args.readme:
        # The headline table in the top-level README, between its two markers.
        with open(args.readme) as f:
            old = f.read()
        if README_BEGIN in old and README_END in old:
            a = old.index(README_BEGIN) + len(README_BEGIN)
            b = old.index(README_END)
            body = ("\n" + "\n".join(head) + "\n\n"
                    + (meta[0] + "\n\n" if meta else ""))
            with open(args.readme, "w") as f:
                f.write(old[:a] + body + old[b:])
        else:
            print(f"report.py: no headline markers in {args.readme}; left as it is", file=sys.stderr)
    if args.results_md:
        # The section in bench/RESULTS.md: the same text, links relative to bench/.
        sec = text.replace("](plots/", "](peers/plots/")
        for p in plots:
            rel_here = os.path.relpath(p, args.out)
            sec = sec.replace(f"]({rel_here})", f"](peers/{rel_here})")
        sec = MARK_BEGIN + "\n" + sec + MARK_END + "\n"
        old = ""
        if os.path.exists(args.results_md):
            with open(args.results_md) as f:
                old = f.read()
        if MARK_BEGIN in old and MARK_END in old:
            a = old.index(MARK_BEGIN)
            b = old.index(MARK_END) + len(MARK_END)
            new = old[:a] + sec.rstrip("\n") + old[b:]
        else:
            new = old + ("\n" if old and not old.endswith("\n") else "") + ("\n" if old else "") + sec
        with open(args.results_md, "w") as f:
            f.write(new)


if __name__ == "__main__":
    main()
