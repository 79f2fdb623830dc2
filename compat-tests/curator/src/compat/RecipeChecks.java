package compat;

import static compat.Harness.acquire;
import static compat.Harness.b;
import static compat.Harness.eq;
import static compat.Harness.eqHex;
import static compat.Harness.expectThrow;
import static compat.Harness.next;
import static compat.Harness.ok;
import static compat.Harness.s;
import static compat.Harness.sorted;

import java.nio.ByteBuffer;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Collections;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.Semaphore;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;

import org.apache.curator.framework.CuratorFramework;
import org.apache.curator.framework.api.transaction.CuratorTransactionResult;
import org.apache.curator.framework.recipes.atomic.AtomicValue;
import org.apache.curator.framework.recipes.atomic.DistributedAtomicLong;
import org.apache.curator.framework.recipes.barriers.DistributedBarrier;
import org.apache.curator.framework.recipes.barriers.DistributedDoubleBarrier;
import org.apache.curator.framework.recipes.cache.ChildData;
import org.apache.curator.framework.recipes.cache.CuratorCache;
import org.apache.curator.framework.recipes.cache.CuratorCacheListener;
import org.apache.curator.framework.recipes.cache.NodeCache;
import org.apache.curator.framework.recipes.cache.PathChildrenCache;
import org.apache.curator.framework.recipes.nodes.PersistentNode;
import org.apache.curator.framework.recipes.nodes.PersistentTtlNode;
import org.apache.curator.framework.recipes.queue.DistributedQueue;
import org.apache.curator.framework.recipes.queue.QueueBuilder;
import org.apache.curator.framework.recipes.queue.QueueSerializer;
import org.apache.curator.framework.recipes.shared.SharedCount;
import org.apache.curator.framework.recipes.shared.SharedCountListener;
import org.apache.curator.framework.recipes.shared.SharedCountReader;
import org.apache.curator.framework.recipes.shared.VersionedValue;
import org.apache.curator.framework.state.ConnectionState;
import org.apache.curator.retry.RetryNTimes;
import org.apache.curator.x.discovery.ServiceCache;
import org.apache.curator.x.discovery.ServiceDiscovery;
import org.apache.curator.x.discovery.ServiceDiscoveryBuilder;
import org.apache.curator.x.discovery.ServiceInstance;
import org.apache.curator.x.discovery.details.JsonInstanceSerializer;
import org.apache.curator.x.discovery.details.ServiceCacheListener;
import org.apache.zookeeper.CreateMode;
import org.apache.zookeeper.KeeperException;
import org.apache.zookeeper.OpResult;
import org.apache.zookeeper.data.Stat;

/** Curator counters, caches, barriers, queues, nodes, discovery and transactions. */
final class RecipeChecks {
    private final Harness h;

    RecipeChecks(Harness h) {
        this.h = h;
    }

    void run() {
        h.check("curator DistributedAtomicLong: concurrent increments exact, compareAndSet", 40, this::atomicLong);
        h.check("curator SharedCount: trySetCount is version-conditional", 30, this::sharedCountVersions);
        h.check("curator SharedCount: listener sees another client's setCount", 30, this::sharedCountListener);
        h.check("curator CuratorCache: exact event sequence for create/update/delete", 40, this::curatorCache);
        h.check("curator PathChildrenCache: exact event sequence", 40, this::pathChildrenCache);
        h.check("curator NodeCache: exact event sequence", 40, this::nodeCache);
        h.check("curator DistributedBarrier: waiters blocked until removeBarrier", 30, this::barrier);
        h.check("curator DistributedDoubleBarrier: enter waits for all 3, leave", 40, this::doubleBarrier);
        h.check("curator DistributedQueue: every item consumed exactly once", 40, this::queue);
        h.check("curator PersistentNode: recreated after deletion", 30, this::persistentNode);
        h.check("curator PersistentTtlNode: container + touched ttl child, gone after close", 40, this::persistentTtlNode);
        h.check("curator ServiceDiscovery: register 2, query, unregister", 30, this::discovery);
        h.check("curator ServiceCache: sees an unregister", 30, this::serviceCache);
        h.check("curator transaction: forOperations success results", 30, this::transactionOk);
        h.check("curator transaction: failing op applies nothing", 30, this::transactionFail);
    }

