#!/usr/bin/env python3
"""Checks docs/compatibility.md against the output of a compat-tests run.

    compat-tests/tools/check_doc.py [--doc docs/compatibility.md] OUTPUT...

OUTPUT is the captured stdout of `compat-tests/run` (one file, or several,
e.g. a standalone and an ensemble run; "-" reads stdin). Every mismatch is
printed as "check_doc: MISMATCH ..."; the exit status is 1 if there is any,
2 on a usage/parse error, 0 otherwise.

The output: a line "--- suite NAME [LABEL]" starts a suite's output (LABEL is
standalone, ensemble or "own topology"); after it every "PASS NAME" and
"FAIL NAME (reason)" line is a check of that suite in that topology.

What the doc cites, and the matching rules:

1. The "## Features × clients" table. Columns map to suites by their header:
   "zkCli" -> zkcli, "C client" -> cclient, "Curator" -> curator,
   "kazoo" -> kazoo. A cell starting with "—" cites nothing. Otherwise the
   cell is split on "; " and each item is one citation:
   - "…" in an item stands for any text (possibly empty); the rest of the
     item must equal the check name exactly (case-sensitive). An item
     without "…" is an exact name. A FAIL line matches if its text, or its
     text cut before any " (", matches (the reason is not part of the name).
   - Optional leading tags, in this order:
       "**failing on corral:** " - this item and every later item of the
         cell are claimed to FAIL; all other items are claimed to PASS;
       "(standalone topology) " / "(ensemble topology) " - the check exists
         only in that topology of the client suites; untagged client-suite
         items must match in every client topology the output covers;
       "ensemble suite: " - the item is a check of the ensemble suite
         (own topology), not of the column's suite.
   - "ensemble suite (N checks)" claims the ensemble suite printed N checks
     (in every section of the output that has it).
   An item must match at least one check in each topology it is checked in
   (topologies the output does not cover are skipped). A claimed PASS must
   have no matching FAIL; a claimed FAIL must have at least one matching
   FAIL.
2. Prose elsewhere in the doc: SUITE "NAME" (SUITE one of zkcli, cclient,
   curator, kazoo; NAME with the same "…" rule) must match a check of that
   suite in some client topology and must not FAIL. Skipped when not found
   and the output covers only one client topology.
3. "the SUITE suite has N checks standalone, M in the ensemble" claims those
   per-topology counts (each checked when that topology is covered).
"""
import argparse
import re
import sys

COLUMN_SUITES = [("zkCli", "zkcli"), ("C client", "cclient"),
                 ("Curator", "curator"), ("kazoo", "kazoo")]
CLIENT_TOPOLOGIES = ("standalone", "ensemble")
OWN = "own topology"

SUITE_START = re.compile(r"^--- suite (\S+) \[([^\]]+)\]$")


def parse_output(paths):
    """Returns {(suite, label): [(text, passed), ...]} and
    {(suite, label): [checks in each section, ...]} (a suite can appear in
    several OUTPUT files)."""
    checks, counts = {}, {}
    for path in paths:
        f = sys.stdin if path == "-" else open(path, encoding="utf-8", errors="replace")
        cur = None
        for line in f:
            line = line.rstrip("\n")
            m = SUITE_START.match(line)
            if m:
                cur = (m.group(1), m.group(2))
                checks.setdefault(cur, [])
                counts.setdefault(cur, []).append(0)
            elif cur and line.startswith("PASS "):
                checks[cur].append((line[5:], True))
                counts[cur][-1] += 1
            elif cur and line.startswith("FAIL "):
                checks[cur].append((line[5:], False))
                counts[cur][-1] += 1
        if f is not sys.stdin:
            f.close()
    return checks, counts


def pattern(item):
    return re.compile(".*".join(re.escape(p) for p in item.split("…")), re.S)


def matches(pat, text, passed):
    if pat.fullmatch(text):
        return True
    if not passed:  # a FAIL line: the name may be followed by " (reason)"
        i = text.find(" (")
        while i >= 0:
            if pat.fullmatch(text[:i]):
                return True
            i = text.find(" (", i + 1)
    return False


def find(checks, suite, label, item):
    pat = pattern(item)
    return [(t, ok) for t, ok in checks.get((suite, label), []) if matches(pat, t, ok)]


def split_row(line):
    cells = line.strip().strip("|").split("|")
    return [c.strip() for c in cells]


