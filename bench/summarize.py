#!/usr/bin/env python3
"""Turns the JSON lines of bench/compare.sh into markdown tables.

Usage: summarize.py RESULTS/raw.jsonl

Medians over rounds; ratios are the median of the per-round ratios (each
round ran both servers back to back, so a round's ratio shares its load).
Warm-up runs (tag "warmup-*") are left out.
"""

import json
import statistics
import sys
from collections import defaultdict

WRITE_LOADS = ["create", "set"]
PIPELINED = ["create", "set", "get", "mix"]
SYNC = ["set-sync", "get-sync", "exists-sync"]
MIB = 1024.0


def load(path):
    rows = []
    with open(path) as f:
        for line in f:
            line = line.strip()
            if line:
                try:
                    rows.append(json.loads(line))
                except json.JSONDecodeError:
                    print(f"<!-- unparsable line: {line[:80]} -->")
    return rows


def med(xs):
    xs = [x for x in xs if x is not None]
    return statistics.median(xs) if xs else None


def fmt(x, digits=0, unit=""):
    if x is None:
        return "–"
    if isinstance(x, float) and digits == 0:
        return f"{x:,.0f}{unit}"
    return f"{x:,.{digits}f}{unit}"


def by(rows, server, tag):
    return [r for r in rows if r.get("server") == server and r.get("tag") == tag]


def per_round_ratio(rows, tag, key, num, den):
    """Median over rounds of num's key / den's key."""
    a = {r["run"]: r.get(key) for r in by(rows, num, tag)}
    b = {r["run"]: r.get(key) for r in by(rows, den, tag)}
    ratios = [a[k] / b[k] for k in a if k in b and a[k] and b[k]]
    return med(ratios)


