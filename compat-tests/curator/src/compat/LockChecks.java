package compat;

import static compat.Harness.b;
import static compat.Harness.eq;
import static compat.Harness.next;
import static compat.Harness.ok;
import static compat.Harness.s;

import java.io.File;
import java.nio.file.Files;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;

import org.apache.curator.framework.CuratorFramework;
import org.apache.curator.framework.recipes.leader.LeaderLatch;
import org.apache.curator.framework.recipes.leader.LeaderLatchListener;
import org.apache.curator.framework.recipes.leader.LeaderSelector;
import org.apache.curator.framework.recipes.leader.LeaderSelectorListenerAdapter;
import org.apache.curator.framework.recipes.locks.InterProcessMutex;
import org.apache.curator.framework.recipes.locks.InterProcessReadWriteLock;
import org.apache.curator.framework.recipes.locks.InterProcessSemaphoreV2;
import org.apache.curator.framework.recipes.locks.Lease;
import org.apache.zookeeper.CreateMode;
import org.apache.zookeeper.KeeperException;

/** Curator locks, semaphores and leader election. */
final class LockChecks {
    static final int WORKERS = 3;
    static final int INCREMENTS = 25;

    private final Harness h;

    LockChecks(Harness h) {
        this.h = h;
    }

    void run() {
        h.check("curator InterProcessMutex: " + WORKERS + " JVM processes x " + INCREMENTS
                + " read-modify-write increments, no lost update", 90, this::mutexProcesses);
        h.check("curator InterProcessMutex: waiter blocked while held, acquires after release", 30, this::mutexWaiter);
        h.check("curator InterProcessSemaphoreV2: leases never exceed max", 60, this::semaphore);
        h.check("curator InterProcessReadWriteLock: writer excludes readers, readers share", 40, this::readWriteLock);
        h.check("curator LeaderLatch: exactly one leader, closing it fails over", 40, this::leaderLatch);
        h.check("curator LeaderSelector: exactly one leader, closing it fails over", 40, this::leaderSelector);
    }

    /**
     * Child JVM: waits for the start node, then INCREMENTS times: lock, read
     * the counter, write counter+1 without a version check, unlock. Also
     * creates an ephemeral "holder" node under the lock: NodeExists there
     * means two processes held the lock at once.
     */
    static int worker(String connect, String base, String id, int n, long maxWaitMs) throws Exception {
        Harness h = new Harness(connect);
        try (Harness.Res r = new Harness.Res()) {
            CuratorFramework c = r.add(h.curator());
            c.create().withMode(CreateMode.EPHEMERAL).forPath(base + "/ready/" + id);
            long deadline = System.currentTimeMillis() + 30000;
            while (c.checkExists().forPath(base + "/go") == null) {
                if (System.currentTimeMillis() > deadline) {
                    System.out.println("NO-GO: start node never appeared");
                    return 2;
                }
                Thread.sleep(20);
            }
            InterProcessMutex m = new InterProcessMutex(c, base + "/lock");
            for (int i = 0; i < n; i++) {
                // Contended waits here last a few ms; an acquire that takes
                // maxWaitMs was never woken by the release it waited for
                // (the recipe re-checks once its own wait times out).
                long t0 = System.nanoTime();
                boolean got = m.acquire(maxWaitMs, TimeUnit.MILLISECONDS);
                long tookMs = (System.nanoTime() - t0) / 1000000;
                if (!got || tookMs >= maxWaitMs) {
                    System.out.println("LOCK-TIMEOUT: acquire #" + (i + 1) + " took " + tookMs + "ms (not woken by the release)");
                    if (got) m.release();
                    return 3;
                }
                try {
                    try {
                        c.create().withMode(CreateMode.EPHEMERAL).forPath(base + "/holder", b(id));
                    } catch (KeeperException.NodeExistsException e) {
                        System.out.println("EXCLUSION-BROKEN: " + s(c.getData().forPath(base + "/holder"))
                                + " held the lock at the same time as " + id);
                        return 4;
                    }
                    int v = Integer.parseInt(s(c.getData().forPath(base + "/counter")));
                    Thread.sleep(1); // widen the read-modify-write window
                    c.setData().forPath(base + "/counter", b(Integer.toString(v + 1)));
                    c.delete().forPath(base + "/holder");
                } finally {
                    m.release();
                }
            }
            System.out.println("DONE " + id);
            return 0;
        }
    }

