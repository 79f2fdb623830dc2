package compat;

import static compat.Harness.b;
import static compat.Harness.eq;
import static compat.Harness.eqHex;
import static compat.Harness.expectThrow;
import static compat.Harness.next;
import static compat.Harness.ok;
import static compat.Harness.s;
import static compat.Harness.sorted;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.Collections;
import java.util.List;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;

import org.apache.curator.framework.CuratorFramework;
import org.apache.curator.framework.CuratorFrameworkFactory;
import org.apache.curator.framework.recipes.nodes.PersistentNode;
import org.apache.curator.framework.state.ConnectionState;
import org.apache.curator.retry.RetryNTimes;
import org.apache.zookeeper.AsyncCallback;
import org.apache.zookeeper.CreateMode;
import org.apache.zookeeper.KeeperException;
import org.apache.zookeeper.Watcher;
import org.apache.zookeeper.ZooDefs;
import org.apache.zookeeper.ZooKeeper;
import org.apache.zookeeper.data.ACL;
import org.apache.zookeeper.data.Id;
import org.apache.zookeeper.data.Stat;
import org.apache.zookeeper.server.auth.DigestAuthenticationProvider;

/** Sessions, ACLs, pipelining and big payloads with the plain client; session expiry under Curator. */
final class SessionChecks {
    static final List<ACL> OPEN = ZooDefs.Ids.OPEN_ACL_UNSAFE;

    private final Harness h;

    SessionChecks(Harness h) {
        this.h = h;
    }

    void run() {
        h.check("zk session timeout negotiation (tickTime=2000: min 4000, max 40000)", 30, this::timeoutNegotiation);
        h.check("zk session reattach: id+password shares it, wrong password is Expired, close ends it", 40, this::reattach);
        h.check("zk ephemerals go when the session closes (and watchers hear it)", 30, this::ephemeralOnClose);
        h.check("zk ACLs: world/digest/ip/auth schemes, per-operation permissions", 30, this::acls);
        h.check("zk async pipelining: 400 mixed async ops answered in order", 30, this::pipelining);
        h.check("zk large data (1,000,000 bytes) and 2,000 children round trip", 60, this::bigPayloads);
        h.check("curator namespace: paths and watch events relative to it", 30, this::namespace);
        h.check("curator session expiry: LOST, then RECONNECTED on a new session; PersistentNode re-creates", 60,
                this::curatorExpiry);
    }

    ZooKeeper zkWithTimeout(int timeoutMs) throws Exception {
        CountDownLatch connected = new CountDownLatch(1);
        ZooKeeper zk = new ZooKeeper(h.connect, timeoutMs, e -> {
            if (e.getState() == Watcher.Event.KeeperState.SyncConnected) connected.countDown();
        });
        Harness.await(connected, "connection");
        return zk;
    }

    void timeoutNegotiation() throws Exception {
        try (Harness.Res r = new Harness.Res()) {
            eq("negotiated for 1000 requested", 4000, r.add(zkWithTimeout(1000)).getSessionTimeout());
            eq("negotiated for 12345 requested", 12345, r.add(zkWithTimeout(12345)).getSessionTimeout());
            eq("negotiated for 100000 requested", 40000, r.add(zkWithTimeout(100000)).getSessionTimeout());
            // a client that allows read-only mode still gets a read-write session from a healthy server
            BlockingQueue<Watcher.Event.KeeperState> st = new LinkedBlockingQueue<>();
            ZooKeeper ro = r.add(new ZooKeeper(h.connect, 15000, e -> st.add(e.getState()), true));
            eq("canBeReadOnly client state", Watcher.Event.KeeperState.SyncConnected, next(st, "connection"));
            eq("canBeReadOnly client mode", ZooKeeper.States.CONNECTED, ro.getState());
            ro.create("/zk-rw-ok", new byte[0], OPEN, CreateMode.EPHEMERAL);
        }
    }

    /** A handle on an existing session; records connection states. */
    ZooKeeper attach(long sid, byte[] passwd, BlockingQueue<Watcher.Event.KeeperState> states) throws Exception {
        return new ZooKeeper(h.connect, 15000, e -> {
            if (e.getType() == Watcher.Event.EventType.None) states.add(e.getState());
        }, sid, passwd);
    }

