#!/usr/bin/env python3
"""kazoo (Python ZooKeeper client) against the server under test.

Run by run.sh with CORRAL_CONNECT (one host:port, or every ensemble member's).  Prints one line per check,
"PASS name" or "FAIL name (reason)".  Every check runs in its own thread
with a deadline, so a check that raises or hangs is a FAIL and the rest go
on.  The checks assert ZooKeeper's observable behaviour: they must pass
against Apache ZooKeeper too (COMPAT_TARGET=zookeeper).

Server kill/restart: checks that need the server stopped or restarted ask
run.sh through files in KAZOO_CTL (write "req" with a command, wait for
"ack" holding the exit status), so the same Python process and its client
sessions live across the restart.

Environment:
  CORRAL_CONNECT  connect string: host:port of the server (or of the fault
                  proxy), host:port,host:port,host:port for an ensemble
  COMPAT_TOPOLOGY standalone (default) or ensemble: only names the server in
                  the read-only connect check
  KAZOO_CTL       control directory shared with run.sh (restart checks
                  FAIL without it)
  KAZOO_WAIT      seconds to wait for one expected event (default 5)
  KAZOO_LOG       file for kazoo's own log (default: discarded)
  KAZOO_ONLY      comma-separated substrings: run only matching checks
  KAZOO_TIMES     if set, print each check's duration to stderr
"""
import logging
import os
import queue
import sys
import threading
import time
import traceback

from kazoo.client import KazooClient
from kazoo.exceptions import (
    BadVersionError,
    NoAuthError,
    NoChildrenForEphemeralsError,
    NodeExistsError,
    NoNodeError,
    NotEmptyError,
    RolledBackError,
    RuntimeInconsistency,
)
from kazoo.protocol.states import EventType, KazooState, KeeperState, ZnodeStat
from kazoo.recipe.cache import TreeCache, TreeEvent
from kazoo.security import (
    ACL,
    ANYONE_ID_UNSAFE,
    Permissions,
    make_digest_acl,
    make_digest_acl_credential,
)

HOSTS = os.environ.get("CORRAL_CONNECT", "127.0.0.1:2181")
CTL = os.environ.get("KAZOO_CTL")
WAIT = float(os.environ.get("KAZOO_WAIT", "5"))

if os.environ.get("KAZOO_LOG"):
    logging.basicConfig(
        filename=os.environ["KAZOO_LOG"],
        level=logging.INFO,
        format="%(asctime)s %(threadName)s %(name)s %(levelname)s %(message)s",
    )
else:
    logging.getLogger("kazoo").addHandler(logging.NullHandler())
    logging.getLogger("kazoo").propagate = False


class CheckFailed(Exception):
    pass


def expect(cond, what):
    if not cond:
        raise CheckFailed(what)


def eq(actual, expected, what):
    if actual != expected:
        raise CheckFailed("%s: expected %r, got %r" % (what, expected, actual))


def raises(exc, fn, *args, **kwargs):
    """fn(*args) must raise exc (exactly that class or a subclass)."""
    try:
        got = fn(*args, **kwargs)
    except exc:
        return
    except Exception as e:  # noqa: BLE001
        raise CheckFailed(
            "%s%r: expected %s, got %s: %s"
            % (fn.__name__, args, exc.__name__, type(e).__name__, e)
        )
    raise CheckFailed(
        "%s%r: expected %s, returned %r" % (fn.__name__, args, exc.__name__, got)
    )


def wait_until(pred, what, timeout=None):
    """Polls pred (a local or server read) until true; FAIL after timeout."""
    deadline = time.monotonic() + (WAIT if timeout is None else timeout)
    while True:
        v = pred()
        if v:
            return v
        if time.monotonic() > deadline:
            raise CheckFailed("timed out after %.0fs waiting for %s" % (
                WAIT if timeout is None else timeout, what))
        time.sleep(0.02)


class Recorder:
    """Thread-safe list of observations with a timed wait on its length."""

    def __init__(self):
        self.items = []
        self.cond = threading.Condition()

    def add(self, item):
        with self.cond:
            self.items.append(item)
            self.cond.notify_all()

    def wait_len(self, n, what, timeout=None):
        timeout = WAIT if timeout is None else timeout
        with self.cond:
            ok = self.cond.wait_for(lambda: len(self.items) >= n, timeout)
            if not ok:
                raise CheckFailed(
                    "timed out after %.0fs waiting for %s (seen so far: %r)"
                    % (timeout, what, self.items)
                )
            return list(self.items)

    def wait_for(self, pred, what, timeout=None):
        timeout = WAIT if timeout is None else timeout
        with self.cond:
            ok = self.cond.wait_for(lambda: pred(self.items), timeout)
            if not ok:
                raise CheckFailed(
                    "timed out after %.0fs waiting for %s (seen so far: %r)"
                    % (timeout, what, self.items)
                )
            return list(self.items)

    def snapshot(self):
        with self.cond:
            return list(self.items)


FAST_RETRY = dict(max_tries=-1, delay=0.1, backoff=1.5, max_delay=0.5, max_jitter=0.05)


class Ctx:
    """Per-check resources: clients, threads; closed when the check ends."""

    def __init__(self, name):
        self.name = name
        self.clients = []

    def client(self, start=True, **kw):
        kw.setdefault("hosts", HOSTS)
        kw.setdefault("timeout", 10.0)
        kw.setdefault("connection_retry", dict(FAST_RETRY))
        kw.setdefault("command_retry", dict(max_tries=30, delay=0.1, backoff=1.5,
                                            max_delay=0.5, max_jitter=0.05))
        c = KazooClient(**kw)
        self.clients.append(c)
        if start:
            c.start(timeout=10)
        return c

    def thread(self, fn, *args):
        t = threading.Thread(target=fn, args=args, daemon=True)
        t.start()
        return t

    def close(self):
        def closer(c):
            try:
                c.stop()
                c.close()
            except Exception:  # noqa: BLE001
                pass
        ts = [self.thread(closer, c) for c in self.clients]
        for t in ts:
            t.join(5)