    void mutexProcesses() throws Exception {
        String base = "/cur-mutex";
        File dir = Files.createTempDirectory("curator-mutex").toFile();
        List<Process> procs = new ArrayList<>();
        try (Harness.Res r = new Harness.Res()) {
            CuratorFramework c = r.add(h.curator());
            c.create().creatingParentsIfNeeded().forPath(base + "/counter", b("0"));
            c.create().forPath(base + "/ready");
            String java = new File(System.getProperty("java.home"), "bin/java").getPath();
            for (int i = 0; i < WORKERS; i++) {
                List<String> cmd = new ArrayList<>(List.of(java, "-XX:+UseSerialGC", "-XX:TieredStopAtLevel=1",
                        "-Xshare:auto", "-Xmx96m", "-Dorg.slf4j.simpleLogger.defaultLogLevel=error",
                        "-cp", System.getProperty("java.class.path"), "compat.Main",
                        "mutex-worker", h.connect, base, "w" + i, Integer.toString(INCREMENTS),
                        Long.toString(Harness.EVENT_TIMEOUT_MS)));
                ProcessBuilder pb = new ProcessBuilder(cmd).redirectErrorStream(true)
                        .redirectOutput(new File(dir, "w" + i + ".out"));
                procs.add(pb.start());
            }
            Harness.waitUntil("all " + WORKERS + " worker JVMs to connect", 40000, () -> {
                for (Process p : procs) {
                    if (!p.isAlive()) throw Harness.failure("a worker exited early: " + lastLine(dir, procs.indexOf(p)));
                }
                return c.getChildren().forPath(base + "/ready").size() == WORKERS;
            });
            c.create().forPath(base + "/go");
            List<String> problems = new ArrayList<>();
            long deadline = System.currentTimeMillis() + 40000;
            for (int i = 0; i < WORKERS; i++) {
                Process p = procs.get(i);
                if (!p.waitFor(Math.max(1, deadline - System.currentTimeMillis()), TimeUnit.MILLISECONDS)) {
                    problems.add("w" + i + " still running after 40s");
                } else if (p.exitValue() != 0) {
                    problems.add("w" + i + " exit " + p.exitValue() + ": " + lastLine(dir, i));
                }
            }
            ok(problems.isEmpty(), String.join("; ", problems));
            eq("counter after " + WORKERS + "x" + INCREMENTS + " locked increments",
                    Integer.toString(WORKERS * INCREMENTS), s(c.getData().forPath(base + "/counter")));
            eq("lock nodes left", Collections.emptyList(), Harness.kids(c, base + "/lock"));
        } finally {
            for (Process p : procs) p.destroyForcibly();
            for (File f : dir.listFiles()) f.delete();
            dir.delete();
        }
    }

    static String lastLine(File dir, int i) {
        try {
            List<String> lines = Files.readAllLines(new File(dir, "w" + i + ".out").toPath());
            for (int k = lines.size() - 1; k >= 0; k--) {
                if (!lines.get(k).isBlank()) return lines.get(k);
            }
            return "(no output)";
        } catch (Exception e) {
            return "(no output)";
        }
    }

    void mutexWaiter() throws Exception {
        try (Harness.Res r = new Harness.Res()) {
            CuratorFramework c1 = r.add(h.curator());
            CuratorFramework c2 = r.add(h.curator());
            String path = "/cur-mutex-wait";
            InterProcessMutex m1 = new InterProcessMutex(c1, path);
            InterProcessMutex m2 = new InterProcessMutex(c2, path);
            ok(m1.acquire(5, TimeUnit.SECONDS), "first acquire failed");
            ok(m1.acquire(5, TimeUnit.SECONDS), "re-entrant acquire failed");
            eq("lock nodes after a re-entrant acquire", 1, m1.getParticipantNodes().size());
            ok(!m2.acquire(300, TimeUnit.MILLISECONDS), "a second client acquired a held lock");
            CompletableFuture<String> waiter = Harness.async("mutex waiter", () -> {
                if (!m2.acquire(Harness.WAITER_MAX_MS, TimeUnit.MILLISECONDS)) return "acquire() returned false";
                boolean held = m2.isAcquiredInThisProcess();
                m2.release();
                return held ? "acquired" : "acquire() returned true but the lock is not held";
            });
            Harness.waitUntil("the waiter's lock node", 5000, () -> m1.getParticipantNodes().size() == 2);
            m1.release();
            ok(m1.isAcquiredInThisProcess(), "released a re-entrant lock too early");
            eq("waiter while the re-entrant lock is still held once", false, waiter.isDone());
            m1.release();
            eq("waiter woken by the release", "acquired", Harness.result(waiter, "the waiter to acquire after release"));
            eq("lock nodes left", 0, Harness.kids(c1, path).size());
        }
    }