def table_citations(doc):
    """Yields (where, suite, topology-tag or None, item, claimed_pass)."""
    lines = doc.splitlines()
    try:
        start = next(i for i, l in enumerate(lines) if l.startswith("## Features × clients"))
    except StopIteration:
        raise SystemExit("check_doc: no '## Features × clients' section in the doc")
    rows = []
    for l in lines[start + 1:]:
        if l.startswith("## "):
            break
        if l.startswith("|"):
            rows.append(l)
    if len(rows) < 3:
        raise SystemExit("check_doc: the features table has no rows")
    header = split_row(rows[0])
    cols = {}
    for i, h in enumerate(header[1:], 1):
        for key, suite in COLUMN_SUITES:
            if key in h:
                cols[i] = suite
                break
        else:
            raise SystemExit("check_doc: features table column %r maps to no suite" % h)
    for row in rows[2:]:
        cells = split_row(row)
        feature = cells[0]
        for i, cell in enumerate(cells[1:], 1):
            if i not in cols or cell.startswith("—") or not cell:
                continue
            claimed_pass = True
            for item in cell.split("; "):
                item = item.strip()
                if item.startswith("**failing on corral:**"):
                    claimed_pass = False
                    item = item[len("**failing on corral:**"):].strip()
                topo = None
                for t in CLIENT_TOPOLOGIES:
                    tag = "(%s topology) " % t
                    if item.startswith(tag):
                        topo, item = t, item[len(tag):]
                suite = cols[i]
                if item.startswith("ensemble suite: "):
                    suite, topo, item = "ensemble", OWN, item[len("ensemble suite: "):]
                where = "table row %r, column %s" % (feature[:50], cols[i])
                yield where, suite, topo, item, claimed_pass


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--doc", default=None, help="default: docs/compatibility.md next to compat-tests/")
    ap.add_argument("outputs", nargs="+")
    args = ap.parse_args()
    if args.doc is None:
        import os
        args.doc = os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                "..", "..", "docs", "compatibility.md")
    with open(args.doc, encoding="utf-8") as f:
        doc = f.read()
    checks, counts = parse_output(args.outputs)
    if not checks:
        print("check_doc: no '--- suite' output in %s" % ", ".join(args.outputs))
        return 2
    covered = sorted({label for (_, label) in checks if label in CLIENT_TOPOLOGIES})
    problems = []
    cited = 0

    def check_item(where, suite, labels, item, claimed_pass):
        found_any = []
        for label in labels:
            if (suite, label) not in checks:
                continue  # suite/topology not in this output: skipped
            hits = find(checks, suite, label, item)
            if not hits:
                problems.append('%s: "%s" is no %s check [%s]' % (where, item, suite, label))
            found_any += [(label, t, ok) for t, ok in hits]
        if not found_any:
            return
        fails = [(l, t) for l, t, ok in found_any if not ok]
        if claimed_pass and fails:
            problems.append('%s: "%s" is cited as passing but FAILs: %s'
                            % (where, item, "; ".join("[%s] %s" % f for f in fails)))
        if not claimed_pass and not fails:
            problems.append('%s: "%s" is cited as failing on corral but passes' % (where, item))

    for where, suite, topo, item, claimed_pass in table_citations(doc):
        cited += 1
        m = re.fullmatch(r"ensemble suite \((\d+) checks\)", item)
        if m:
            for n in counts.get(("ensemble", OWN), []):
                if n != int(m.group(1)):
                    problems.append("%s: says the ensemble suite has %s checks, it printed %d"
                                    % (where, m.group(1), n))
            continue
        labels = [OWN] if topo == OWN else [topo] if topo else list(CLIENT_TOPOLOGIES)
        check_item(where, suite, labels, item, claimed_pass)

    # Prose: SUITE "NAME".
    for m in re.finditer(r'\b(zkcli|cclient|curator|kazoo)\s+"([^"]+)"', doc):
        cited += 1
        suite, item = m.group(1), " ".join(m.group(2).split())
        where = "prose"
        hits = [(l, t, ok) for l in CLIENT_TOPOLOGIES for t, ok in find(checks, suite, l, item)]
        if not hits:
            if len(covered) == len(CLIENT_TOPOLOGIES):
                problems.append('%s: "%s" is no %s check' % (where, item, suite))
            continue
        fails = [(l, t) for l, t, ok in hits if not ok]
        if fails:
            problems.append('%s: "%s" is cited as passing but FAILs: %s'
                            % (where, item, "; ".join("[%s] %s" % f for f in fails)))

    # Prose: "the SUITE suite has N checks standalone, M in the ensemble".
    for m in re.finditer(r"the (\w+) suite has (\d+) checks standalone, (\d+) in the\s+ensemble", doc):
        cited += 1
        suite = m.group(1)
        for label, want in (("standalone", m.group(2)), ("ensemble", m.group(3))):
            for n in counts.get((suite, label), []):
                if n != int(want):
                    problems.append("prose: says the %s suite has %s checks %s, it printed %d"
                                    % (suite, want, label, n))

    for p in problems:
        print("check_doc: MISMATCH " + p)
    print("check_doc: %d citations in %s checked against %s (topologies: %s): %d mismatches"
          % (cited, args.doc, ", ".join(args.outputs),
             ", ".join(covered + ([OWN] if any(l == OWN for _, l in checks) else [])),
             len(problems)))
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