def join_all(threads, what, timeout=None):
    deadline = time.monotonic() + (timeout if timeout is not None else 4 * WAIT)
    for t in threads:
        t.join(max(0.0, deadline - time.monotonic()))
        if t.is_alive():
            raise CheckFailed("timed out waiting for %s" % what)


CHECKS = []


def check(name, deadline=40):
    def deco(fn):
        CHECKS.append((name, fn, deadline))
        return fn
    return deco


# Shared between the reconnect check and the one after it.
RECONNECT = {}


def server_ctl(cmd, timeout=60):
    """Asks run.sh to kill/restart the server; returns when it is done."""
    if not CTL:
        raise CheckFailed("KAZOO_CTL not set: run through run.sh")
    req, ack = os.path.join(CTL, "req"), os.path.join(CTL, "ack")
    try:
        os.unlink(ack)
    except FileNotFoundError:
        pass
    with open(req + ".tmp", "w") as f:
        f.write(cmd)
    os.rename(req + ".tmp", req)
    deadline = time.monotonic() + timeout
    while not os.path.exists(ack):
        if time.monotonic() > deadline:
            raise CheckFailed("run.sh did not carry out %r" % cmd)
        time.sleep(0.05)
    with open(ack) as f:
        rc = f.read().strip()
    os.unlink(ack)
    eq(rc, "0", "exit status of server %s" % cmd)


# ---------------------------------------------------------------- basics


@check("create flags: persistent, ephemeral, sequence, makepath, include_data")
def _(ctx):
    c = ctx.client()
    other = ctx.client()
    sid = c.client_id[0]
    expect(sid != 0, "session id is non-zero")
    eq(c.create("/basic/deep/node", b"p", makepath=True), "/basic/deep/node",
       "create with makepath returns the path")
    data, st = c.get("/basic/deep")
    eq(data, b"", "intermediate node made by makepath has empty data")
    eq(c.get("/basic/deep/node")[0], b"p", "data of the created node")
    eph = c.create("/basic/eph", b"e", ephemeral=True)
    eq(eph, "/basic/eph", "ephemeral path")
    eq(c.exists("/basic/eph").ephemeralOwner, sid, "ephemeralOwner of ephemeral")
    eq(c.exists("/basic/deep/node").ephemeralOwner, 0, "ephemeralOwner of persistent")
    c.create("/basic/seqs")
    s1 = c.create("/basic/seqs/s-", b"1", sequence=True)
    s2 = c.create("/basic/seqs/s-", b"2", sequence=True)
    s3 = c.create("/basic/seqs/es-", b"3", sequence=True, ephemeral=True)
    eq([s1, s2, s3],
       ["/basic/seqs/s-0000000000", "/basic/seqs/s-0000000001",
        "/basic/seqs/es-0000000002"],
       "sequential names count the parent's children creations")
    eq(c.exists(s3).ephemeralOwner, sid, "ephemeral sequential owner")
    path, st = c.create("/basic/withstat", b"abc", include_data=True)
    eq(path, "/basic/withstat", "create2 path")
    expect(isinstance(st, ZnodeStat), "create include_data returns a stat")
    eq((st.version, st.dataLength, st.numChildren), (0, 3, 0),
       "create2 stat (version, dataLength, numChildren)")
    eq(st.czxid, st.mzxid, "create2 stat czxid == mzxid")
    eq(other.get("/basic/withstat")[1].czxid, st.czxid, "czxid seen by another client")
    eq(sorted(other.get_children("/basic/seqs")),
       ["es-0000000002", "s-0000000000", "s-0000000001"], "children of /basic/seqs")
    # ephemerals go away when the session closes
    c.stop()
    eq(other.exists("/basic/eph"), None, "ephemeral after its session closed")
    eq(other.exists(s3), None, "ephemeral sequential after its session closed")
    eq(other.exists(s1) is not None, True, "persistent sequential survives")


@check("create errors: NodeExists, NoNode, NoChildrenForEphemerals")
def _(ctx):
    c = ctx.client()
    c.create("/cerr", b"x")
    raises(NodeExistsError, c.create, "/cerr", b"y")
    eq(c.get("/cerr")[0], b"x", "data unchanged after failed create")
    raises(NoNodeError, c.create, "/cerr/missing/child")
    c.create("/cerr/eph", ephemeral=True)
    raises(NoChildrenForEphemeralsError, c.create, "/cerr/eph/child")
    raises(NoNodeError, c.get, "/cerr/none")
    raises(NoNodeError, c.set, "/cerr/none", b"")
    raises(NoNodeError, c.delete, "/cerr/none")
    eq(c.exists("/cerr/none"), None, "exists of a missing node")


@check("get/set with versions, BadVersionError")
def _(ctx):
    c = ctx.client()
    c.create("/ver", b"a")
    data, st = c.get("/ver")
    eq((data, st.version), (b"a", 0), "initial data and version")
    st = c.set("/ver", b"b", version=0)
    eq(st.version, 1, "version after set with the right version")
    raises(BadVersionError, c.set, "/ver", b"c", version=0)
    data, st = c.get("/ver")
    eq((data, st.version), (b"b", 1), "data and version after failed set")
    st = c.set("/ver", b"d", version=-1)
    eq(st.version, 2, "version after unconditional set")
    eq(st.dataLength, 1, "dataLength")
    expect(st.mzxid > st.czxid, "mzxid advanced past czxid")
    raises(BadVersionError, c.delete, "/ver", version=1)
    expect(c.exists("/ver") is not None, "node still there after failed delete")
    c.delete("/ver", version=2)
    eq(c.exists("/ver"), None, "deleted with the right version")
    # empty and binary data round-trip
    c.create("/ver", b"\x00\xff\x01")
    eq(c.get("/ver")[0], b"\x00\xff\x01", "binary data")
    c.set("/ver", b"")
    eq(c.get("/ver")[0], b"", "empty data")