    void atomicLong() throws Exception {
        try (Harness.Res r = new Harness.Res()) {
            CuratorFramework c1 = r.add(h.curator());
            CuratorFramework c2 = r.add(h.curator());
            String path = "/cur-atomic";
            final int perThread = 40;
            List<String> problems = Collections.synchronizedList(new ArrayList<>());
            List<Thread> ts = new ArrayList<>();
            for (CuratorFramework c : List.of(c1, c2)) {
                DistributedAtomicLong dal = new DistributedAtomicLong(c, path, new RetryNTimes(200, 5));
                Thread t = new Thread(() -> {
                    try {
                        for (int i = 0; i < perThread; i++) {
                            AtomicValue<Long> v = dal.increment();
                            if (!v.succeeded()) {
                                problems.add("increment did not succeed");
                                return;
                            }
                            if (v.postValue() != v.preValue() + 1) {
                                problems.add("increment " + v.preValue() + " -> " + v.postValue());
                                return;
                            }
                        }
                    } catch (Exception e) {
                        problems.add(Harness.describe(e));
                    }
                });
                ts.add(t);
                t.start();
            }
            for (Thread t : ts) Harness.join(t, "incrementing threads");
            ok(problems.isEmpty(), String.join("; ", new ArrayList<>(problems)));
            DistributedAtomicLong d1 = new DistributedAtomicLong(c1, path, new RetryNTimes(3, 10));
            DistributedAtomicLong d2 = new DistributedAtomicLong(c2, path, new RetryNTimes(3, 10));
            AtomicValue<Long> got = d1.get();
            ok(got.succeeded(), "get failed");
            eq("value after 2x" + perThread + " increments", 2L * perThread, got.postValue());
            AtomicValue<Long> cas = d2.compareAndSet(2L * perThread, 1000L);
            ok(cas.succeeded(), "compareAndSet with the right expected value failed");
            eq("compareAndSet preValue", 2L * perThread, cas.preValue());
            AtomicValue<Long> bad = d1.compareAndSet(2L * perThread, 5L);
            ok(!bad.succeeded(), "compareAndSet with a stale expected value succeeded");
            eq("value", 1000L, d1.get().postValue());
            eq("stored bytes (big-endian long)", 1000L, ByteBuffer.wrap(c1.getData().forPath(path)).getLong());
            eq("add(-1)", 999L, d2.add(-1L).postValue());
        }
    }

    void sharedCountVersions() throws Exception {
        try (Harness.Res r = new Harness.Res()) {
            CuratorFramework c1 = r.add(h.curator());
            String path = "/cur-sharedcount-v";
            SharedCount sc = r.add(new SharedCount(c1, path, 7));
            sc.start();
            VersionedValue<Integer> v0 = sc.getVersionedValue();
            eq("seed value", 7, v0.getValue());
            eq("seed version", 0, v0.getVersion());
            ok(sc.trySetCount(v0, 10), "trySetCount with the current version failed");
            ok(!sc.trySetCount(v0, 20), "trySetCount with a stale version succeeded");
            eq("count after the stale trySetCount", 10, sc.getCount());
            Stat st = new Stat();
            byte[] raw = c1.getData().storingStatIn(st).forPath(path);
            eq("stored count (4-byte big-endian)", 10, ByteBuffer.wrap(raw).getInt());
            eq("stored version", 1, st.getVersion());
            VersionedValue<Integer> v1 = sc.getVersionedValue();
            eq("version after one set", 1, v1.getVersion());
            ok(sc.trySetCount(v1, 11), "trySetCount with the new version failed");
            eq("count", 11, sc.getCount());
            eq("stored count", 11, ByteBuffer.wrap(c1.getData().forPath(path)).getInt());
        }
    }