    void reattach() throws Exception {
        try (Harness.Res r = new Harness.Res()) {
            BlockingQueue<Watcher.Event.KeeperState> s1 = new LinkedBlockingQueue<>();
            ZooKeeper zk1 = r.add(new ZooKeeper(h.connect, 15000, e -> {
                if (e.getType() == Watcher.Event.EventType.None) s1.add(e.getState());
            }));
            eq("zk1 state", Watcher.Event.KeeperState.SyncConnected, next(s1, "zk1 connected"));
            ZooKeeper observer = r.add(h.zk());
            long sid = zk1.getSessionId();
            zk1.create("/zk-reattach", b("mine"), OPEN, CreateMode.EPHEMERAL);

            // Wrong password: the server refuses the session, the client reports Expired.
            byte[] bad = zk1.getSessionPasswd().clone();
            bad[0] ^= 0x55;
            BlockingQueue<Watcher.Event.KeeperState> sb = new LinkedBlockingQueue<>();
            ZooKeeper wrong = r.add(attach(sid, bad, sb));
            eq("state with a wrong password", Watcher.Event.KeeperState.Expired, next(sb, "Expired for a wrong password"));
            ok(observer.exists("/zk-reattach", false) != null, "a wrong-password attach ended the session");

            // Right password: same session from a second handle, then close it for real.
            boolean ended = false;
            for (int attempt = 0; attempt < 3 && !ended; attempt++) {
                BlockingQueue<Watcher.Event.KeeperState> s2 = new LinkedBlockingQueue<>();
                ZooKeeper zk2 = attach(sid, zk1.getSessionPasswd(), s2);
                try {
                    eq("second handle state", Watcher.Event.KeeperState.SyncConnected, next(s2, "second handle connected"));
                    eqHex("second handle session id", sid, zk2.getSessionId());
                    Stat st = zk2.exists("/zk-reattach", false);
                    ok(st != null, "the session's ephemeral is not visible to its second handle");
                    eqHex("ephemeral owner", sid, st.getEphemeralOwner());
                    eq("getEphemerals from the second handle", List.of("/zk-reattach"), zk2.getEphemerals("/zk-reattach"));
                } finally {
                    zk2.close(); // closeSession: ends the shared session (unless zk1 took the connection back first)
                }
                ended = observer.exists("/zk-reattach", false) == null;
            }
            ok(ended, "closing the second handle did not end the session (ephemeral still there)");
            long deadline = System.currentTimeMillis() + Harness.EVENT_TIMEOUT_MS * 2;
            Watcher.Event.KeeperState st;
            do {
                st = s1.poll(Math.max(1, deadline - System.currentTimeMillis()), TimeUnit.MILLISECONDS);
            } while (st != null && st != Watcher.Event.KeeperState.Expired);
            eq("first handle's final state", Watcher.Event.KeeperState.Expired, st);
            expectThrow("an operation on the expired handle", KeeperException.SessionExpiredException.class,
                    () -> zk1.exists("/", false));
        }
    }

    void ephemeralOnClose() throws Exception {
        try (Harness.Res r = new Harness.Res()) {
            ZooKeeper owner = h.zk();
            ZooKeeper watcher = r.add(h.zk());
            BlockingQueue<String> q = new LinkedBlockingQueue<>();
            try {
                watcher.create("/zk-close", new byte[0], OPEN, CreateMode.PERSISTENT);
                owner.create("/zk-close/e1", new byte[0], OPEN, CreateMode.EPHEMERAL);
                owner.create("/zk-close/e2-", new byte[0], OPEN, CreateMode.EPHEMERAL_SEQUENTIAL);
                watcher.getData("/zk-close/e1", ZkChecks.recorder(q), null);
                watcher.getChildren("/zk-close", ZkChecks.recorder(q));
            } finally {
                owner.close();
            }
            // close() returns after the server processed closeSession
            eq("children right after close", Collections.emptyList(), watcher.getChildren("/zk-close", false));
            List<String> got = new ArrayList<>();
            got.add(next(q, "the first event for the closed session's ephemerals"));
            got.add(next(q, "the second event for the closed session's ephemerals"));
            eq("events to watchers", Arrays.asList("NodeChildrenChanged /zk-close", "NodeDeleted /zk-close/e1"), sorted(got));
        }
    }