    void semaphore() throws Exception {
        final int max = 2, threads = 6, rounds = 4;
        String path = "/cur-semaphore";
        AtomicInteger holders = new AtomicInteger();
        AtomicInteger maxSeen = new AtomicInteger();
        AtomicInteger granted = new AtomicInteger();
        List<String> problems = Collections.synchronizedList(new ArrayList<>());
        try (Harness.Res r = new Harness.Res()) {
            List<CuratorFramework> clients = new ArrayList<>();
            for (int i = 0; i < 3; i++) clients.add(r.add(h.curator()));
            List<Thread> ts = new ArrayList<>();
            for (int i = 0; i < threads; i++) {
                InterProcessSemaphoreV2 sem = new InterProcessSemaphoreV2(clients.get(i % 3), path, max);
                Thread t = new Thread(() -> {
                    try {
                        for (int k = 0; k < rounds; k++) {
                            Lease lease = sem.acquire(Harness.EVENT_TIMEOUT_MS, TimeUnit.MILLISECONDS);
                            if (lease == null) {
                                problems.add("acquire timed out after " + Harness.EVENT_TIMEOUT_MS + "ms");
                                return;
                            }
                            int now = holders.incrementAndGet();
                            maxSeen.accumulateAndGet(now, Math::max);
                            granted.incrementAndGet();
                            Thread.sleep(20);
                            holders.decrementAndGet();
                            sem.returnLease(lease);
                        }
                    } catch (Exception e) {
                        problems.add(Harness.describe(e));
                    }
                });
                ts.add(t);
                t.start();
            }
            for (Thread t : ts) {
                t.join(Harness.EVENT_TIMEOUT_MS * rounds + 10000);
                if (t.isAlive()) problems.add("a semaphore thread is still running");
            }
            ok(problems.isEmpty(), String.join("; ", new ArrayList<>(problems)));
            ok(maxSeen.get() <= max, "leases held at once: " + maxSeen.get() + " > max " + max);
            eq("most leases held at once", max, maxSeen.get());
            eq("leases granted", threads * rounds, granted.get());
        }
    }

    void readWriteLock() throws Exception {
        try (Harness.Res r = new Harness.Res()) {
            CuratorFramework c1 = r.add(h.curator());
            CuratorFramework c2 = r.add(h.curator());
            CuratorFramework c3 = r.add(h.curator());
            String path = "/cur-rwlock";
            InterProcessReadWriteLock rw1 = new InterProcessReadWriteLock(c1, path);
            InterProcessReadWriteLock rw2 = new InterProcessReadWriteLock(c2, path);
            InterProcessReadWriteLock rw3 = new InterProcessReadWriteLock(c3, path);

            ok(rw1.writeLock().acquire(5, TimeUnit.SECONDS), "writer could not lock");
            ok(!rw2.readLock().acquire(300, TimeUnit.MILLISECONDS), "a reader got in while the writer held the lock");
            ok(!rw3.writeLock().acquire(300, TimeUnit.MILLISECONDS), "a second writer got in");

            CountDownLatch readerRelease = new CountDownLatch(1);
            CountDownLatch readerHolds = new CountDownLatch(1);
            CompletableFuture<Boolean> reader = Harness.async("rw reader", () -> {
                boolean acquired = rw2.readLock().acquire(Harness.WAITER_MAX_MS, TimeUnit.MILLISECONDS);
                if (acquired) {
                    readerHolds.countDown();
                    readerRelease.await(Harness.WAITER_MAX_MS, TimeUnit.MILLISECONDS);
                    rw2.readLock().release();
                }
                return acquired;
            });
            Harness.waitUntil("the waiting reader's lock node", 5000,
                    () -> c1.getChildren().forPath(path).size() == 2);
            rw1.writeLock().release();
            Harness.await(readerHolds, "the waiting reader to acquire after the writer released");
            ok(rw3.readLock().acquire(5, TimeUnit.SECONDS), "a second reader was kept out by the first");
            ok(!rw1.writeLock().acquire(300, TimeUnit.MILLISECONDS), "a writer got in while readers held the lock");

            CompletableFuture<Boolean> writer = Harness.async("rw writer", () -> {
                boolean acquired = rw1.writeLock().acquire(Harness.WAITER_MAX_MS, TimeUnit.MILLISECONDS);
                if (acquired) rw1.writeLock().release();
                return acquired;
            });
            Harness.waitUntil("the waiting writer's lock node", 5000,
                    () -> c1.getChildren().forPath(path).size() == 3);
            readerRelease.countDown();
            eq("first reader", true, Harness.result(reader, "the first reader to release"));
            ok(!writer.isDone(), "the writer got in while one reader still held the lock");
            rw3.readLock().release();
            eq("writer woken after both readers released", true, Harness.result(writer, "the waiting writer"));
            eq("lock nodes left", 0, Harness.kids(c1, path).size());
        }
    }