    void sharedCountListener() throws Exception {
        try (Harness.Res r = new Harness.Res()) {
            CuratorFramework c1 = r.add(h.curator());
            CuratorFramework c2 = r.add(h.curator());
            String path = "/cur-sharedcount-l";
            SharedCount sc1 = r.add(new SharedCount(c1, path, 0));
            SharedCount sc2 = r.add(new SharedCount(c2, path, 0));
            sc1.start();
            sc2.start();
            BlockingQueue<Integer> seen = new LinkedBlockingQueue<>();
            sc2.addListener(new SharedCountListener() {
                @Override
                public void countHasChanged(SharedCountReader reader, int newCount) {
                    seen.add(newCount);
                }

                @Override
                public void stateChanged(CuratorFramework client, ConnectionState newState) {
                }
            });
            sc1.setCount(42);
            eq("listener on the other client", 42, next(seen, "countHasChanged(42)"));
            eq("other client's getCount", 42, sc2.getCount());
            sc1.setCount(43);
            eq("listener on the other client", 43, next(seen, "countHasChanged(43)"));
            eq("other client's version", 2, sc2.getVersionedValue().getVersion());
        }
    }

    static String fmt(ChildData d) {
        return d == null ? "-" : s(d.getData());
    }

    void curatorCache() throws Exception {
        try (Harness.Res r = new Harness.Res()) {
            CuratorFramework c1 = r.add(h.curator());
            CuratorFramework c2 = r.add(h.curator());
            String root = "/cur-cc";
            c2.create().forPath(root, b("r"));
            c2.create().forPath("/cur-cc-sibling", b("s"));
            List<String> events = Collections.synchronizedList(new ArrayList<>());
            Semaphore sem = new Semaphore(0);
            CountDownLatch init = new CountDownLatch(1);
            CuratorCache cache = r.add(CuratorCache.build(c1, root));
            cache.listenable().addListener(CuratorCacheListener.builder()
                    .forAll((type, oldData, data) -> {
                        String path = data != null ? data.getPath() : oldData.getPath();
                        events.add(type + " " + path + " " + fmt(oldData) + ">" + fmt(data));
                        sem.release();
                    })
                    .forInitialized(init::countDown)
                    .build());
            cache.start();
            Harness.await(init, "initialized()");
            acquire(sem, "the initial NODE_CREATED of the root");
            Step[] steps = {
                () -> c2.create().forPath(root + "/a", b("1")),
                () -> c2.create().forPath(root + "/a/b", b("2")),
                () -> c2.setData().forPath(root + "/a", b("3")),
                () -> c2.setData().forPath("/cur-cc-sibling", b("t")), // outside the cache: no event
                () -> c2.delete().forPath(root + "/a/b"),
                () -> c2.delete().forPath(root + "/a"),
                () -> c2.setData().forPath(root, b("r2")),
            };
            for (int i = 0; i < steps.length; i++) {
                steps[i].run();
                if (i != 3) acquire(sem, "cache event after step " + (i + 1) + "; events so far " + events);
            }
            eq("CuratorCache events", Arrays.asList(
                    "NODE_CREATED " + root + " ->r",
                    "NODE_CREATED " + root + "/a ->1",
                    "NODE_CREATED " + root + "/a/b ->2",
                    "NODE_CHANGED " + root + "/a 1>3",
                    "NODE_DELETED " + root + "/a/b 2>-",
                    "NODE_DELETED " + root + "/a 3>-",
                    "NODE_CHANGED " + root + " r>r2"), new ArrayList<>(events));
            eq("cache contents", List.of(root), new ArrayList<>(cache.stream().map(ChildData::getPath).toList()));
            eq("cached root data", "r2", s(cache.get(root).get().getData()));
        }
    }

    interface Step {
        void run() throws Exception;
    }