@check("exists/get/get_children watches: one-shot, in order")
def _(ctx):
    c = ctx.client()
    other = ctx.client()
    ev = Recorder()

    def cb(e):
        ev.add((e.type, e.path))

    eq(c.exists("/xw", watch=cb), None, "exists on missing node")
    other.create("/xw", b"1")
    got = ev.wait_len(1, "CREATED event")
    eq(got, [(EventType.CREATED, "/xw")], "exists watch on missing node")
    expect(c.exists("/xw", watch=cb) is not None, "exists after create")
    other.set("/xw", b"2")
    got = ev.wait_len(2, "CHANGED event")
    eq(got[1], (EventType.CHANGED, "/xw"), "exists watch on data change")
    # one-shot: the exists watch is gone; the next change must not fire it.
    other.set("/xw", b"3")
    c.get("/xw", watch=cb)
    c.get_children("/xw", watch=cb)
    other.create("/xw/kid")
    got = ev.wait_len(3, "CHILD event")
    other.delete("/xw/kid")
    other.delete("/xw")
    got = ev.wait_len(4, "DELETED event")
    eq(got, [(EventType.CREATED, "/xw"), (EventType.CHANGED, "/xw"),
             (EventType.CHILD, "/xw"), (EventType.DELETED, "/xw")],
       "events (a fired watch does not fire again)")


@check("ACL digest auth: add_auth, NoAuthError for others")
def _(ctx):
    alice = ctx.client(auth_data=[("digest", "alice:secret")])
    anon = ctx.client()
    wrong = ctx.client(auth_data=[("digest", "alice:wrong")])
    acl = make_digest_acl("alice", "secret", all=True)
    alice.create("/acl", b"private", acl=[acl])
    eq(alice.get("/acl")[0], b"private", "owner reads")
    raises(NoAuthError, anon.get_acls, "/acl")  # getACL needs READ or ADMIN
    acls, st = alice.get_acls("/acl")
    eq(len(acls), 1, "number of ACL entries")
    eq((acls[0].perms, acls[0].id.scheme, acls[0].id.id),
       (Permissions.ALL, "digest", make_digest_acl_credential("alice", "secret")),
       "stored digest ACL")
    raises(NoAuthError, anon.get, "/acl")
    raises(NoAuthError, anon.set, "/acl", b"x")
    raises(NoAuthError, anon.create, "/acl/kid")
    raises(NoAuthError, wrong.get, "/acl")
    expect(anon.exists("/acl") is not None, "exists needs no permission")
    anon.add_auth("digest", "alice:secret")
    eq(anon.get("/acl")[0], b"private", "reads after add_auth")
    anon.set("/acl", b"shared")
    eq(alice.get("/acl")[0], b"shared", "write by the newly authenticated client")


@check("ACL: read-only world ACL, set_acls with aversion")
def _(ctx):
    c = ctx.client()
    other = ctx.client()
    c.create("/aclro", b"r", acl=[ACL(Permissions.READ, ANYONE_ID_UNSAFE)])
    eq(other.get("/aclro")[0], b"r", "world can read")
    raises(NoAuthError, c.set, "/aclro", b"w")
    raises(NoAuthError, c.create, "/aclro/kid")
    c.create("/aclv", b"v")
    acls, st = c.get_acls("/aclv")
    eq((st.aversion, [(a.perms, a.id.scheme, a.id.id) for a in acls]),
       (0, [(Permissions.ALL, "world", "anyone")]), "default open ACL")
    rw = [ACL(Permissions.READ | Permissions.WRITE | Permissions.ADMIN, ANYONE_ID_UNSAFE)]
    st = c.set_acls("/aclv", rw, version=0)
    eq(st.aversion, 1, "aversion after set_acls")
    raises(BadVersionError, c.set_acls, "/aclv", rw, version=0)
    eq([a.perms for a in other.get_acls("/aclv")[0]],
       [Permissions.READ | Permissions.WRITE | Permissions.ADMIN], "perms after set_acls")
    other.set("/aclv", b"ok")
    raises(NoAuthError, other.create, "/aclv/kid")


@check("ensure_path and recursive delete")
def _(ctx):
    c = ctx.client()
    c.ensure_path("/ens/a/b/c")
    for p in ("/ens", "/ens/a", "/ens/a/b", "/ens/a/b/c"):
        expect(c.exists(p) is not None, "%s exists after ensure_path" % p)
    c.set("/ens/a/b/c", b"keep")
    c.ensure_path("/ens/a/b/c")
    eq(c.get("/ens/a/b/c")[0], b"keep", "ensure_path on an existing node keeps it")
    c.create("/ens/a/x", b"1")
    c.create("/ens/a/b/y", b"2")
    raises(NotEmptyError, c.delete, "/ens/a")
    c.delete("/ens", recursive=True)
    eq(c.exists("/ens"), None, "recursively deleted root")
    eq(c.exists("/ens/a/b/c"), None, "recursively deleted leaf")
    eq(c.get_children("/").count("ens"), 0, "not listed under /")


