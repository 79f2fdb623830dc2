package compat;

import java.nio.charset.StandardCharsets;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.Collection;
import java.util.Deque;
import java.util.List;
import java.util.Objects;
import java.util.TreeSet;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.Callable;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.Semaphore;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;

import org.apache.curator.framework.CuratorFramework;
import org.apache.curator.framework.CuratorFrameworkFactory;
import org.apache.curator.retry.RetryNTimes;
import org.apache.zookeeper.Watcher;
import org.apache.zookeeper.ZooKeeper;

/**
 * Runs named checks one after another, each on its own thread with a hard
 * time limit, and prints one "PASS name" or "FAIL name (reason)" line per
 * check. Every wait inside a check is bounded by EVENT_TIMEOUT_MS (an event
 * that never comes is a failure, never a hang).
 */
final class Harness {
    /** How long a check waits for one watch-driven event. */
    static final long EVENT_TIMEOUT_MS = Long.getLong("compat.eventTimeoutMs", 5000);

    final String connect;
    /** When set, only checks whose name contains it run. */
    String filter;
    int passed;
    int failed;

    Harness(String connect) {
        this.connect = connect;
    }

    interface Body {
        void run() throws Exception;
    }

    /** Runs one check; a throw, a failed assertion or the time limit is a FAIL. */
    void check(String name, long limitSeconds, Body body) {
        if (filter != null && !name.contains(filter)) return;
        ExecutorService ex = Executors.newSingleThreadExecutor(r -> {
            Thread t = new Thread(r, "check: " + name);
            t.setDaemon(true);
            return t;
        });
        Future<?> f = ex.submit(() -> {
            body.run();
            return null;
        });
        try {
            f.get(limitSeconds, TimeUnit.SECONDS);
            passed++;
            out("PASS " + name);
        } catch (TimeoutException e) {
            f.cancel(true);
            failed++;
            out("FAIL " + name + " (check did not finish within " + limitSeconds + "s)");
        } catch (ExecutionException e) {
            failed++;
            out("FAIL " + name + " (" + describe(e.getCause()) + ")");
        } catch (InterruptedException e) {
            failed++;
            out("FAIL " + name + " (interrupted)");
        } finally {
            ex.shutdownNow();
        }
    }

    static synchronized void out(String line) {
        System.out.println(line);
        System.out.flush();
    }

    static String describe(Throwable t) {
        String msg;
        if (t instanceof AssertionError) {
            msg = String.valueOf(t.getMessage());
        } else {
            msg = t.getClass().getSimpleName() + ": " + t.getMessage();
            if (t.getCause() != null && t.getCause() != t) {
                msg += " <- " + t.getCause().getClass().getSimpleName() + ": " + t.getCause().getMessage();
            }
        }
        msg = msg.replace('\n', ' ');
        return msg.length() > 400 ? msg.substring(0, 400) + "..." : msg;
    }

    // ---- assertions ----

    static AssertionError failure(String msg) {
        return new AssertionError(msg);
    }

    static void ok(boolean cond, String msg) {
        if (!cond) throw failure(msg);
    }

    static void eq(String what, Object expected, Object actual) {
        if (!Objects.equals(expected, actual)) {
            throw failure(what + ": expected " + expected + ", got " + actual);
        }
    }

    static void eqHex(String what, long expected, long actual) {
        if (expected != actual) {
            throw failure(what + ": expected 0x" + Long.toHexString(expected) + ", got 0x" + Long.toHexString(actual));
        }
    }

    static List<String> sorted(Collection<String> c) {
        return new ArrayList<>(new TreeSet<>(c));
    }

    /** Expects `call` to throw an exception of class `type`; returns it. */
    static <T extends Throwable> T expectThrow(String what, Class<T> type, Body call) throws Exception {
        try {
            call.run();
        } catch (Throwable t) {
            if (type.isInstance(t)) return type.cast(t);
            throw failure(what + ": expected " + type.getSimpleName() + ", got " + t);
        }
        throw failure(what + ": expected " + type.getSimpleName() + ", but it succeeded");
    }

    // ---- bounded waits ----

    static void await(CountDownLatch latch, String what) throws InterruptedException {
        if (!latch.await(EVENT_TIMEOUT_MS, TimeUnit.MILLISECONDS)) {
            throw failure("timed out after " + EVENT_TIMEOUT_MS + "ms waiting for " + what);
        }
    }

    static void acquire(Semaphore sem, String what) throws InterruptedException {
        if (!sem.tryAcquire(EVENT_TIMEOUT_MS, TimeUnit.MILLISECONDS)) {
            throw failure("timed out after " + EVENT_TIMEOUT_MS + "ms waiting for " + what);
        }
    }

    static <T> T next(BlockingQueue<T> q, String what) throws InterruptedException {
        T v = q.poll(EVENT_TIMEOUT_MS, TimeUnit.MILLISECONDS);
        if (v == null) throw failure("timed out after " + EVENT_TIMEOUT_MS + "ms waiting for " + what);
        return v;
    }