    @SuppressWarnings("deprecation")
    void pathChildrenCache() throws Exception {
        try (Harness.Res r = new Harness.Res()) {
            CuratorFramework c1 = r.add(h.curator());
            CuratorFramework c2 = r.add(h.curator());
            String root = "/cur-pcc";
            c2.create().forPath(root, b("r"));
            c2.create().forPath(root + "/pre", b("0"));
            List<String> events = Collections.synchronizedList(new ArrayList<>());
            Semaphore sem = new Semaphore(0);
            PathChildrenCache cache = r.add(new PathChildrenCache(c1, root, true));
            cache.getListenable().addListener((client, e) -> {
                if (e.getType().name().startsWith("CONNECTION_")) return;
                events.add(e.getType() + (e.getData() == null ? "" : " " + e.getData().getPath() + " " + s(e.getData().getData())));
                sem.release();
            });
            cache.start(PathChildrenCache.StartMode.POST_INITIALIZED_EVENT);
            acquire(sem, "CHILD_ADDED of the existing child");
            acquire(sem, "INITIALIZED");
            Step[] steps = {
                () -> c2.create().forPath(root + "/x", b("1")),
                () -> c2.setData().forPath(root + "/x", b("2")),
                () -> c2.setData().forPath(root, b("r2")), // the parent's own data: no event
                () -> c2.create().forPath(root + "/x/deep", b("d")), // grandchild: no event
                () -> c2.delete().forPath(root + "/x/deep"),
                () -> c2.delete().forPath(root + "/x"),
                () -> c2.create().withMode(CreateMode.EPHEMERAL).forPath(root + "/y", b("3")),
            };
            for (int i = 0; i < steps.length; i++) {
                steps[i].run();
                if (i != 2 && i != 3 && i != 4) acquire(sem, "cache event after step " + (i + 1) + "; events so far " + events);
            }
            eq("PathChildrenCache events", Arrays.asList(
                    "CHILD_ADDED " + root + "/pre 0",
                    "INITIALIZED",
                    "CHILD_ADDED " + root + "/x 1",
                    "CHILD_UPDATED " + root + "/x 2",
                    "CHILD_REMOVED " + root + "/x 2",
                    "CHILD_ADDED " + root + "/y 3"), new ArrayList<>(events));
            List<String> current = new ArrayList<>();
            for (ChildData d : cache.getCurrentData()) current.add(d.getPath());
            eq("current data", Arrays.asList(root + "/pre", root + "/y"), sorted(current));
        }
    }

    @SuppressWarnings("deprecation")
    void nodeCache() throws Exception {
        try (Harness.Res r = new Harness.Res()) {
            CuratorFramework c1 = r.add(h.curator());
            CuratorFramework c2 = r.add(h.curator());
            String path = "/cur-nc";
            List<String> events = Collections.synchronizedList(new ArrayList<>());
            Semaphore sem = new Semaphore(0);
            NodeCache cache = r.add(new NodeCache(c1, path));
            cache.getListenable().addListener(() -> {
                ChildData d = cache.getCurrentData();
                events.add(d == null ? "<none>" : s(d.getData()) + "@v" + d.getStat().getVersion());
                sem.release();
            });
            cache.start(true);
            eq("initial data of a missing node", null, cache.getCurrentData());
            Step[] steps = {
                () -> c2.create().forPath(path, b("v1")),
                () -> c2.setData().forPath(path, b("v2")),
                () -> c2.delete().forPath(path),
                () -> c2.create().forPath(path, b("v3")),
            };
            for (int i = 0; i < steps.length; i++) {
                steps[i].run();
                acquire(sem, "nodeChanged after step " + (i + 1) + "; events so far " + events);
            }
            eq("NodeCache events", Arrays.asList("v1@v0", "v2@v1", "<none>", "v3@v0"), new ArrayList<>(events));
        }
    }

    void barrier() throws Exception {
        try (Harness.Res r = new Harness.Res()) {
            CuratorFramework c0 = r.add(h.curator());
            String path = "/cur-barrier";
            DistributedBarrier owner = new DistributedBarrier(c0, path);
            owner.setBarrier();
            List<CompletableFuture<Boolean>> waiters = new ArrayList<>();
            for (int i = 0; i < 2; i++) {
                DistributedBarrier b = new DistributedBarrier(r.add(h.curator()), path);
                waiters.add(Harness.async("barrier waiter " + i,
                        () -> b.waitOnBarrier(Harness.WAITER_MAX_MS, TimeUnit.MILLISECONDS)));
            }
            Thread.sleep(500);
            for (CompletableFuture<Boolean> w : waiters) ok(!w.isDone(), "a waiter passed a set barrier: " + w);
            owner.removeBarrier();
            for (CompletableFuture<Boolean> w : waiters) {
                eq("waitOnBarrier after removeBarrier", true, Harness.result(w, "a waiter to be released by removeBarrier"));
            }
            eq("barrier node", null, c0.checkExists().forPath(path));
            // A removed barrier does not block.
            ok(new DistributedBarrier(c0, path).waitOnBarrier(1, TimeUnit.SECONDS), "waitOnBarrier blocked on no barrier");
        }
    }