@check("get_children include_data and sync")
def _(ctx):
    c = ctx.client()
    c.create("/kids")
    last = None
    for name in ("c", "a", "b"):
        last = c.create("/kids/" + name, name.encode() * 2, include_data=True)[1]
    kids, st = c.get_children("/kids", include_data=True)
    eq(sorted(kids), ["a", "b", "c"], "children")
    eq((st.numChildren, st.cversion), (3, 3), "parent stat (numChildren, cversion)")
    eq(st.pzxid, last.czxid, "parent pzxid is the last child's czxid")
    c.delete("/kids/a")
    kids, st2 = c.get_children("/kids", include_data=True)
    eq((sorted(kids), st2.numChildren, st2.cversion), (["b", "c"], 2, 4),
       "after a delete (children, numChildren, cversion)")
    expect(st2.pzxid > st.pzxid, "pzxid advanced on child delete")
    eq(st2.version, 0, "parent data version unchanged by child changes")
    eq(c.sync("/kids"), "/kids", "sync returns the path")


# ---------------------------------------------------------- transactions


@check("transaction commit: results per op")
def _(ctx):
    c = ctx.client()
    c.create("/tx")
    t = c.transaction()
    t.create("/tx/a", b"1")
    t.create("/tx/s-", b"s", sequence=True)
    t.set_data("/tx/a", b"2")
    t.check("/tx/a", 1)
    t.create("/tx/b")
    t.delete("/tx/b")
    res = t.commit()
    eq(len(res), 6, "number of results")
    eq(res[0], "/tx/a", "create result")
    eq(res[1], "/tx/s-0000000001", "sequential create result")
    expect(isinstance(res[2], ZnodeStat) and res[2].version == 1,
           "set_data result is a stat with version 1 (got %r)" % (res[2],))
    eq(res[3:], [True, "/tx/b", True], "check, create, delete results")
    eq(c.get("/tx/a")[0], b"2", "committed data")
    eq(c.exists("/tx/b"), None, "created-then-deleted node")
    st = c.exists("/tx/a")
    eq(st.mzxid, res[2].mzxid, "one zxid for the multi")
    eq(st.czxid, st.mzxid, "create and set in one multi share a zxid")


@check("transaction failure: no partial effect, per-op errors")
def _(ctx):
    c = ctx.client()
    c.create("/txf")
    c.create("/txf/a", b"1")
    c.create("/txf/b", b"b")
    t = c.transaction()
    t.create("/txf/c", b"new")
    t.delete("/txf/b")
    t.set_data("/txf/a", b"2")
    t.check("/txf/a", 7)  # wrong version: fails
    t.create("/txf/d")
    res = t.commit()
    eq([type(r) for r in res],
       [RolledBackError, RolledBackError, RolledBackError, BadVersionError,
        RuntimeInconsistency],
       "per-op results of the failed multi")
    eq(c.exists("/txf/c"), None, "create before the failure not applied")
    eq(c.get("/txf/b")[0], b"b", "delete before the failure not applied")
    data, st = c.get("/txf/a")
    eq((data, st.version), (b"1", 0), "set before the failure not applied")
    eq(c.exists("/txf/d"), None, "op after the failure not applied")
    eq(c.get_children("/txf", include_data=True)[1].cversion, 2,
       "parent cversion untouched by the failed multi")
    t = c.transaction()
    t.create("/txf/a")  # exists: the first op fails
    t.delete("/txf/b")
    res = t.commit()
    eq([type(r) for r in res], [NodeExistsError, RuntimeInconsistency],
       "results when the first op fails")
    expect(c.exists("/txf/b") is not None, "nothing applied")


# --------------------------------------------------------------- watchers


@check("DataWatch: values and events in order")
def _(ctx):
    c = ctx.client()
    other = ctx.client()
    rec = Recorder()

    def watcher(data, stat, event):
        rec.add((data, stat.version if stat else None,
                 event.type if event else None))

    c.DataWatch("/dw", watcher)
    rec.wait_len(1, "initial call")
    steps = [
        (lambda: other.create("/dw", b"1"), (b"1", 0, EventType.CREATED)),
        (lambda: other.set("/dw", b"2"), (b"2", 1, EventType.CHANGED)),
        (lambda: other.set("/dw", b"3"), (b"3", 2, EventType.CHANGED)),
        (lambda: other.delete("/dw"), (None, None, EventType.DELETED)),
        (lambda: other.create("/dw", b"4"), (b"4", 0, EventType.CREATED)),
    ]
    for i, (act, _want) in enumerate(steps):
        act()
        rec.wait_len(i + 2, "DataWatch call %d" % (i + 2))
    eq(rec.snapshot(), [(None, None, None)] + [w for _a, w in steps],
       "DataWatch calls")


@check("ChildrenWatch: children lists in order")
def _(ctx):
    c = ctx.client()
    other = ctx.client()
    c.create("/cw")
    rec = Recorder()
    c.ChildrenWatch("/cw", lambda kids: rec.add(sorted(kids)))
    rec.wait_len(1, "initial call")
    steps = [
        (lambda: other.create("/cw/a"), ["a"]),
        (lambda: other.create("/cw/b", ephemeral=True), ["a", "b"]),
        (lambda: other.delete("/cw/a"), ["b"]),
        (lambda: other.set("/cw", b"data"), None),  # data change: no call
        (lambda: other.stop(), []),  # ephemeral goes with the session
    ]
    n = 1
    for act, want in steps:
        act()
        if want is not None:
            n += 1
            rec.wait_len(n, "ChildrenWatch call %d" % n)
    eq(rec.snapshot(), [[], ["a"], ["a", "b"], ["b"], []], "ChildrenWatch calls")