    void acls() throws Exception {
        try (Harness.Res r = new Harness.Res()) {
            ZooKeeper anon = r.add(h.zk());
            ZooKeeper alice = r.add(h.zk());
            alice.addAuthInfo("digest", b("alice:secret"));
            String base = "/zk-acl";
            anon.create(base, new byte[0], OPEN, CreateMode.PERSISTENT);
            Id aliceId = new Id("digest", DigestAuthenticationProvider.generateDigest("alice:secret"));

            // digest: alice may write, the world may only read
            List<ACL> aliceWrites = Arrays.asList(new ACL(ZooDefs.Perms.ALL, aliceId), new ACL(ZooDefs.Perms.READ, ZooDefs.Ids.ANYONE_ID_UNSAFE));
            alice.create(base + "/d", b("v0"), aliceWrites, CreateMode.PERSISTENT);
            eq("anonymous read", "v0", s(anon.getData(base + "/d", false, null)));
            expectThrow("anonymous write", KeeperException.NoAuthException.class, () -> anon.setData(base + "/d", b("x"), -1));
            eq("alice write version", 1, alice.setData(base + "/d", b("v1"), -1).getVersion());
            eq("getACL with ADMIN", aliceWrites, alice.getACL(base + "/d", new Stat()));
            eq("getACL without ADMIN redacts digests", Arrays.asList(new ACL(ZooDefs.Perms.ALL, new Id("digest", "alice:x")),
                    new ACL(ZooDefs.Perms.READ, ZooDefs.Ids.ANYONE_ID_UNSAFE)), anon.getACL(base + "/d", new Stat()));

            // "auth" scheme: the creator's authenticated ids; invalid without any
            alice.create(base + "/auth", b(""), ZooDefs.Ids.CREATOR_ALL_ACL, CreateMode.PERSISTENT);
            eq("auth scheme resolves to the digest id", Arrays.asList(new ACL(ZooDefs.Perms.ALL, aliceId)), alice.getACL(base + "/auth", null));
            expectThrow("auth scheme without authentication", KeeperException.InvalidACLException.class,
                    () -> anon.create(base + "/auth2", b(""), ZooDefs.Ids.CREATOR_ALL_ACL, CreateMode.PERSISTENT));
            expectThrow("unknown scheme", KeeperException.InvalidACLException.class,
                    () -> anon.create(base + "/bad", b(""), Arrays.asList(new ACL(ZooDefs.Perms.ALL, new Id("nosuch", "x"))), CreateMode.PERSISTENT));

            // ip scheme
            anon.create(base + "/ip-local", b("l"), Arrays.asList(new ACL(ZooDefs.Perms.ALL, new Id("ip", "127.0.0.1"))), CreateMode.PERSISTENT);
            eq("read with a matching ip ACL", "l", s(anon.getData(base + "/ip-local", false, null)));
            anon.create(base + "/ip-other", b("o"), Arrays.asList(new ACL(ZooDefs.Perms.ALL, new Id("ip", "10.9.8.7"))), CreateMode.PERSISTENT);
            expectThrow("read with a non-matching ip ACL", KeeperException.NoAuthException.class,
                    () -> anon.getData(base + "/ip-other", false, null));
            expectThrow("getChildren with a non-matching ip ACL", KeeperException.NoAuthException.class,
                    () -> anon.getChildren(base + "/ip-other", false));
            expectThrow("getACL needs READ or ADMIN", KeeperException.NoAuthException.class,
                    () -> anon.getACL(base + "/ip-other", null));
            ok(anon.exists(base + "/ip-other", false) != null, "exists() needs no permission");

            // create and delete need CREATE / DELETE on the parent
            anon.create(base + "/nocreate", b(""), Arrays.asList(new ACL(ZooDefs.Perms.ALL & ~ZooDefs.Perms.CREATE, ZooDefs.Ids.ANYONE_ID_UNSAFE)), CreateMode.PERSISTENT);
            expectThrow("create without CREATE on the parent", KeeperException.NoAuthException.class,
                    () -> anon.create(base + "/nocreate/kid", b(""), OPEN, CreateMode.PERSISTENT));
            anon.create(base + "/nodelete", b(""), OPEN, CreateMode.PERSISTENT);
            anon.create(base + "/nodelete/kid", b(""), OPEN, CreateMode.PERSISTENT);
            anon.setACL(base + "/nodelete", Arrays.asList(new ACL(ZooDefs.Perms.ALL & ~ZooDefs.Perms.DELETE, ZooDefs.Ids.ANYONE_ID_UNSAFE)), -1);
            expectThrow("delete without DELETE on the parent", KeeperException.NoAuthException.class,
                    () -> anon.delete(base + "/nodelete/kid", -1));
            expectThrow("setACL with a stale aversion", KeeperException.BadVersionException.class,
                    () -> alice.setACL(base + "/d", OPEN, 5));
            expectThrow("setACL without ADMIN", KeeperException.NoAuthException.class,
                    () -> anon.setACL(base + "/d", OPEN, -1));
        }
    }