def throughput_table(rows, out):
    runs = len(by(rows, "corral", "set"))
    first = (by(rows, "corral", "set") or [{}])[0]
    out.append(
        f"### Pipelined throughput ({first.get('sessions', '?')} sessions × "
        f"{first.get('outstanding', '?')} outstanding, 100 B values, median of {runs} rounds)\n"
    )
    out.append(
        "| load | corral ops/s | ZooKeeper ops/s | corral/ZK | corral CPU µs/op | "
        "ZK CPU µs/op | CPU ZK/corral | corral p99 µs | ZK p99 µs | bench CPU µs/op (c/ZK) | errors |"
    )
    out.append("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
    for tag in PIPELINED:
        c, z = by(rows, "corral", tag), by(rows, "zk", tag)
        if not c and not z:
            continue
        errors = sum(r.get("errors", 0) for r in c + z)
        out.append(
            f"| {tag} | {fmt(med(r['ops_per_sec'] for r in c))} "
            f"| {fmt(med(r['ops_per_sec'] for r in z))} "
            f"| {fmt(per_round_ratio(rows, tag, 'ops_per_sec', 'corral', 'zk'), 2, '×')} "
            f"| {fmt(med(r.get('server_cpu_us_per_op') for r in c), 1)} "
            f"| {fmt(med(r.get('server_cpu_us_per_op') for r in z), 1)} "
            f"| {fmt(per_round_ratio(rows, tag, 'server_cpu_us_per_op', 'zk', 'corral'), 1, '×')} "
            f"| {fmt(med(r['p99_us'] for r in c))} | {fmt(med(r['p99_us'] for r in z))} "
            f"| {fmt(med(r.get('client_cpu_us_per_op') for r in c), 1)} / "
            f"{fmt(med(r.get('client_cpu_us_per_op') for r in z), 1)} "
            f"| {errors} |"
        )
    out.append("")


def sync_table(rows, out):
    if not any(by(rows, "corral", t) or by(rows, "zk", t) for t in SYNC):
        return
    out.append("### Sync mode (1 session, 1 request in flight): latency in µs, median of rounds\n")
    out.append("| load | corral p50 | corral p99 | ZK p50 | ZK p99 | corral ops/s | ZK ops/s |")
    out.append("|---|---:|---:|---:|---:|---:|---:|")
    for tag in SYNC:
        c, z = by(rows, "corral", tag), by(rows, "zk", tag)
        if not c and not z:
            continue
        out.append(
            f"| {tag} | {fmt(med(r['p50_us'] for r in c))} | {fmt(med(r['p99_us'] for r in c))} "
            f"| {fmt(med(r['p50_us'] for r in z))} | {fmt(med(r['p99_us'] for r in z))} "
            f"| {fmt(med(r['ops_per_sec'] for r in c))} | {fmt(med(r['ops_per_sec'] for r in z))} |"
        )
    out.append("")
    rss = {}
    for s in ("corral", "zk"):
        last = [r for r in rows if r.get("server") == s and r.get("tag") in PIPELINED + SYNC]
        if last:
            rss[s] = last[-1].get("server_rss_kb")
    if rss:
        out.append(
            f"RSS after the throughput runs: corral {fmt(rss.get('corral', 0) / MIB, 0)} MiB, "
            f"ZooKeeper {fmt(rss.get('zk', 0) / MIB, 0)} MiB (heap -Xmx as configured).\n"
        )


def restart_table(rows, out):
    pop = {s: (by(rows, s, "populate") or [None])[0] for s in ("corral", "zk")}
    loaded = {s: (by(rows, s, "loaded") or [None])[0] for s in ("corral", "zk")}
    restarts = {s: by(rows, s, "restart") for s in ("corral", "zk")}
    stopped = {s: (by(rows, s, "stopped") or [None])[0] for s in ("corral", "zk")}
    if not any(pop.values()):
        return

    def get(d, s, key):
        return (d.get(s) or {}).get(key)

    n = get(pop, "corral", "ops") or get(pop, "zk", "ops")
    out.append(f"### Restart with {fmt(n)} znodes of 100 B\n")
    out.append("| | corral | ZooKeeper | corral/ZK |")
    out.append("|---|---:|---:|---:|")

    def row(name, c, z, digits=0, unit=""):
        ratio = c / z if c is not None and z else None
        out.append(f"| {name} | {fmt(c, digits, unit)} | {fmt(z, digits, unit)} | {fmt(ratio, 2, '×')} |")

    row("populate ops/s", get(pop, "corral", "ops_per_sec"), get(pop, "zk", "ops_per_sec"))
    row(
        "populate CPU µs/op",
        get(pop, "corral", "server_cpu_us_per_op"),
        get(pop, "zk", "server_cpu_us_per_op"),
        1,
    )
    mib = lambda v: None if v is None else v / MIB  # noqa: E731
    row("RSS after load (MiB)", mib(get(loaded, "corral", "rss_kb")), mib(get(loaded, "zk", "rss_kb")))
    row("data dir after load (MiB)", mib(get(loaded, "corral", "du_kb")), mib(get(loaded, "zk", "du_kb")), 1)
    row(
        "restart to serving (s, median)",
        med(r["ready_secs"] for r in restarts["corral"]),
        med(r["ready_secs"] for r in restarts["zk"]),
        3,
    )
    row(
        "RSS after restart (MiB, median)",
        mib(med(r["rss_kb"] for r in restarts["corral"])),
        mib(med(r["rss_kb"] for r in restarts["zk"])),
    )
    row(
        "data dir after restarts (MiB)",
        mib((restarts["corral"] or [{}])[-1].get("du_kb")),
        mib((restarts["zk"] or [{}])[-1].get("du_kb")),
        1,
    )
    row("data dir after stop (MiB)", mib(get(stopped, "corral", "du_kb")), mib(get(stopped, "zk", "du_kb")), 1)
    row(
        "znodes after restart",
        (restarts["corral"] or [{}])[-1].get("nodes"),
        (restarts["zk"] or [{}])[-1].get("nodes"),
    )
    out.append("")


def floors_table(rows, out):
    fs = by(rows, "machine", "fsync-floor")
    rs = by(rows, "machine", "rtt-floor")
    if not fs and not rs:
        return
    out.append("### Physical floors (measured at the start and at the end)\n")
    out.append("| floor | when | ops/s | p50 µs | p99 µs |")
    out.append("|---|---|---:|---:|---:|")
    when = {1: "start", 2: "end"}
    for name, xs in (("4 KiB write + fdatasync", fs), ("loopback TCP round trip (16 B)", rs)):
        for x in xs:
            out.append(
                f"| {name} | {when.get(x['run'], x['run'])} | {fmt(x['ops_per_sec'])} "
                f"| {x['p50_us']} | {x['p99_us']} |"
            )
    out.append("")


def ensemble_table(rows, out):
    live = [r for r in rows if not r["tag"].startswith("warmup")]
    z3 = [r for r in live if r.get("server") == "zk3"]
    c3 = [r for r in live if r.get("server") == "corral3"]
    out.append("### 3-node ensemble\n")
    if not z3 and not c3:
        out.append("not measured.\n")
        return
    out.append(
        "| load | corral 3 nodes ops/s | ZooKeeper 3 nodes ops/s | ratio (median of rounds) "
        "| corral p50/p99 µs | ZooKeeper p50/p99 µs |"
    )
    out.append("|---|---:|---:|---:|---:|---:|")
    for tag in PIPELINED:
        cs = [r for r in c3 if r["tag"] == tag]
        zs = [r for r in z3 if r["tag"] == tag]
        if not cs and not zs:
            continue
        ratio = per_round_ratio(rows, tag, "ops_per_sec", "corral3", "zk3")

        def lat(xs):
            if not xs:
                return "–"
            return f"{fmt(med(r['p50_us'] for r in xs))}/{fmt(med(r['p99_us'] for r in xs))}"

        out.append(
            f"| {tag} | {fmt(med(r['ops_per_sec'] for r in cs)) if cs else '–'} "
            f"| {fmt(med(r['ops_per_sec'] for r in zs)) if zs else '–'} "
            f"| {fmt(ratio, 2, '×') if ratio is not None else '–'} | {lat(cs)} | {lat(zs)} |"
        )
    out.append("")


def goals_table(rows, out):
    out.append("### Project goals\n")
    out.append("| goal | measured | met |")
    out.append("|---|---|---|")

    def line(goal, value, ok):
        out.append(f"| {goal} | {value} | {'–' if ok is None else ('yes' if ok else 'no')} |")

    ratios = [per_round_ratio(rows, t, "ops_per_sec", "corral", "zk") for t in WRITE_LOADS]
    ratios = [x for x in ratios if x is not None]
    line(
        "≥ 3× ZooKeeper's write throughput",
        ", ".join(f"{t} {fmt(x, 2, '×')}" for t, x in zip(WRITE_LOADS, ratios)) or "–",
        min(ratios) >= 3 if ratios else None,
    )
    cpu = [per_round_ratio(rows, t, "server_cpu_us_per_op", "corral", "zk") for t in PIPELINED]
    cpu = [x for x in cpu if x is not None]
    line(
        "≤ ¼ of ZooKeeper's server CPU per op",
        ", ".join(f"{t} {fmt(x, 2, '×')}" for t, x in zip(PIPELINED, cpu)) or "–",
        max(cpu) <= 0.25 if cpu else None,
    )
    loaded = {s: (by(rows, s, "loaded") or [{}])[0] for s in ("corral", "zk")}
    n = (by(rows, "corral", "populate") or [{}])[0].get("ops")
    rss = loaded["corral"].get("rss_kb")
    line(
        f"≤ 250 MiB RSS with 1M znodes of 100 B (ran {fmt(n)})",
        f"{fmt(rss / MIB)} MiB" if rss else "–",
        rss / MIB <= 250 if rss and n and n >= 1_000_000 else None,
    )
    ready = med(r["ready_secs"] for r in by(rows, "corral", "restart"))
    line(
        "restart ≤ 1 s",
        f"{ready:.3f} s" if ready is not None else "–",
        ready <= 1.0 if ready is not None and n and n >= 1_000_000 else None,
    )
    c_du, z_du = loaded["corral"].get("du_kb"), loaded["zk"].get("du_kb")
    line(
        "data dir ≤ ⅕ of ZooKeeper's",
        f"{c_du / z_du:.2f}× ({c_du / MIB:.1f} vs {z_du / MIB:.1f} MiB)" if c_du and z_du else "–",
        c_du / z_du <= 0.2 if c_du and z_du else None,
    )
    out.append("")


def main():
    rows = load(sys.argv[1])
    out = []
    m = (by(rows, "machine", "info") or [{}])[0]
    if m:
        out.append(
            f"Machine: {m.get('cpu')} × {m.get('cores')} cores, {m.get('os')}, "
            f"kernel {m.get('kernel')}; load average at start {m.get('loadavg')}; "
            f"{m.get('secs')} s per run, {m.get('rounds')} rounds.\n"
        )
    throughput_table(rows, out)
    sync_table(rows, out)
    restart_table(rows, out)
    floors_table(rows, out)
    ensemble_table(rows, out)
    goals_table(rows, out)
    print("\n".join(out))


if __name__ == "__main__":
    main()