@check("TreeCache: initial tree, then add/update/remove events")
def _(ctx):
    c = ctx.client()
    other = ctx.client()
    c.create("/tc/x", b"x", makepath=True)
    c.create("/tc/x/y", b"y")
    rec = Recorder()
    tc = TreeCache(c, "/tc")
    tc.listen(lambda ev: rec.add(
        (ev.event_type, ev.event_data.path if ev.event_data else None)))
    tc.start()
    try:
        got = rec.wait_for(lambda it: (TreeEvent.INITIALIZED, None) in it,
                           "INITIALIZED")
        eq(sorted(p for t, p in got if t == TreeEvent.NODE_ADDED),
           ["/tc", "/tc/x", "/tc/x/y"], "initially added nodes")
        eq(tc.get_data("/tc/x/y").data, b"y", "cached data")
        base = len(got)
        other.create("/tc/x/z", b"z")
        rec.wait_len(base + 1, "NODE_ADDED /tc/x/z")
        other.set("/tc/x/y", b"y2")
        rec.wait_len(base + 2, "NODE_UPDATED /tc/x/y")
        other.delete("/tc/x/z")
        rec.wait_len(base + 3, "NODE_REMOVED /tc/x/z")
        eq(rec.snapshot()[base:],
           [(TreeEvent.NODE_ADDED, "/tc/x/z"), (TreeEvent.NODE_UPDATED, "/tc/x/y"),
            (TreeEvent.NODE_REMOVED, "/tc/x/z")], "events after INITIALIZED")
        eq(tc.get_data("/tc/x/y").data, b"y2", "cached data after update")
        eq(sorted(tc.get_children("/tc/x")), ["y"], "cached children")
    finally:
        tc.close()


# ---------------------------------------------------------------- recipes


@check("Lock: contended counter exact, no overlap", deadline=60)
def _(ctx):
    nclients, iters = 4, 15
    setup = ctx.client()
    setup.create("/lockctr", b"0")
    clients = [ctx.client() for _ in range(nclients)]
    guard = threading.Lock()
    state = {"holders": 0, "max": 0}
    errors = []

    def worker(i):
        c = clients[i]
        lock = c.Lock("/lock", "w%d" % i)
        try:
            for _ in range(iters):
                if not lock.acquire(timeout=WAIT):
                    errors.append("w%d: acquire returned False" % i)
                    return
                try:
                    with guard:
                        state["holders"] += 1
                        state["max"] = max(state["max"], state["holders"])
                    data, _st = c.get("/lockctr")
                    time.sleep(0.001)  # widen the read-modify-write window
                    c.set("/lockctr", str(int(data) + 1).encode())
                    with guard:
                        state["holders"] -= 1
                finally:
                    lock.release()
        except Exception as e:  # noqa: BLE001
            errors.append("w%d: %s: %s" % (i, type(e).__name__, e))

    join_all([ctx.thread(worker, i) for i in range(nclients)], "lock workers",
             timeout=4 * WAIT + 20)
    eq(errors, [], "worker errors")
    eq(state["max"], 1, "most holders inside the lock at once")
    eq(setup.get("/lockctr")[0], str(nclients * iters).encode(), "final count")
    eq(setup.get_children("/lock"), [], "lock nodes left behind")


@check("Lock: non-blocking acquire, contenders, release on session close")
def _(ctx):
    a, b, obs = ctx.client(), ctx.client(), ctx.client()
    la, lb = a.Lock("/lock2", "alice"), b.Lock("/lock2", "bob")
    eq(la.acquire(blocking=False), True, "free lock acquired")
    eq(lb.acquire(blocking=False), False, "held lock not acquired")
    eq(obs.Lock("/lock2").contenders(), ["alice"], "contenders")
    la.release()
    eq(lb.acquire(blocking=False), True, "acquired after release")
    b.stop()  # session close drops the ephemeral lock node
    eq(la.acquire(blocking=False), True, "acquired after the holder's session closed")
    eq(obs.Lock("/lock2").contenders(), ["alice"], "contenders after handover")


@check("Semaphore: max_leases respected, waiter gets a freed lease", deadline=60)
def _(ctx):
    a, b, c3, obs = ctx.client(), ctx.client(), ctx.client(), ctx.client()
    sa = a.Semaphore("/sem", "A", max_leases=2)
    sb = b.Semaphore("/sem", "B", max_leases=2)
    sc = c3.Semaphore("/sem", "C", max_leases=2)
    eq(sa.acquire(timeout=WAIT), True, "first lease")
    eq(sb.acquire(timeout=WAIT), True, "second lease")
    eq(sc.acquire(blocking=False), False, "third lease while two are held")
    eq(sorted(obs.Semaphore("/sem", max_leases=2).lease_holders()), ["A", "B"],
       "lease holders")
    got, armed = Recorder(), Recorder()
    orig = c3.get_children

    def signalling(*a, **kw):
        r = orig(*a, **kw)
        if a and a[0] == "/sem":
            armed.add(1)
        return r

    c3.get_children = signalling  # Semaphore._get_lease watches /sem's children

    def waiter():
        try:
            got.add(sc.acquire(timeout=WAIT))
        except Exception as e:  # noqa: BLE001
            got.add("%s: %s" % (type(e).__name__, e))

    ctx.thread(waiter)
    armed.wait_len(1, "C to watch the leases")
    eq(got.snapshot(), [], "C acquired while two leases are held")
    sa.release()
    eq(got.wait_len(1, "C's acquire")[0], True, "C acquired after A released")
    eq(sorted(obs.Semaphore("/sem", max_leases=2).lease_holders()), ["B", "C"],
       "lease holders after handover")
    sb.release()
    sc.release()
    # stress: 5 clients, 2 leases, count concurrent holders
    clients = [ctx.client() for _ in range(5)]
    guard = threading.Lock()
    st = {"in": 0, "max": 0, "done": 0}
    errors = []

    def worker(i):
        s = clients[i].Semaphore("/sem", "w%d" % i, max_leases=2)
        try:
            for _ in range(4):
                if not s.acquire(timeout=2 * WAIT):
                    errors.append("w%d timed out" % i)
                    return
                with guard:
                    st["in"] += 1
                    st["max"] = max(st["max"], st["in"])
                time.sleep(0.005)
                with guard:
                    st["in"] -= 1
                    st["done"] += 1
                s.release()
        except Exception as e:  # noqa: BLE001
            errors.append("w%d: %s: %s" % (i, type(e).__name__, e))

    join_all([ctx.thread(worker, i) for i in range(5)], "semaphore workers",
             timeout=6 * WAIT)
    eq(errors, [], "worker errors")
    eq(st["done"], 20, "leases taken")
    expect(st["max"] <= 2, "at most 2 holders at once (saw %d)" % st["max"])