    void leaderLatch() throws Exception {
        try (Harness.Res r = new Harness.Res()) {
            String path = "/cur-latch";
            BlockingQueue<String> leaders = new LinkedBlockingQueue<>();
            List<LeaderLatch> latches = new ArrayList<>();
            for (int i = 0; i < 3; i++) {
                CuratorFramework c = r.add(h.curator());
                String id = "L" + i;
                LeaderLatch l = new LeaderLatch(c, path, id);
                l.addListener(new LeaderLatchListener() {
                    @Override
                    public void isLeader() {
                        leaders.add(id);
                    }

                    @Override
                    public void notLeader() {
                    }
                });
                latches.add(r.add(l));
            }
            for (LeaderLatch l : latches) l.start();
            String first = next(leaders, "a first leader");
            Harness.waitUntil("all 3 latch nodes", 5000, () -> latches.get(0).getParticipants().size() == 3);
            eq("leaders", List.of(first), leadersOf(latches));
            for (LeaderLatch l : latches) eq("getLeader() seen by " + l.getId(), first, l.getLeader().getId());
            eq("a second isLeader", null, leaders.poll(300, TimeUnit.MILLISECONDS));

            LeaderLatch old = latches.get(Integer.parseInt(first.substring(1)));
            old.close();
            latches.remove(old);
            String second = next(leaders, "failover to another latch");
            ok(!second.equals(first), "the closed leader became leader again");
            eq("leaders after failover", List.of(second), leadersOf(latches));
            for (LeaderLatch l : latches) eq("getLeader() after failover seen by " + l.getId(), second, l.getLeader().getId());
            eq("participants after failover", 2, latches.get(0).getParticipants().size());
        }
    }

    static List<String> leadersOf(List<LeaderLatch> latches) {
        List<String> out = new ArrayList<>();
        for (LeaderLatch l : latches) if (l.hasLeadership()) out.add(l.getId());
        return out;
    }

    void leaderSelector() throws Exception {
        try (Harness.Res r = new Harness.Res()) {
            String path = "/cur-selector";
            BlockingQueue<String> leaders = new LinkedBlockingQueue<>();
            AtomicInteger concurrent = new AtomicInteger();
            AtomicInteger maxConcurrent = new AtomicInteger();
            List<LeaderSelector> sels = new ArrayList<>();
            for (int i = 0; i < 3; i++) {
                CuratorFramework c = r.add(h.curator());
                String id = "S" + i;
                LeaderSelector sel = new LeaderSelector(c, path, new LeaderSelectorListenerAdapter() {
                    @Override
                    public void takeLeadership(CuratorFramework client) throws Exception {
                        maxConcurrent.accumulateAndGet(concurrent.incrementAndGet(), Math::max);
                        leaders.add(id);
                        try {
                            new CountDownLatch(1).await(); // hold until closed (interrupted)
                        } finally {
                            concurrent.decrementAndGet();
                        }
                    }
                });
                sel.setId(id);
                sels.add(r.add(sel));
            }
            for (LeaderSelector sel : sels) sel.start();
            String first = next(leaders, "a first leader");
            Harness.waitUntil("all 3 selector nodes", 5000, () -> sels.get(0).getParticipants().size() == 3);
            for (LeaderSelector sel : sels) eq("getLeader() seen by " + sel.getId(), first, sel.getLeader().getId());
            eq("a second leader while the first holds", null, leaders.poll(300, TimeUnit.MILLISECONDS));

            LeaderSelector old = sels.get(Integer.parseInt(first.substring(1)));
            old.close();
            sels.remove(old);
            String second = next(leaders, "failover to another selector");
            ok(!second.equals(first), "the closed selector led again");
            for (LeaderSelector sel : sels) {
                eq("hasLeadership of " + sel.getId(), sel.getId().equals(second), sel.hasLeadership());
                eq("getLeader() after failover seen by " + sel.getId(), second, sel.getLeader().getId());
            }
            eq("most leaders at once", 1, maxConcurrent.get());
        }
    }
}
