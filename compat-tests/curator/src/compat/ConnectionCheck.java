package compat;

import static compat.Harness.b;
import static compat.Harness.eq;
import static compat.Harness.eqHex;
import static compat.Harness.ok;
import static compat.Harness.s;

import java.io.File;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;

import org.apache.curator.framework.CuratorFramework;
import org.apache.curator.framework.CuratorFrameworkFactory;
import org.apache.curator.framework.recipes.cache.CuratorCache;
import org.apache.curator.framework.recipes.cache.CuratorCacheListener;
import org.apache.curator.framework.state.ConnectionState;
import org.apache.curator.retry.ExponentialBackoffRetry;
import org.apache.zookeeper.CreateMode;
import org.apache.zookeeper.Watcher;
import org.apache.zookeeper.ZooKeeper;
import org.apache.zookeeper.data.Stat;

/**
 * Curator's connection-state handling across a server restart. Talks to
 * run.sh: prints READY-FOR-KILL (run.sh then kills the server), prints
 * SAW-SUSPENDED or NO-SUSPENDED (run.sh then restarts it on the same port
 * and data dir, and creates CTL/restarted).
 */
final class ConnectionCheck {
    static final int SESSION_TIMEOUT_MS = 30000;

    private final Harness h;
    private final File ctl;
    private final List<ConnectionState> states = Collections.synchronizedList(new ArrayList<>());
    private final BlockingQueue<ConnectionState> queue = new LinkedBlockingQueue<>();
    private CuratorFramework client;
    /** Plain handle holding one-shot watches (re-sent with SetWatches after reconnect). */
    private ZooKeeper zkw;
    private final BlockingQueue<Watcher.Event.KeeperState> zkwStates = new LinkedBlockingQueue<>();
    private final BlockingQueue<String> zkwEvents = new LinkedBlockingQueue<>();
    /** CuratorCache on the Curator client: a persistent recursive watch (re-sent with SetWatches2). */
    private CuratorCache cache;
    private final BlockingQueue<String> cacheEvents = new LinkedBlockingQueue<>();
    private long sessionBefore;
    private String reconnectProblem = "the reconnect check did not run";

    ConnectionCheck(Harness h, File ctl) {
        this.h = h;
        this.ctl = ctl;
    }

    void run() {
        try {
            h.check("curator connection state: SUSPENDED then RECONNECTED across a server restart", 120, this::suspendReconnect);
            h.check("curator session survives a server restart (same session id, ephemeral kept)", 30, this::sessionSurvives);
            h.check("zk+curator watches re-registered after reconnect (SetWatches one-shot, SetWatches2 persistent recursive)", 40,
                    this::watchesSurvive);
        } finally {
            if (cache != null) cache.close();
            if (client != null) client.close();
            if (zkw != null) {
                try {
                    zkw.close();
                } catch (InterruptedException ignored) {
                    // exiting anyway
                }
            }
        }
    }

    private ConnectionState nextState(long timeoutMs, String what) throws InterruptedException {
        ConnectionState st = queue.poll(timeoutMs, TimeUnit.MILLISECONDS);
        if (st == null) throw Harness.failure("timed out after " + timeoutMs + "ms waiting for " + what + "; states " + states);
        return st;
    }