@check("Election: one leader, failover when the leader's client stops", deadline=60)
def _(ctx):
    obs = ctx.client()
    obs.ensure_path("/elect")
    clients = [ctx.client() for _ in range(3)]
    leaders = Recorder()
    release = [threading.Event() for _ in range(3)]

    def contender(i):
        e = clients[i].Election("/elect", "c%d" % i)

        def lead():
            leaders.add("c%d" % i)
            release[i].wait(60)

        try:
            e.run(lead)
        except Exception:  # noqa: BLE001 (the stopped leader's release fails)
            pass

    for i in range(3):
        ctx.thread(contender, i)
    el = obs.Election("/elect")
    order = wait_until(lambda: len(el.contenders()) == 3 and el.contenders(),
                       "3 contenders")
    first = leaders.wait_len(1, "a leader")[0]
    eq(first, order[0], "leader is the first contender")
    eq(leaders.snapshot(), [first], "leaders so far")
    clients[int(first[1:])].stop()
    release[int(first[1:])].set()
    got = leaders.wait_len(2, "failover to the next contender")
    eq(got, [first, order[1]], "leaders after failover")
    eq(el.contenders(), order[1:], "contenders after failover")
    for r in release:
        r.set()


@check("Counter: concurrent increments exact")
def _(ctx):
    nclients, iters = 4, 25
    clients = [ctx.client() for _ in range(nclients)]
    posts, errors = Recorder(), []

    def worker(i):
        cnt = clients[i].Counter("/counter")
        try:
            for _ in range(iters):
                cnt += 1
                if cnt.post_value != cnt.pre_value + 1:
                    errors.append("pre %r post %r" % (cnt.pre_value, cnt.post_value))
                posts.add(cnt.post_value)
        except Exception as e:  # noqa: BLE001
            errors.append("%s: %s" % (type(e).__name__, e))

    join_all([ctx.thread(worker, i) for i in range(nclients)], "counter workers")
    eq(errors, [], "worker errors")
    total = nclients * iters
    eq(clients[0].Counter("/counter").value, total, "final value")
    eq(sorted(posts.snapshot()), list(range(1, total + 1)),
       "every increment saw a distinct value")
    f = clients[0].Counter("/fcounter", default=1.5)
    f += 2.25
    f -= 0.5
    eq(f.value, 3.25, "float counter")


@check("Barrier: waiters released when the barrier is removed")
def _(ctx):
    owner = ctx.client()
    b = owner.Barrier("/barrier")
    eq(b.wait(timeout=0.1), True, "wait on an absent barrier returns at once")
    b.create()
    eq(b.wait(timeout=0.3), False, "wait times out while the barrier is up")
    results, armed = Recorder(), Recorder()
    for i in range(2):
        c = ctx.client()
        orig = c.exists

        def exists_then_signal(*a, _orig=orig, **kw):
            r = _orig(*a, **kw)
            armed.add(1)
            return r

        c.exists = exists_then_signal  # Barrier.wait calls client.exists
        ctx.thread(lambda c=c: results.add(c.Barrier("/barrier").wait(timeout=2 * WAIT)))
    armed.wait_len(2, "waiters to set their watch")
    eq(results.snapshot(), [], "no waiter released while the barrier is up")
    eq(b.remove(), True, "remove")
    eq(results.wait_len(2, "waiters released", timeout=2 * WAIT + 1), [True, True],
       "waiters' results")
    eq(b.remove(), False, "second remove")


@check("DoubleBarrier: enter waits for all, leave completes for all", deadline=60)
def _(ctx):
    n = 3
    clients = [ctx.client() for _ in range(n)]
    obs = ctx.client()
    entered, left, errors = Recorder(), Recorder(), []
    barriers = [c.DoubleBarrier("/dbar", n, "m%d" % i) for i, c in enumerate(clients)]
    armed = Recorder()
    for i in range(2):
        orig = clients[i].get_children

        def signalling(*a, _orig=orig, _i=i, **kw):
            r = _orig(*a, **kw)
            armed.add(_i)  # enter() lists children after watching "ready"
            return r

        clients[i].get_children = signalling
    go_leave = threading.Event()

    def member(i):
        try:
            barriers[i].enter()
            entered.add((i, barriers[i].participating))
            go_leave.wait(60)
            barriers[i].leave()
            left.add(i)
        except Exception as e:  # noqa: BLE001
            errors.append("%s: %s" % (type(e).__name__, e))

    ctx.thread(member, 0)
    ctx.thread(member, 1)
    armed.wait_for(lambda it: set(it) == {0, 1}, "2 members waiting")
    eq(entered.snapshot(), [], "entered before all members arrived")
    ctx.thread(member, 2)
    got = entered.wait_len(n, "all members entered")
    eq(sorted(got), [(0, True), (1, True), (2, True)], "entered (member, participating)")
    expect(obs.exists("/dbar/ready") is not None, "ready node after all entered")
    go_leave.set()
    eq(sorted(left.wait_len(n, "all members left")), [0, 1, 2], "left")
    eq(errors, [], "member errors")
    eq(obs.get_children("/dbar"), [], "barrier children after leave")