    void doubleBarrier() throws Exception {
        try (Harness.Res r = new Harness.Res()) {
            String path = "/cur-dbarrier";
            AtomicInteger entering = new AtomicInteger();
            List<String> problems = Collections.synchronizedList(new ArrayList<>());
            List<Integer> seenOnEnter = Collections.synchronizedList(new ArrayList<>());
            CountDownLatch entered = new CountDownLatch(3);
            CountDownLatch leave = new CountDownLatch(1);
            List<Thread> ts = new ArrayList<>();
            List<DistributedDoubleBarrier> bars = new ArrayList<>();
            for (int i = 0; i < 3; i++) bars.add(new DistributedDoubleBarrier(r.add(h.curator()), path, 3));
            for (int i = 0; i < 3; i++) {
                DistributedDoubleBarrier b = bars.get(i);
                Thread t = new Thread(() -> {
                    try {
                        entering.incrementAndGet();
                        if (!b.enter(Harness.EVENT_TIMEOUT_MS, TimeUnit.MILLISECONDS)) {
                            problems.add("enter timed out after " + Harness.EVENT_TIMEOUT_MS + "ms");
                            return;
                        }
                        seenOnEnter.add(entering.get());
                        entered.countDown();
                        leave.await(Harness.EVENT_TIMEOUT_MS * 2, TimeUnit.MILLISECONDS);
                        if (!b.leave(Harness.EVENT_TIMEOUT_MS, TimeUnit.MILLISECONDS)) {
                            problems.add("leave timed out after " + Harness.EVENT_TIMEOUT_MS + "ms");
                        }
                    } catch (Exception e) {
                        problems.add(Harness.describe(e));
                    }
                });
                ts.add(t);
                if (i < 2) t.start();
            }
            Harness.waitUntil("2 members to enter", 5000, () -> entering.get() == 2);
            Thread.sleep(300);
            eq("members through enter() with 2 of 3 present", 3L, entered.getCount());
            ts.get(2).start();
            ok(entered.await(Harness.EVENT_TIMEOUT_MS + 1000, TimeUnit.MILLISECONDS),
                    "not all members got through enter(): " + problems);
            eq("members each saw 3 entering when enter() returned", Arrays.asList(3, 3, 3), new ArrayList<>(seenOnEnter));
            leave.countDown();
            for (Thread t : ts) Harness.join(t, "members leaving");
            ok(problems.isEmpty(), String.join("; ", new ArrayList<>(problems)));
            CuratorFramework c = r.add(h.curator());
            eq("barrier children after leave", Collections.emptyList(), Harness.kids(c, path));
        }
    }

    static final QueueSerializer<String> STRINGS = new QueueSerializer<String>() {
        @Override
        public byte[] serialize(String item) {
            return b(item);
        }

        @Override
        public String deserialize(byte[] bytes) {
            return s(bytes);
        }
    };

    void queue() throws Exception {
        try (Harness.Res r = new Harness.Res()) {
            String path = "/cur-queue";
            final int items = 40;
            Map<String, AtomicInteger> consumed = new ConcurrentHashMap<>();
            Map<String, Integer> byConsumer = new ConcurrentHashMap<>();
            CountDownLatch all = new CountDownLatch(items);
            for (int i = 0; i < 2; i++) {
                String who = "consumer" + i;
                CuratorFramework c = r.add(h.curator());
                DistributedQueue<String> q = r.add(QueueBuilder.builder(c, new org.apache.curator.framework.recipes.queue.QueueConsumer<String>() {
                    @Override
                    public void consumeMessage(String message) {
                        consumed.computeIfAbsent(message, k -> new AtomicInteger()).incrementAndGet();
                        byConsumer.merge(who, 1, Integer::sum);
                        all.countDown();
                    }

                    @Override
                    public void stateChanged(CuratorFramework client, ConnectionState newState) {
                    }
                }, STRINGS, path).buildQueue());
                q.start();
            }
            CuratorFramework pc = r.add(h.curator());
            DistributedQueue<String> producer = r.add(QueueBuilder.builder(pc, null, STRINGS, path).buildQueue());
            producer.start();
            for (int i = 0; i < items; i++) producer.put("item-" + i);
            ok(all.await(Harness.EVENT_TIMEOUT_MS * 2, TimeUnit.MILLISECONDS),
                    "consumed " + (items - all.getCount()) + " of " + items + " items in " + (Harness.EVENT_TIMEOUT_MS * 2) + "ms");
            Harness.waitUntil("the queue node to empty", 5000, () -> Harness.kids(pc, path).isEmpty());
            Map<String, Integer> counts = new TreeMap<>();
            for (Map.Entry<String, AtomicInteger> e : consumed.entrySet()) counts.put(e.getKey(), e.getValue().get());
            ok(counts.size() == items, "distinct items consumed: " + counts.size() + " of " + items);
            for (Map.Entry<String, Integer> e : counts.entrySet()) {
                eq("times " + e.getKey() + " was consumed", 1, e.getValue());
            }
        }
    }

