"""bench/peers/report.py, which writes the README's comparison table from route.sh's lines.

It once took the medians of the "0 µs" cells over the no-work runs and the uneven ones
together (route.sh writes uneven cells as "work_us": 0 with "uneven": 1), which put wrong
figures in the README. These tests feed it lines of each kind and read what it prints.
"""

import importlib.util
import json
import os

import pytest

REPORT = os.path.join(os.path.dirname(__file__), "..", "..", "bench", "peers", "report.py")


@pytest.fixture(scope="module")
def report():
    spec = importlib.util.spec_from_file_location("peers_report", REPORT)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def line(system, rps, work=0, uneven=False, kind="route", size=64, clients=16, p99=100.0, **extra):
    r = {"kind": kind, "system": system, "work_us": work, "size": size, "clients": clients,
         "rps": rps, "lat_us": {"p50": p99 / 2, "p99": p99}}
    if uneven:
        r["uneven"] = 1
    r.update(extra)
    return r


def write(tmp_path, name, rows, junk=False):
    with open(tmp_path / name, "w") as f:
        for r in rows:
            f.write(json.dumps(r) + "\n")
        if junk:
            f.write("{not json\n\n")


def cell(table_lines, heading, work_label, size=64, clients=16):
    """The cells of one row of the table under heading, by column name."""
    start = table_lines.index(heading)
    header = table_lines[start + 2]
    names = [c.strip() for c in header.strip("|").split("|")]
    for ln in table_lines[start + 4:]:
        if not ln.startswith("|"):
            break
        cols = [c.strip() for c in ln.strip("|").split("|")]
        if cols[:3] == [work_label, f"{size} B", str(clients)]:
            return dict(zip(names, cols))
    raise AssertionError(f"no row {work_label} {size} B {clients} under {heading!r}")


def test_uneven_lines_are_a_work_value_of_their_own(report, tmp_path):
    write(tmp_path, "route.jsonl", [
        line("limit", 100000), line("limit", 102000),
        line("limit", 2500, uneven=True), line("limit", 2600, uneven=True),
        line("msgD", 90000), line("msgD", 2400, uneven=True),
    ], junk=True)
    rows = report.load_routes(str(tmp_path))
    assert sorted(r["work_us"] for r in rows if r["system"] == "limit") == \
        [0, 0, report.UNEVEN, report.UNEVEN]
    assert {r["route"] for r in rows} == {"limit", "drover-msg"}

    out = report.route_tables(rows)
    heading = "#### Requests/s, median (min–max) of the runs"
    zero = cell(out, heading, "0 µs")
    uneven = cell(out, heading, report.work_label(report.UNEVEN))
    # Each cell holds only its own runs: the no-work median is not dragged to the uneven ones.
    assert zero[report.ROUTE_NAMES["limit"]].startswith("101000 ")
    assert uneven[report.ROUTE_NAMES["limit"]].startswith("2550 ")
    assert zero[report.ROUTE_NAMES["drover-msg"]].startswith("90000")
    assert uneven[report.ROUTE_NAMES["drover-msg"]].startswith("2400")


def test_routes_without_slow_every_are_dropped_at_uneven(report, tmp_path):
    write(tmp_path, "route.jsonl", [
        line("pm2", 30000), line("pm2", 90000, uneven=True),
        line("gearman", 20000), line("gearman", 80000, uneven=True),
        line("node-limit", 40000), line("node-limit", 95000, uneven=True),
        line("limit", 100000), line("limit", 2500, uneven=True),
    ])
    rows = report.load_routes(str(tmp_path))
    for route in report.NO_UNEVEN:
        assert [r["work_us"] for r in rows if r["route"] == route] == [0]
    assert [r["rps"] for r in rows if r["route"] == "pm2"] == [30000]


def test_headline_echo_column_is_the_no_work_runs(report, tmp_path):
    write(tmp_path, "route.jsonl", [
        line("msgD", 90000, p99=300), line("msgD", 2400, uneven=True, p99=9000),
        line("msgD", 20000, work=50, p99=1200),
    ])
    write(tmp_path, "route-kill.jsonl", [
        line("msgD", 0, work=50, kind="kill", errors={"lost": 0, "failed": 0, "duplicate": 0}),
    ])
    rows = report.load_routes(str(tmp_path))
    out = report.headline([], rows, {})
    drover = next(ln for ln in out if ln.startswith("| **drover** (message mode, defaults)"))
    cols = [c.strip() for c in drover.strip("|").split("|")]
    # req/s echo / 50 µs, p99 echo / 50 µs, lost / failed / duplicated
    assert cols[-3:] == ["90.0k / 20.0k", "300 / 1200", "0 / 0 / 0"]


def test_missing_and_empty_results(report, tmp_path):
    assert report.load_routes(str(tmp_path)) == []
    write(tmp_path, "route.jsonl", [{"kind": "route"}, {"kind": "other", "system": "limit"}])
    assert report.load_routes(str(tmp_path)) == []
    assert report.route_tables([]) == []