    /** Polls `cond` every 25ms until it holds; for state that has no event. */
    static void waitUntil(String what, long timeoutMs, Callable<Boolean> cond) throws Exception {
        long deadline = System.nanoTime() + TimeUnit.MILLISECONDS.toNanos(timeoutMs);
        while (!cond.call()) {
            if (System.nanoTime() > deadline) {
                throw failure("timed out after " + timeoutMs + "ms waiting for " + what);
            }
            Thread.sleep(25);
        }
    }

    /**
     * How long a recipe's own blocking call (lock acquire, barrier wait) may
     * block. Longer than EVENT_TIMEOUT_MS on purpose: several recipes
     * re-check once when their wait times out, so a waiter that was never
     * notified still "succeeds" late. Checks give it EVENT_TIMEOUT_MS to
     * return after the release that should wake it.
     */
    static final long WAITER_MAX_MS = EVENT_TIMEOUT_MS * 3;

    /** Runs `c` on a new daemon thread. */
    static <T> CompletableFuture<T> async(String name, Callable<T> c) {
        CompletableFuture<T> f = new CompletableFuture<>();
        Thread t = new Thread(() -> {
            try {
                f.complete(c.call());
            } catch (Throwable e) {
                f.completeExceptionally(e);
            }
        }, name);
        t.setDaemon(true);
        t.start();
        return f;
    }

    /** The result of `f`, which must come within EVENT_TIMEOUT_MS. */
    static <T> T result(CompletableFuture<T> f, String what) throws Exception {
        try {
            return f.get(EVENT_TIMEOUT_MS, TimeUnit.MILLISECONDS);
        } catch (TimeoutException e) {
            throw failure("timed out after " + EVENT_TIMEOUT_MS + "ms waiting for " + what);
        } catch (ExecutionException e) {
            if (e.getCause() instanceof Exception) throw (Exception) e.getCause();
            throw e;
        }
    }

    static void join(Thread t, String what) throws InterruptedException {
        t.join(EVENT_TIMEOUT_MS * 2);
        if (t.isAlive()) throw failure("timed out waiting for " + what);
    }

    // ---- data helpers ----

    static byte[] b(String s) {
        return s.getBytes(StandardCharsets.UTF_8);
    }

    static String s(byte[] b) {
        return b == null ? "null" : new String(b, StandardCharsets.UTF_8);
    }

    // ---- clients ----

    CuratorFramework curator() throws Exception {
        return curator(15000);
    }

    CuratorFramework curator(int sessionTimeoutMs) throws Exception {
        CuratorFramework c = CuratorFrameworkFactory.builder()
                .connectString(connect)
                .sessionTimeoutMs(sessionTimeoutMs)
                .connectionTimeoutMs(5000)
                .retryPolicy(new RetryNTimes(3, 200))
                .build();
        c.start();
        if (!c.blockUntilConnected(10, TimeUnit.SECONDS)) {
            c.close();
            throw failure("Curator client did not connect to " + connect + " within 10s");
        }
        return c;
    }

    /** A plain ZooKeeper handle, connected; `watcher` (may be null) gets every default-watcher event. */
    ZooKeeper zk(Watcher watcher) throws Exception {
        CountDownLatch connected = new CountDownLatch(1);
        ZooKeeper zk = new ZooKeeper(connect, 15000, e -> {
            if (e.getState() == Watcher.Event.KeeperState.SyncConnected && e.getType() == Watcher.Event.EventType.None) {
                connected.countDown();
            }
            if (watcher != null) watcher.process(e);
        });
        if (!connected.await(10, TimeUnit.SECONDS)) {
            zk.close();
            throw failure("ZooKeeper client did not connect to " + connect + " within 10s");
        }
        return zk;
    }

    ZooKeeper zk() throws Exception {
        return zk(null);
    }

    /**
     * Children of a recipe's parent node, or none if the node is gone:
     * Curator makes those parents containers, which the server may reap
     * as soon as they are empty.
     */
    static List<String> kids(CuratorFramework c, String path) throws Exception {
        try {
            return c.getChildren().forPath(path);
        } catch (org.apache.zookeeper.KeeperException.NoNodeException e) {
            return new ArrayList<>();
        }
    }

    static long sessionId(CuratorFramework c) throws Exception {
        return c.getZookeeperClient().getZooKeeper().getSessionId();
    }

    /** Closes what a check opened, newest first, ignoring errors. */
    static final class Res implements AutoCloseable {
        private final Deque<AutoCloseable> open = new ArrayDeque<>();

        <T extends AutoCloseable> T add(T c) {
            open.push(c);
            return c;
        }

        @Override
        public void close() {
            while (!open.isEmpty()) {
                try {
                    open.pop().close();
                } catch (Throwable ignored) {
                    // best effort
                }
            }
        }
    }
}