@check("Party and ShallowParty: membership")
def _(ctx):
    cs = [ctx.client() for _ in range(3)]
    for cls in ("Party", "ShallowParty"):
        path = "/party-" + cls
        parties = [getattr(c, cls)(path, "m%d" % i) for i, c in enumerate(cs)]
        for p in parties:
            p.join()
        eq(len(parties[0]), 3, "%s size" % cls)
        eq(sorted(parties[1]), ["m0", "m1", "m2"], "%s members" % cls)
        parties[0].leave()
        eq(sorted(parties[2]), ["m1", "m2"], "%s members after leave" % cls)
        eq(len(parties[2]), 2, "%s size after leave" % cls)
    cs[1].stop()  # ephemeral membership goes with the session
    eq(sorted(cs[2].Party("/party-Party")), ["m2"], "Party after a member's session closed")
    eq(sorted(cs[2].ShallowParty("/party-ShallowParty")), ["m2"],
       "ShallowParty after a member's session closed")


@check("Queue: priority order, every item consumed exactly once")
def _(ctx):
    c = ctx.client()
    q = c.Queue("/q1")
    q.put(b"a")
    q.put(b"b")
    q.put(b"urgent", priority=10)
    q.put(b"c")
    eq(len(q), 4, "queue length")
    eq([q.get() for _ in range(5)], [b"urgent", b"a", b"b", b"c", None],
       "get order (priority first, then FIFO), None when empty")
    producer = ctx.client()
    pq = producer.Queue("/q2")
    items = [b"item-%02d" % i for i in range(30)]
    for it in items:
        pq.put(it)
    consumers = [ctx.client() for _ in range(3)]
    got = [[] for _ in consumers]
    errors = []

    def consume(i):
        cq = consumers[i].Queue("/q2")
        try:
            while True:
                v = cq.get()
                if v is None:
                    return
                got[i].append(v)
        except Exception as e:  # noqa: BLE001
            errors.append("%s: %s" % (type(e).__name__, e))

    join_all([ctx.thread(consume, i) for i in range(3)], "consumers")
    eq(errors, [], "consumer errors")
    eq(sorted(sum(got, [])), items, "all items consumed exactly once")
    for g in got:
        eq(g, sorted(g), "each consumer sees items in FIFO order")
    eq(len(pq), 0, "queue empty")


@check("LockingQueue: priority, release re-offers, consume removes")
def _(ctx):
    a, b = ctx.client(), ctx.client()
    qa, qb = a.LockingQueue("/lq1"), b.LockingQueue("/lq1")
    qa.put_all([b"1", b"2", b"3"])
    qa.put(b"0", priority=1)
    eq(len(qa), 4, "length")
    eq(qa.get(timeout=WAIT), b"0", "highest priority first")
    eq(qa.holds_lock(), True, "holds the lock on the taken entry")
    eq(qb.get(timeout=WAIT), b"1", "another consumer skips the locked entry")
    eq(qa.release(), True, "release")
    eq(qa.get(timeout=WAIT), b"0", "released entry is offered again")
    eq(qa.consume(), True, "consume")
    eq(qb.consume(), True, "consume by the other consumer")
    eq(len(qa), 2, "length after two consumes")
    eq(qb.get(timeout=WAIT), b"2", "next entry")
    b.stop()  # the lock on b"2" is ephemeral: it goes with the session
    eq(qa.get(timeout=WAIT), b"2", "entry of a closed session is offered again")
    eq(qa.consume(), True, "consume")
    eq(qa.get(timeout=WAIT), b"3", "last entry")
    eq(qa.consume(), True, "consume")
    eq(len(qa), 0, "empty")


@check("LockingQueue: blocked consumers woken by puts, exactly once", deadline=60)
def _(ctx):
    ncons, nitems = 2, 20
    producer = ctx.client()
    pq = producer.LockingQueue("/lq2")
    consumers = [ctx.client() for _ in range(ncons)]
    armed = Recorder()
    got = [[] for _ in range(ncons)]
    errors = []

    def consume(i):
        c = consumers[i]
        orig = c.get_children

        def signalling(*a, **kw):
            r = orig(*a, **kw)
            if a and a[0].endswith("/taken"):
                armed.add(i)
            return r

        c.get_children = signalling
        q = c.LockingQueue("/lq2")
        try:
            while True:
                v = q.get(timeout=2 * WAIT)
                if v is None:
                    errors.append("consumer %d timed out" % i)
                    return
                q.consume()
                if v == b"stop":
                    return
                got[i].append(v)
        except Exception as e:  # noqa: BLE001
            errors.append("%s: %s" % (type(e).__name__, e))

    ts = [ctx.thread(consume, i) for i in range(ncons)]
    armed.wait_for(lambda it: set(it) == set(range(ncons)), "consumers waiting")
    items = [b"job-%02d" % i for i in range(nitems)]
    for it in items:
        pq.put(it)
    pq.put_all([b"stop"] * ncons, priority=999)
    join_all(ts, "consumers", timeout=4 * WAIT + 10)
    eq(errors, [], "consumer errors")
    eq(sorted(sum(got, [])), items, "all items consumed exactly once")
    for g in got:
        eq(g, sorted(g), "each consumer sees items in order")
    eq(len(pq), 0, "queue empty")


# ------------------------------------------------------- sessions, connect


# A read-only-capable client gets a normal read-write session from any server
# that can serve writes: a standalone server, or an ensemble member with a
# quorum (ZooKeeper 3.8 answers readOnly=false in both).
RO_SERVER = ("an ensemble member with a quorum"
             if os.environ.get("COMPAT_TOPOLOGY") == "ensemble" else "a standalone server")


@check("read-only connect to %s" % RO_SERVER)
def _(ctx):
    w = ctx.client()
    w.create("/ro", b"readable")
    states = Recorder()
    c = ctx.client(read_only=True, start=False)
    c.add_listener(states.add)
    c.start(timeout=10)
    eq(c.client_state, KeeperState.CONNECTED,
       "state (a read-write server answers readOnly=false)")
    eq(c.get("/ro")[0], b"readable", "read")
    eq(c.create("/ro/w", b"x"), "/ro/w", "write through a read-only-capable session")
    eq(states.snapshot(), [KazooState.CONNECTED], "listener states")