    void pipelining() throws Exception {
        try (Harness.Res r = new Harness.Res()) {
            ZooKeeper zk = r.add(h.zk());
            String base = "/zk-pipe";
            zk.create(base, new byte[0], OPEN, CreateMode.PERSISTENT);
            final int n = 100;
            List<String> order = Collections.synchronizedList(new ArrayList<>());
            List<String> problems = Collections.synchronizedList(new ArrayList<>());
            CountDownLatch done = new CountDownLatch(4 * n + 1);
            for (int i = 0; i < n; i++) {
                String p = base + "/n" + i;
                int k = i;
                zk.create(p, b("c" + i), OPEN, CreateMode.PERSISTENT, (AsyncCallback.StringCallback) (rc, path, ctx, name) -> {
                    order.add("create " + k);
                    if (rc != 0) problems.add("create " + k + " rc " + rc);
                    done.countDown();
                }, null);
                zk.setData(p, b("s" + i), 0, (rc, path, ctx, stat) -> {
                    order.add("set " + k);
                    if (rc != 0 || stat.getVersion() != 1) problems.add("set " + k + " rc " + rc);
                    done.countDown();
                }, null);
                zk.getData(p, false, (rc, path, ctx, data, stat) -> {
                    order.add("get " + k);
                    if (rc != 0 || !("s" + k).equals(s(data))) problems.add("get " + k + " rc " + rc + " data " + s(data));
                    done.countDown();
                }, null);
                zk.exists(base + "/missing" + i, false, (rc, path, ctx, stat) -> {
                    order.add("exists " + k);
                    if (rc != KeeperException.Code.NONODE.intValue()) problems.add("exists " + k + " rc " + rc);
                    done.countDown();
                }, null);
            }
            zk.sync(base, (rc, path, ctx) -> {
                order.add("sync");
                if (rc != 0) problems.add("sync rc " + rc);
                done.countDown();
            }, null);
            ok(done.await(Harness.EVENT_TIMEOUT_MS * 3, TimeUnit.MILLISECONDS), "only " + (4 * n + 1 - done.getCount()) + " callbacks");
            ok(problems.isEmpty(), String.join("; ", new ArrayList<>(problems)));
            List<String> expected = new ArrayList<>();
            for (int i = 0; i < n; i++) {
                expected.addAll(List.of("create " + i, "set " + i, "get " + i, "exists " + i));
            }
            expected.add("sync");
            eq("callback order", expected, new ArrayList<>(order));
        }
    }

    void bigPayloads() throws Exception {
        try (Harness.Res r = new Harness.Res()) {
            ZooKeeper zk = r.add(h.zk());
            byte[] big = new byte[1_000_000];
            for (int i = 0; i < big.length; i++) big[i] = (byte) (i * 31 + 7);
            zk.create("/zk-big", big, OPEN, CreateMode.PERSISTENT);
            Stat st = new Stat();
            byte[] back = zk.getData("/zk-big", false, st);
            eq("dataLength", big.length, st.getDataLength());
            ok(Arrays.equals(big, back), "1,000,000 bytes came back different");
            String base = "/zk-many";
            zk.create(base, new byte[0], OPEN, CreateMode.PERSISTENT);
            final int n = 2000;
            CountDownLatch done = new CountDownLatch(n);
            List<Integer> bad = Collections.synchronizedList(new ArrayList<>());
            String pad = "-abcdefghijklmnopqrstuvwxyz0123456789";
            for (int i = 0; i < n; i++) {
                zk.create(base + "/child-" + i + pad, new byte[0], OPEN, CreateMode.PERSISTENT, (AsyncCallback.StringCallback) (rc, p, ctx, name) -> {
                    if (rc != 0) bad.add(rc);
                    done.countDown();
                }, null);
            }
            ok(done.await(30, TimeUnit.SECONDS), "creates not answered");
            eq("create errors", Collections.emptyList(), new ArrayList<>(bad));
            Stat ps = new Stat();
            List<String> kids = zk.getChildren(base, false, ps);
            eq("children", n, kids.size());
            eq("numChildren", n, ps.getNumChildren());
            ok(kids.contains("child-1999" + pad), "a child is missing");
            eq("getAllChildrenNumber", n, zk.getAllChildrenNumber(base));
        }
    }