    void persistentNode() throws Exception {
        try (Harness.Res r = new Harness.Res()) {
            CuratorFramework c1 = r.add(h.curator());
            CuratorFramework c2 = r.add(h.curator());
            String path = "/cur-pnode/eph";
            Semaphore created = new Semaphore(0);
            PersistentNode pn = r.add(new PersistentNode(c1, CreateMode.EPHEMERAL, false, path, b("payload")));
            pn.getListenable().addListener(p -> created.release());
            pn.start();
            ok(pn.waitForInitialCreate(Harness.EVENT_TIMEOUT_MS, TimeUnit.MILLISECONDS), "initial create did not happen");
            acquire(created, "nodeCreated for the initial create");
            Stat st = c2.checkExists().forPath(path);
            ok(st != null, "node missing after the initial create");
            eqHex("ephemeralOwner", Harness.sessionId(c1), st.getEphemeralOwner());
            c2.delete().forPath(path);
            acquire(created, "nodeCreated after the node was deleted");
            Stat st2 = new Stat();
            eq("recreated data", "payload", s(c2.getData().storingStatIn(st2).forPath(path)));
            eqHex("recreated ephemeralOwner", Harness.sessionId(c1), st2.getEphemeralOwner());
            ok(st2.getCzxid() > st.getCzxid(), "recreated node has the old czxid");
            pn.setData(b("changed")); // written in the background
            Harness.waitUntil("PersistentNode.setData to reach the server", Harness.EVENT_TIMEOUT_MS,
                    () -> "changed".equals(s(c2.getData().forPath(path))));
            pn.close();
            eq("node after close", null, c2.checkExists().forPath(path));
        }
    }

    void persistentTtlNode() throws Exception {
        try (Harness.Res r = new Harness.Res()) {
            CuratorFramework c1 = r.add(h.curator());
            CuratorFramework c2 = r.add(h.curator());
            String path = "/cur-ttlnode";
            final long ttl = 1000;
            PersistentTtlNode tn = r.add(new PersistentTtlNode(c1, path, ttl, b("ttl-data")));
            tn.start();
            ok(tn.waitForInitialCreate(Harness.EVENT_TIMEOUT_MS, TimeUnit.MILLISECONDS), "initial create did not happen");
            Stat st = new Stat();
            eq("data", "ttl-data", s(c2.getData().storingStatIn(st).forPath(path)));
            eqHex("container's reported ephemeralOwner", ZkChecks.CONTAINER_OWNER, st.getEphemeralOwner());
            String touch = path + "/touch";
            Harness.waitUntil("the touch child", 5000, () -> c2.checkExists().forPath(touch) != null);
            eqHex("ttl child's reported ephemeralOwner", ZkChecks.TTL_OWNER, c2.checkExists().forPath(touch).getEphemeralOwner());
            // Touched every ttl/2: after 5 touches it has outlived its ttl several times over.
            Harness.waitUntil("5 touches of the ttl child", 10000, () -> {
                Stat t = c2.checkExists().forPath(touch);
                if (t == null) throw Harness.failure("the touched ttl child was reaped");
                return t.getVersion() >= 5;
            });
            ok(c2.checkExists().forPath(path) != null, "container reaped while its ttl child was alive");
            tn.close();
            Harness.waitUntil("the ttl child to expire after close", 15000, () -> c2.checkExists().forPath(touch) == null);
            Harness.waitUntil("the emptied container to be reaped", 15000, () -> c2.checkExists().forPath(path) == null);
        }
    }