@check("session expiry via a second client with the same client_id", deadline=60)
def _(ctx):
    obs = ctx.client()
    # A slow reconnect gives the second client time to take and close the session.
    a = ctx.client(connection_retry=dict(max_tries=-1, delay=2.0, backoff=1,
                                         max_delay=2.0, max_jitter=0))
    states = Recorder()
    a.add_listener(states.add)
    a.create("/sess/eph", b"e", ephemeral=True, makepath=True)
    old = a.client_id
    twin = KazooClient(hosts=HOSTS, client_id=old, timeout=10.0)
    twin.start(timeout=10)
    try:
        eq(twin.client_id, old, "twin attached to the same session")
        eq(obs.exists("/sess/eph").ephemeralOwner, old[0], "owner while the twin holds it")
    finally:
        twin.stop()
        twin.close()
    eq(obs.exists("/sess/eph"), None, "ephemeral after the session was closed")
    got = states.wait_for(lambda it: KazooState.LOST in it, "LOST", timeout=15)
    eq(got[0], KazooState.SUSPENDED, "first state change")
    states.wait_for(lambda it: it[-1] == KazooState.CONNECTED and
                    KazooState.LOST in it, "CONNECTED with a new session", timeout=15)
    expect(a.client_id[0] not in (0, old[0]),
           "new session id after expiry (old %#x, now %#x)" % (old[0], a.client_id[0]))
    eq(a.exists("/sess/eph"), None, "ephemeral seen by the new session")
    a.create("/sess/eph", b"again", ephemeral=True)
    eq(obs.exists("/sess/eph").ephemeralOwner, a.client_id[0], "new ephemeral owner")


@check("connection loss and reconnect keep the session", deadline=90)
def _(ctx):
    a = ctx.client(timeout=20.0)
    states = Recorder()
    a.add_listener(states.add)
    a.create("/rc/eph", b"e", ephemeral=True, makepath=True)
    a.create("/rc/data", b"v1")
    dw, cw = Recorder(), Recorder()
    a.DataWatch("/rc/data", lambda d, s: dw.add(d))
    a.ChildrenWatch("/rc", lambda kids: cw.add(sorted(kids)))
    dw.wait_len(1, "DataWatch initial")
    cw.wait_len(1, "ChildrenWatch initial")
    old = a.client_id
    server_ctl("kill")
    states.wait_for(lambda it: KazooState.SUSPENDED in it, "SUSPENDED", timeout=15)
    server_ctl("restart")
    states.wait_for(lambda it: it and it[-1] == KazooState.CONNECTED,
                    "CONNECTED after restart", timeout=20)
    eq(states.snapshot(), [KazooState.SUSPENDED, KazooState.CONNECTED],
       "state changes (no LOST)")
    eq(a.client_id, old, "same session after reconnect")
    eq(a.get("/rc/data")[0], b"v1", "data survived the restart")
    eq(a.exists("/rc/eph").ephemeralOwner, old[0], "ephemeral survived the reconnect")
    RECONNECT.update(a=a, dw=dw, cw=cw, ctx=ctx)
    ctx.clients.remove(a)  # kept open for the next check


@check("watches survive reconnect (SetWatches)")
def _(ctx):
    if "a" not in RECONNECT:
        raise CheckFailed("the reconnect check did not get this far")
    a, dw, cw = RECONNECT["a"], RECONNECT["dw"], RECONNECT["cw"]
    ctx.clients.append(a)
    other = ctx.client()
    other.set("/rc/data", b"v2")
    eq(dw.wait_len(2, "DataWatch after reconnect"), [b"v1", b"v2"], "DataWatch values")
    other.create("/rc/new")
    eq(cw.wait_len(2, "ChildrenWatch after reconnect"),
       [["data", "eph"], ["data", "eph", "new"]], "ChildrenWatch lists")


# ----------------------------------------------------------------- driver


def run_check(name, fn, deadline):
    ctx = Ctx(name)
    out = {}

    def body():
        try:
            fn(ctx)
            out["ok"] = True
        except CheckFailed as e:
            out["err"] = str(e)
        except Exception as e:  # noqa: BLE001
            tb = traceback.extract_tb(e.__traceback__)
            where = "line %d" % tb[-1].lineno if tb else "?"
            for fr in reversed(tb):
                if fr.filename == __file__:
                    where = "checks.py:%d" % fr.lineno
                    break
            out["err"] = "%s: %s at %s" % (type(e).__name__, e, where)

    t = threading.Thread(target=body, name="check", daemon=True)
    t0 = time.monotonic()
    t.start()
    t.join(deadline)
    if t.is_alive():
        out["err"] = "hung: no result after %ds" % deadline
    ctx.close()
    if os.environ.get("KAZOO_TIMES"):
        print("time %.2fs %s" % (time.monotonic() - t0, name), file=sys.stderr, flush=True)
    if out.get("ok"):
        print("PASS %s" % name, flush=True)
        return True
    reason = " ".join(str(out.get("err", "no result")).split())
    if len(reason) > 400:
        reason = reason[:400] + "..."
    print("FAIL %s (%s) [%.1fs]" % (name, reason, time.monotonic() - t0), flush=True)
    return False


def main():
    only = [s for s in os.environ.get("KAZOO_ONLY", "").split(",") if s]
    ok = True
    for name, fn, deadline in CHECKS:
        if only and not any(s in name for s in only):
            continue
        ok = run_check(name, fn, deadline) and ok
    sys.stdout.flush()
    # kazoo's threads of hung checks must not keep the process alive
    os._exit(0 if ok else 1)


if __name__ == "__main__":
    main()