    void namespace() throws Exception {
        try (Harness.Res r = new Harness.Res()) {
            CuratorFramework ns = CuratorFrameworkFactory.builder().connectString(h.connect).namespace("cur-ns")
                    .sessionTimeoutMs(15000).connectionTimeoutMs(5000).retryPolicy(new RetryNTimes(3, 200)).build();
            r.add(ns);
            ns.start();
            ok(ns.blockUntilConnected(10, TimeUnit.SECONDS), "namespaced client did not connect");
            CuratorFramework plain = r.add(h.curator());
            ns.create().creatingParentsIfNeeded().forPath("/a/b", b("x"));
            eq("seen without the namespace", "x", s(plain.getData().forPath("/cur-ns/a/b")));
            BlockingQueue<String> q = new LinkedBlockingQueue<>();
            ns.getData().usingWatcher((Watcher) e -> q.add(e.getType() + " " + e.getPath())).forPath("/a/b");
            ns.checkExists().usingWatcher((Watcher) e -> q.add(e.getType() + " " + e.getPath())).forPath("/a/c");
            plain.setData().forPath("/cur-ns/a/b", b("y"));
            eq("data watch event path", "NodeDataChanged /a/b", next(q, "NodeDataChanged"));
            plain.create().forPath("/cur-ns/a/c");
            eq("exists watch event path", "NodeCreated /a/c", next(q, "NodeCreated"));
            eq("children", List.of("b", "c"), sorted(ns.getChildren().forPath("/a")));
            ok(ns.checkExists().forPath("/cur-ns") == null, "the namespace was applied twice");
        }
    }

    void curatorExpiry() throws Exception {
        try (Harness.Res r = new Harness.Res()) {
            List<ConnectionState> states = Collections.synchronizedList(new ArrayList<>());
            BlockingQueue<ConnectionState> q = new LinkedBlockingQueue<>();
            CuratorFramework c = r.add(h.curator(10000));
            c.getConnectionStateListenable().addListener((cl, st) -> {
                states.add(st);
                q.add(st);
            });
            CuratorFramework other = r.add(h.curator());
            String path = "/cur-expiry/eph";
            PersistentNode pn = r.add(new PersistentNode(c, CreateMode.EPHEMERAL, false, path, b("p")));
            pn.start();
            ok(pn.waitForInitialCreate(Harness.EVENT_TIMEOUT_MS, TimeUnit.MILLISECONDS), "initial create did not happen");
            long before = Harness.sessionId(c);
            eqHex("owner before", before, other.checkExists().forPath(path).getEphemeralOwner());
            byte[] passwd = c.getZookeeperClient().getZooKeeper().getSessionPasswd();

            // End the session from a second handle on it (how Curator's own tests expire sessions).
            boolean lost = false;
            for (int attempt = 0; attempt < 3 && !lost; attempt++) {
                BlockingQueue<Watcher.Event.KeeperState> s2 = new LinkedBlockingQueue<>();
                ZooKeeper dup = attach(before, passwd, s2);
                try {
                    next(s2, "the second handle to connect");
                } finally {
                    dup.close();
                }
                long deadline = System.currentTimeMillis() + Harness.EVENT_TIMEOUT_MS * 2;
                while (!lost && System.currentTimeMillis() < deadline) {
                    ConnectionState st = q.poll(100, TimeUnit.MILLISECONDS);
                    lost = st == ConnectionState.LOST;
                }
            }
            ok(lost, "no LOST after the session was closed; states " + states);
            ConnectionState st;
            do {
                st = next(q, "RECONNECTED after LOST; states " + states);
            } while (st != ConnectionState.RECONNECTED);
            long after = Harness.sessionId(c);
            ok(after != before, "same session id after LOST");
            Harness.waitUntil("PersistentNode to re-create its ephemeral on the new session", Harness.EVENT_TIMEOUT_MS, () -> {
                Stat s = other.checkExists().forPath(path);
                return s != null && s.getEphemeralOwner() == after;
            });
        }
    }
}