    static ServiceInstance<String> instance(String id, String addr, int port, String payload) throws Exception {
        return ServiceInstance.<String>builder().name("api").id(id).address(addr).port(port).payload(payload).build();
    }

    static ServiceDiscovery<String> discovery(CuratorFramework c, String base) {
        return ServiceDiscoveryBuilder.builder(String.class).client(c).basePath(base)
                .serializer(new JsonInstanceSerializer<>(String.class)).build();
    }

    static Map<String, Integer> ports(ServiceDiscovery<String> sd) throws Exception {
        Map<String, Integer> out = new TreeMap<>();
        for (ServiceInstance<String> i : sd.queryForInstances("api")) out.put(i.getId(), i.getPort());
        return out;
    }

    void discovery() throws Exception {
        try (Harness.Res r = new Harness.Res()) {
            CuratorFramework c1 = r.add(h.curator());
            CuratorFramework c2 = r.add(h.curator());
            String base = "/cur-discovery";
            ServiceDiscovery<String> sd1 = r.add(discovery(c1, base));
            ServiceDiscovery<String> sd2 = r.add(discovery(c2, base));
            sd1.start();
            sd2.start();
            ServiceInstance<String> i1 = instance("api-1", "10.0.0.1", 8081, "one");
            ServiceInstance<String> i2 = instance("api-2", "10.0.0.2", 8082, "two");
            sd1.registerService(i1);
            sd1.registerService(i2);
            eq("queryForNames", List.of("api"), new ArrayList<>(sd2.queryForNames()));
            eq("queryForInstances", Map.of("api-1", 8081, "api-2", 8082), ports(sd2));
            ServiceInstance<String> q = sd2.queryForInstance("api", "api-2");
            ok(q != null, "queryForInstance(api-2) returned null");
            eq("payload", "two", q.getPayload());
            eq("address", "10.0.0.2", q.getAddress());
            Stat st = c2.checkExists().forPath(base + "/api/api-1");
            ok(st != null, "no znode for api-1");
            eqHex("instance znode is ephemeral to the registering session", Harness.sessionId(c1), st.getEphemeralOwner());
            sd1.unregisterService(i1);
            eq("queryForInstances after unregister", Map.of("api-2", 8082), ports(sd2));
            eq("queryForInstance of the unregistered one", null, sd2.queryForInstance("api", "api-1"));
            sd1.close();
            eq("queryForInstances after the registering discovery closed", Map.of(), ports(sd2));
        }
    }

    void serviceCache() throws Exception {
        try (Harness.Res r = new Harness.Res()) {
            CuratorFramework c1 = r.add(h.curator());
            CuratorFramework c2 = r.add(h.curator());
            String base = "/cur-servicecache";
            ServiceDiscovery<String> sd1 = r.add(discovery(c1, base));
            ServiceDiscovery<String> sd2 = r.add(discovery(c2, base));
            sd1.start();
            sd2.start();
            ServiceInstance<String> i1 = instance("api-1", "10.0.0.1", 8081, "one");
            sd1.registerService(i1);
            sd1.registerService(instance("api-2", "10.0.0.2", 8082, "two"));
            ServiceCache<String> cache = r.add(sd2.serviceCacheBuilder().name("api").build());
            Semaphore changed = new Semaphore(0);
            cache.addListener(new ServiceCacheListener() {
                @Override
                public void cacheChanged() {
                    changed.release();
                }

                @Override
                public void stateChanged(CuratorFramework client, ConnectionState newState) {
                }
            });
            cache.start();
            eq("cache after start", List.of("api-1", "api-2"), ids(cache));
            sd1.unregisterService(i1);
            long deadline = System.currentTimeMillis() + Harness.EVENT_TIMEOUT_MS;
            while (!ids(cache).equals(List.of("api-2"))) {
                long left = deadline - System.currentTimeMillis();
                if (left <= 0 || !changed.tryAcquire(left, TimeUnit.MILLISECONDS)) {
                    throw Harness.failure("timed out after " + Harness.EVENT_TIMEOUT_MS
                            + "ms waiting for the cache to drop api-1; cache has " + ids(cache));
                }
            }
        }
    }