    void suspendReconnect() throws Exception {
        client = CuratorFrameworkFactory.builder()
                .connectString(h.connect)
                .sessionTimeoutMs(SESSION_TIMEOUT_MS)
                .connectionTimeoutMs(5000)
                .retryPolicy(new ExponentialBackoffRetry(200, 10))
                .build();
        client.getConnectionStateListenable().addListener((c, st) -> {
            states.add(st);
            queue.add(st);
        });
        client.start();
        eq("first state", ConnectionState.CONNECTED, nextState(10000, "CONNECTED"));
        sessionBefore = Harness.sessionId(client);
        client.create().withMode(CreateMode.EPHEMERAL).forPath("/cur-conn-eph", b("alive"));

        client.create().forPath("/cur-conn-w", b("0"));
        client.create().forPath("/cur-conn-cache", b("0"));
        zkw = new ZooKeeper(h.connect, SESSION_TIMEOUT_MS, e -> {
            if (e.getType() == Watcher.Event.EventType.None) zkwStates.add(e.getState());
        });
        eq("watch handle state", Watcher.Event.KeeperState.SyncConnected, Harness.next(zkwStates, "the watch handle to connect"));
        Watcher rec = ZkChecks.recorder(zkwEvents);
        zkw.getData("/cur-conn-w", rec, null);
        zkw.exists("/cur-conn-new", rec);
        zkw.getChildren("/cur-conn-w", rec);
        CountDownLatch init = new CountDownLatch(1);
        cache = CuratorCache.build(client, "/cur-conn-cache");
        cache.listenable().addListener(CuratorCacheListener.builder()
                .forAll((type, oldData, data) -> cacheEvents.add(type + " " + (data != null ? data.getPath() : oldData.getPath())))
                .forInitialized(init::countDown)
                .build());
        cache.start();
        Harness.await(init, "CuratorCache initialized");
        eq("cache's initial event", "NODE_CREATED /cur-conn-cache", Harness.next(cacheEvents, "the cache's initial event"));
        Harness.out("READY-FOR-KILL");
        ConnectionState st;
        try {
            st = nextState(20000, "SUSPENDED after the server was killed");
        } finally {
            Harness.out(queue.isEmpty() && !states.contains(ConnectionState.SUSPENDED) ? "NO-SUSPENDED" : "SAW-SUSPENDED");
        }
        eq("state after the server died", ConnectionState.SUSPENDED, st);
        // run.sh restarts the server now; RECONNECTED must follow, with no LOST.
        st = nextState(40000, "RECONNECTED after the server restarted");
        ok(new File(ctl, "restarted").exists() || waitFile(new File(ctl, "restarted"), 5000),
                "reconnected before run.sh restarted the server");
        eq("state after the server came back", ConnectionState.RECONNECTED, st);
        eq("all states", List.of(ConnectionState.CONNECTED, ConnectionState.SUSPENDED, ConnectionState.RECONNECTED),
                new ArrayList<>(states));
        reconnectProblem = null;
    }

    static boolean waitFile(File f, long ms) throws InterruptedException {
        long deadline = System.currentTimeMillis() + ms;
        while (!f.exists()) {
            if (System.currentTimeMillis() > deadline) return false;
            Thread.sleep(25);
        }
        return true;
    }

    void sessionSurvives() throws Exception {
        ok(reconnectProblem == null, "no reconnect to check: " + reconnectProblem);
        eqHex("session id after the restart", sessionBefore, Harness.sessionId(client));
        Stat st = new Stat();
        eq("ephemeral data", "alive", s(client.getData().storingStatIn(st).forPath("/cur-conn-eph")));
        eqHex("ephemeral owner", sessionBefore, st.getEphemeralOwner());
        // the session is usable and its ephemerals are still its own
        client.create().withMode(CreateMode.EPHEMERAL).forPath("/cur-conn-eph2");
        eqHex("new ephemeral owner", sessionBefore, client.checkExists().forPath("/cur-conn-eph2").getEphemeralOwner());
        eq("no LOST state", false, states.contains(ConnectionState.LOST));
    }

    void watchesSurvive() throws Exception {
        ok(reconnectProblem == null, "no reconnect to check: " + reconnectProblem);
        // the plain handle lost its connection too; wait until it is back
        long deadline = System.currentTimeMillis() + 20000;
        Watcher.Event.KeeperState st = null;
        while (st != Watcher.Event.KeeperState.SyncConnected || zkw.getState() != ZooKeeper.States.CONNECTED) {
            st = zkwStates.poll(Math.max(1, deadline - System.currentTimeMillis()), TimeUnit.MILLISECONDS);
            if (st == null) throw Harness.failure("the watch handle did not reconnect within 20s (state " + zkw.getState() + ")");
            ok(st != Watcher.Event.KeeperState.Expired, "the watch handle's session expired");
        }
        eq("events before any change", null, zkwEvents.poll());
        try (Harness.Res r = new Harness.Res()) {
            CuratorFramework writer = r.add(h.curator());
            writer.setData().forPath("/cur-conn-w", b("1"));
            writer.create().forPath("/cur-conn-new");
            writer.create().forPath("/cur-conn-w/kid");
            List<String> got = new ArrayList<>();
            for (int i = 0; i < 3; i++) got.add(Harness.next(zkwEvents, "one-shot watch event " + (i + 1) + " after reconnect; got " + got));
            eq("one-shot watches set before the restart", List.of("NodeDataChanged /cur-conn-w", "NodeCreated /cur-conn-new",
                    "NodeChildrenChanged /cur-conn-w"), got);
            List<String> cached = new ArrayList<>();
            writer.create().forPath("/cur-conn-cache/a", b("1"));
            cached.add(Harness.next(cacheEvents, "CuratorCache event 1 after reconnect"));
            writer.setData().forPath("/cur-conn-cache/a", b("2"));
            cached.add(Harness.next(cacheEvents, "CuratorCache event 2 after reconnect; got " + cached));
            eq("CuratorCache events after reconnect", List.of("NODE_CREATED /cur-conn-cache/a", "NODE_CHANGED /cur-conn-cache/a"), cached);
        }
    }
}