    static List<String> ids(ServiceCache<String> cache) {
        List<String> out = new ArrayList<>();
        for (ServiceInstance<String> i : cache.getInstances()) out.add(i.getId());
        return sorted(out);
    }

    void transactionOk() throws Exception {
        try (Harness.Res r = new Harness.Res()) {
            CuratorFramework c = r.add(h.curator());
            String base = "/cur-tx";
            c.create().forPath(base);
            c.create().forPath(base + "/old", b("o"));
            List<CuratorTransactionResult> res = c.transaction().forOperations(
                    c.transactionOp().create().forPath(base + "/a", b("1")),
                    c.transactionOp().create().withMode(CreateMode.PERSISTENT_SEQUENTIAL).forPath(base + "/s-", b("s")),
                    c.transactionOp().setData().forPath(base + "/a", b("2")),
                    c.transactionOp().check().withVersion(1).forPath(base + "/a"),
                    c.transactionOp().delete().forPath(base + "/old"));
            List<String> got = new ArrayList<>();
            for (CuratorTransactionResult t : res) {
                got.add(t.getType() + " " + t.getForPath() + " " + t.getResultPath() + " " + t.getError());
            }
            eq("transaction results", Arrays.asList(
                    "CREATE " + base + "/a " + base + "/a 0",
                    "CREATE " + base + "/s- " + base + "/s-0000000002 0",
                    // Curator fills resultPath for creates only
                    "SET_DATA " + base + "/a null 0",
                    "CHECK " + base + "/a null 0",
                    "DELETE " + base + "/old null 0"), got);
            eq("setData result version", 1, res.get(2).getResultStat().getVersion());
            eq("data", "2", s(c.getData().forPath(base + "/a")));
            eq("deleted node", null, c.checkExists().forPath(base + "/old"));
            eq("children", Arrays.asList("a", "s-0000000002"), sorted(c.getChildren().forPath(base)));
        }
    }

    void transactionFail() throws Exception {
        try (Harness.Res r = new Harness.Res()) {
            CuratorFramework c = r.add(h.curator());
            String base = "/cur-txfail";
            c.create().forPath(base);
            c.create().forPath(base + "/a", b("keep"));
            KeeperException e = expectThrow("transaction with a bad version", KeeperException.class,
                    () -> c.transaction().forOperations(
                            c.transactionOp().create().forPath(base + "/b", b("")),
                            c.transactionOp().setData().withVersion(99).forPath(base + "/a", b("x")),
                            c.transactionOp().delete().forPath(base + "/a")));
            eq("error code", KeeperException.Code.BADVERSION, e.code());
            List<Integer> codes = new ArrayList<>();
            for (OpResult o : e.getResults()) codes.add(o instanceof OpResult.ErrorResult ? ((OpResult.ErrorResult) o).getErr() : 999);
            eq("per-op codes", Arrays.asList(0, KeeperException.Code.BADVERSION.intValue(),
                    KeeperException.Code.RUNTIMEINCONSISTENCY.intValue()), codes);
            eq("created node of the failed transaction", null, c.checkExists().forPath(base + "/b"));
            Stat st = new Stat();
            eq("data", "keep", s(c.getData().storingStatIn(st).forPath(base + "/a")));
            eq("version", 0, st.getVersion());
            // a check op failing aborts the transaction too
            expectThrow("transaction with a failing check", KeeperException.BadVersionException.class,
                    () -> c.transaction().forOperations(
                            c.transactionOp().create().forPath(base + "/c", b("")),
                            c.transactionOp().check().withVersion(3).forPath(base + "/a")));
            eq("node created before a failing check", null, c.checkExists().forPath(base + "/c"));
            expectThrow("transaction creating an existing node", KeeperException.NodeExistsException.class,
                    () -> c.transaction().forOperations(
                            c.transactionOp().delete().forPath(base + "/a"),
                            c.transactionOp().create().forPath(base)));
            ok(c.checkExists().forPath(base + "/a") != null, "delete of a failed transaction was applied");
            eq("children", List.of("a"), c.getChildren().forPath(base));
        }
    }
}
