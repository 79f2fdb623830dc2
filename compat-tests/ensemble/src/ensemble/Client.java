package ensemble;

import java.io.File;
import java.io.IOException;
import java.nio.file.FileAlreadyExistsException;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.net.InetSocketAddress;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.Collection;
import java.util.List;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;

import org.apache.curator.framework.CuratorFramework;
import org.apache.curator.framework.CuratorFrameworkFactory;
import org.apache.curator.framework.recipes.locks.InterProcessMutex;
import org.apache.curator.retry.ExponentialBackoffRetry;
import org.apache.curator.utils.ZookeeperFactory;
import org.apache.zookeeper.CreateMode;
import org.apache.zookeeper.KeeperException;
import org.apache.zookeeper.WatchedEvent;
import org.apache.zookeeper.Watcher;
import org.apache.zookeeper.ZooDefs;
import org.apache.zookeeper.ZooKeeper;
import org.apache.zookeeper.client.HostProvider;
import org.apache.zookeeper.client.ZKClientConfig;
import org.apache.zookeeper.data.Stat;

/**
 * Clients for compat-tests/ensemble/run.sh, one JVM per invocation:
 *
 * <pre>
 * worker ID CONNECT ITERATIONS CTL_DIR DEADLINE_S
 *     Curator InterProcessMutex on /compat/mutex, ITERATIONS critical
 *     sections. The host list is tried in the given order (not shuffled),
 *     so workers given rotated lists start on different servers. Prints
 *     READY, waits for CTL_DIR/go, then per critical section "CS n"; at the
 *     end "DONE id=.. completed=.. increments=.. violations=.. ...".
 *     Anything that shows two holders at once prints a "VIOLATION" line:
 *     CTL_DIR/holder (a local file, created exclusively inside), the
 *     ephemeral /compat/holder, or a counter changed under the lock.
 * ephemeral WRITER_HOSTPORT READER_HOSTPORT
 *     An ephemeral node created through one server, watched and read
 *     through another; the writer's session closes; prints EPH-* lines.
 * read PATH HOSTPORT...
 *     One session per server: sync, getData; prints
 *     "READ hostport data=<data> version=<v>" or "READ hostport ERROR ...".
 * </pre>
 */
public final class Client {
    static final String BASE = "/compat";
    static final String LOCK = BASE + "/mutex";
    static final String HOLDER = BASE + "/holder";
    static final String COUNTER = BASE + "/counter";
    static final long HOLD_MS = 10;

    public static void main(String[] args) throws Exception {
        int rc;
        switch (args[0]) {
            case "worker":
                rc = worker(args[1], args[2], Integer.parseInt(args[3]), new File(args[4]),
                        Long.parseLong(args[5]) * 1000);
                break;
            case "ephemeral":
                rc = ephemeral(args[1], args[2]);
                break;
            case "read":
                rc = read(args[1], List.of(args).subList(2, args.length));
                break;
            default:
                System.out.println("usage: worker|ephemeral|read ...");
                rc = 2;
        }
        System.out.flush();
        System.exit(rc);
    }

    static byte[] b(String s) {
        return s.getBytes(StandardCharsets.UTF_8);
    }

    static String s(byte[] d) {
        return d == null ? "<null>" : new String(d, StandardCharsets.UTF_8);
    }

    static synchronized void say(String line) {
        System.out.println(line);
        System.out.flush();
    }

    // ---------------------------------------------------------------- worker

    /** Tries the servers in the order given, round robin, never shuffled. */
    static final class OrderedHosts implements HostProvider {
        private final List<InetSocketAddress> hosts;
        private int next;
        private int triedSinceConnected;

        OrderedHosts(List<InetSocketAddress> hosts) {
            this.hosts = hosts;
        }

        @Override
        public int size() {
            return hosts.size();
        }

        @Override
        public InetSocketAddress next(long spinDelay) {
            if (triedSinceConnected >= hosts.size()) {
                // A whole round failed: pause like StaticHostProvider does.
                triedSinceConnected = 0;
                if (spinDelay > 0) {
                    try {
                        Thread.sleep(spinDelay);
                    } catch (InterruptedException e) {
                        Thread.currentThread().interrupt();
                    }
                }
            }
            InetSocketAddress a = hosts.get(next);
            next = (next + 1) % hosts.size();
            triedSinceConnected++;
            return a;
        }

        @Override
        public void onConnected() {
            triedSinceConnected = 0;
        }

        @Override
        public boolean updateServerList(Collection<InetSocketAddress> serverAddresses, InetSocketAddress currentHost) {
            return false;
        }
    }

    static List<InetSocketAddress> parseHosts(String connect) {
        List<InetSocketAddress> out = new ArrayList<>();
        for (String hp : connect.split(",")) {
            int colon = hp.lastIndexOf(':');
            out.add(new InetSocketAddress(hp.substring(0, colon), Integer.parseInt(hp.substring(colon + 1))));
        }
        return out;
    }

    static final class OrderedFactory implements ZookeeperFactory {
        private final List<InetSocketAddress> hosts;

        OrderedFactory(List<InetSocketAddress> hosts) {
            this.hosts = hosts;
        }

        @Override
        public ZooKeeper newZooKeeper(String connectString, int sessionTimeout, Watcher watcher, boolean canBeReadOnly)
                throws Exception {
            return new ZooKeeper(connectString, sessionTimeout, watcher, canBeReadOnly, new OrderedHosts(hosts));
        }

        @Override
        public ZooKeeper newZooKeeper(String connectString, int sessionTimeout, Watcher watcher, boolean canBeReadOnly,
                ZKClientConfig config) throws Exception {
            return new ZooKeeper(connectString, sessionTimeout, watcher, canBeReadOnly, new OrderedHosts(hosts), config);
        }
    }

    static final class GaveUp extends Exception {
        GaveUp(String why) {
            super(why);
        }
    }

    /** One worker process: its counters and the helpers of one critical section. */
    static final class Worker {
        final String id;
        final CuratorFramework c;
        final long deadline;
        int completed;
        int increments;
        int violations;
        int retries; // operations that failed after Curator's own retries, repeated here
        int resolvedLanded; // ambiguous writes found (by their token) to have landed
        int ambiguousWrites; // counter writes that failed with connection trouble (maybe landed)
        final AtomicInteger suspended = new AtomicInteger();
        final AtomicInteger lost = new AtomicInteger();

        Worker(String id, CuratorFramework c, long deadline) {
            this.id = id;
            this.c = c;
            this.deadline = deadline;
        }

        void checkDeadline(String doing) throws GaveUp {
            if (System.currentTimeMillis() > deadline) {
                throw new GaveUp("deadline passed while " + doing);
            }
        }

        void violation(String what) {
            violations++;
            say("VIOLATION " + id + ": " + what);
        }

        void retry(String doing, Exception e) throws GaveUp {
            retries++;
            say("RETRY " + id + " " + doing + ": " + e);
            checkDeadline(doing);
            try {
                Thread.sleep(100);
            } catch (InterruptedException ie) {
                throw new GaveUp("interrupted");
            }
        }

        static boolean connectionTrouble(Exception e) {
            return e instanceof KeeperException.ConnectionLossException
                    || e instanceof KeeperException.SessionMovedException
                    || e instanceof KeeperException.OperationTimeoutException
                    || e instanceof KeeperException.SessionExpiredException
                    || e instanceof org.apache.curator.CuratorConnectionLossException;
        }

        void acquire(InterProcessMutex m, int i) throws GaveUp {
            while (true) {
                checkDeadline("acquiring #" + i);
                try {
                    if (m.acquire(20, TimeUnit.SECONDS)) {
                        return;
                    }
                    say("ACQUIRE-SLOW " + id + " #" + i + ": not acquired within 20s, trying again");
                } catch (Exception e) {
                    retry("acquire #" + i, e);
                }
            }
        }

        /**
         * The same check outside ZooKeeper: a file all workers share, created
         * exclusively on entry and deleted before the release. It catches two
         * holders even when their servers do not share data at all.
         */
        boolean enterLocal(Path file, String token) throws IOException {
            try {
                Files.write(file, b(token), StandardOpenOption.CREATE_NEW, StandardOpenOption.WRITE);
                return true;
            } catch (FileAlreadyExistsException e) {
                String there;
                try {
                    there = s(Files.readAllBytes(file));
                } catch (NoSuchFileException gone) {
                    there = "<released meanwhile>";
                }
                violation("local holder file held by " + there + " while " + token + " held the lock");
                return false;
            }
        }

        /** The holder node: NodeExists with another token means a second holder. */
        void enter(String token) throws Exception {
            while (true) {
                checkDeadline("creating the holder node");
                try {
                    c.create().withMode(CreateMode.EPHEMERAL).forPath(HOLDER, b(token));
                    return;
                } catch (KeeperException.NodeExistsException e) {
                    String there;
                    try {
                        there = s(c.getData().forPath(HOLDER));
                    } catch (KeeperException.NoNodeException gone) {
                        violation("a holder node existed while " + token + " held the lock (gone before it was read)");
                        return;
                    } catch (Exception ce) {
                        if (!connectionTrouble(ce)) throw ce;
                        retry("reading the holder node", ce);
                        continue;
                    }
                    if (there.equals(token)) {
                        // Our own create landed before the connection loss
                        // that made Curator send it again.
                        resolvedLanded++;
                        say("RESOLVED " + id + " holder create of " + token + " had landed");
                        return;
                    }
                    violation("holder node held by " + there + " while " + token + " held the lock");
                    return;
                } catch (Exception e) {
                    if (!connectionTrouble(e)) throw e;
                    retry("creating the holder node", e);
                }
            }
        }

        /**
         * counter := counter + 1, written with the version read. The data is
         * "<value> <token of the last writer>", so after a ConnectionLoss or
         * a BadVersion the next read tells whether our write landed.
         */
        void increment(String token) throws Exception {
            while (true) {
                checkDeadline("incrementing the counter");
                Stat st = new Stat();
                String cur;
                try {
                    cur = s(c.getData().storingStatIn(st).forPath(COUNTER));
                } catch (Exception e) {
                    if (!connectionTrouble(e)) throw e;
                    retry("reading the counter", e);
                    continue;
                }
                String[] parts = cur.split(" ", 2);
                long v = Long.parseLong(parts[0]);
                if (parts.length > 1 && parts[1].equals(token)) {
                    // An earlier attempt of this critical section landed.
                    increments++;
                    resolvedLanded++;
                    say("RESOLVED " + id + " counter write " + token + " had landed (value " + v + ")");
                    return;
                }
                Thread.sleep(HOLD_MS); // widen the read-modify-write window
                try {
                    c.setData().withVersion(st.getVersion()).forPath(COUNTER, b((v + 1) + " " + token));
                    increments++;
                    return;
                } catch (KeeperException.BadVersionException e) {
                    // Ours (sent again by Curator after a connection loss) or
                    // somebody else's write between our read and write.
                    Stat now = new Stat();
                    String after;
                    while (true) {
                        checkDeadline("re-reading the counter");
                        try {
                            after = s(c.getData().storingStatIn(now).forPath(COUNTER));
                            break;
                        } catch (Exception re) {
                            if (!connectionTrouble(re)) throw re;
                            retry("re-reading the counter", re);
                        }
                    }
                    if (after.equals((v + 1) + " " + token) && now.getVersion() == st.getVersion() + 1) {
                        increments++;
                        resolvedLanded++;
                        say("RESOLVED " + id + " counter write " + token + " had landed (BadVersion on the resend)");
                    } else {
                        violation("counter changed under the lock held by " + token + ": read \"" + cur
                                + "\" version " + st.getVersion() + ", now \"" + after + "\" version "
                                + now.getVersion());
                    }
                    return;
                } catch (Exception e) {
                    if (!connectionTrouble(e)) throw e;
                    ambiguousWrites++;
                    retry("writing the counter (the next read decides whether it landed)", e);
                }
            }
        }

        void leave(String token) throws Exception {
            while (true) {
                checkDeadline("deleting the holder node");
                try {
                    c.delete().forPath(HOLDER);
                    return;
                } catch (KeeperException.NoNodeException e) {
                    return; // an earlier attempt landed
                } catch (Exception e) {
                    if (!connectionTrouble(e)) throw e;
                    retry("deleting the holder node", e);
                }
            }
        }
    }

    static int worker(String id, String connect, int n, File ctl, long deadlineMs) throws Exception {
        CuratorFramework c = CuratorFrameworkFactory.builder()
                .connectString(connect)
                .sessionTimeoutMs(10000)
                .connectionTimeoutMs(5000)
                .retryPolicy(new ExponentialBackoffRetry(100, 10, 1000))
                .zookeeperFactory(new OrderedFactory(parseHosts(connect)))
                .ensembleTracker(false)
                .build();
        long start = System.currentTimeMillis();
        Worker w = new Worker(id, c, start + deadlineMs);
        c.getConnectionStateListenable().addListener((client, state) -> {
            switch (state) {
                case SUSPENDED:
                    w.suspended.incrementAndGet();
                    break;
                case LOST:
                    w.lost.incrementAndGet();
                    break;
                default:
                    break;
            }
            String host = "?";
            try {
                host = client.getZookeeperClient().getCurrentConnectionString();
            } catch (Exception ignored) {
                // informational only
            }
            say("STATE " + id + " " + state + " t=" + (System.currentTimeMillis() - start) + "ms " + host);
        });
        c.start();
        try {
            if (!c.blockUntilConnected(30, TimeUnit.SECONDS)) {
                say("GAVE-UP " + id + ": not connected within 30s");
                return 3;
            }
            try {
                c.create().creatingParentsIfNeeded().forPath(COUNTER, b("0 init"));
            } catch (KeeperException.NodeExistsException e) {
                // another worker made it
            }
            say("READY " + id + " session=0x" + Long.toHexString(c.getZookeeperClient().getZooKeeper().getSessionId()));
            File go = new File(ctl, "go");
            while (!go.exists()) {
                w.checkDeadline("waiting for the go file");
                Thread.sleep(20);
            }
            InterProcessMutex m = new InterProcessMutex(c, LOCK);
            Path localHolder = ctl.toPath().resolve("holder");
            for (int i = 1; i <= n; i++) {
                String token = id + "-" + i;
                w.acquire(m, i);
                boolean local = false;
                try {
                    local = w.enterLocal(localHolder, token);
                    w.enter(token);
                    w.increment(token);
                    w.leave(token);
                } finally {
                    // On an exception the lock is not released: closing the
                    // session drops the lock node and the holder node together.
                    if (local) Files.deleteIfExists(localHolder);
                }
                try {
                    m.release(); // guaranteed delete of the lock node
                } catch (Exception e) {
                    say("RELEASE-ERROR " + id + " #" + i + ": " + e);
                }
                w.completed++;
                say("CS " + id + " " + i);
            }
            return 0;
        } catch (GaveUp e) {
            say("GAVE-UP " + id + " after " + w.completed + " critical sections: " + e.getMessage());
            return 3;
        } catch (Exception e) {
            say("ERROR " + id + " after " + w.completed + " critical sections: " + e);
            e.printStackTrace();
            return 4;
        } finally {
            say("DONE id=" + id + " completed=" + w.completed + " increments=" + w.increments + " violations="
                    + w.violations + " retries=" + w.retries + " resolved-landed=" + w.resolvedLanded
                    + " ambiguous-writes=" + w.ambiguousWrites + " suspended=" + w.suspended.get() + " lost="
                    + w.lost.get() + " ms=" + (System.currentTimeMillis() - start));
            c.close();
        }
    }

    // -------------------------------------------------------- plain client

    static ZooKeeper connect(String hostPort, BlockingQueue<WatchedEvent> events) throws Exception {
        CountDownLatch up = new CountDownLatch(1);
        ZooKeeper zk = new ZooKeeper(hostPort, 10000, ev -> {
            if (ev.getType() == Watcher.Event.EventType.None) {
                if (ev.getState() == Watcher.Event.KeeperState.SyncConnected) up.countDown();
            } else if (events != null) {
                events.add(ev);
            }
        });
        if (!up.await(10, TimeUnit.SECONDS)) {
            zk.close();
            throw new Exception("no session with " + hostPort + " within 10s");
        }
        return zk;
    }

    static void sync(ZooKeeper zk, String path) throws Exception {
        CountDownLatch done = new CountDownLatch(1);
        int[] rc = {-1};
        zk.sync(path, (r, p, ctx) -> {
            rc[0] = r;
            done.countDown();
        }, null);
        if (!done.await(10, TimeUnit.SECONDS)) throw new Exception("sync " + path + " timed out");
        if (rc[0] != 0) throw KeeperException.create(KeeperException.Code.get(rc[0]), path);
    }

    static int ephemeral(String writerHost, String readerHost) throws Exception {
        BlockingQueue<WatchedEvent> events = new LinkedBlockingQueue<>();
        ZooKeeper writer = connect(writerHost, null);
        ZooKeeper reader = connect(readerHost, events);
        try {
            try {
                writer.create(BASE, new byte[0], ZooDefs.Ids.OPEN_ACL_UNSAFE, CreateMode.PERSISTENT);
            } catch (KeeperException.NodeExistsException e) {
                // fine
            }
            String path = BASE + "/eph-" + Long.toHexString(System.nanoTime());
            long owner = writer.getSessionId();
            writer.create(path, b("owned"), ZooDefs.Ids.OPEN_ACL_UNSAFE, CreateMode.EPHEMERAL);
            say("EPH-CREATED " + path + " via " + writerHost + " session=0x" + Long.toHexString(owner));
            Stat st = null;
            long until = System.currentTimeMillis() + 5000;
            while (System.currentTimeMillis() < until) {
                sync(reader, path);
                st = reader.exists(path, false);
                if (st != null) break;
                Thread.sleep(100);
            }
            if (st == null) {
                say("EPH-NOT-VISIBLE via " + readerHost + " within 5s");
                return 1;
            }
            // A data watch set through the reader's server: it must fire
            // when the node goes, though the delete happens elsewhere.
            reader.getData(path, true, null);
            say("EPH-VISIBLE via " + readerHost + " ephemeralOwner=0x" + Long.toHexString(st.getEphemeralOwner())
                    + (st.getEphemeralOwner() == owner ? " owner-matches" : " owner-differs"));
            long closed = System.currentTimeMillis();
            writer.close();
            writer = null;
            boolean gone = false;
            until = System.currentTimeMillis() + 10000;
            while (System.currentTimeMillis() < until) {
                sync(reader, path);
                if (reader.exists(path, false) == null) {
                    gone = true;
                    break;
                }
                Thread.sleep(100);
            }
            say(gone ? "EPH-GONE via " + readerHost + " " + (System.currentTimeMillis() - closed) + "ms after close"
                    : "EPH-STILL-THERE via " + readerHost + " 10s after close");
            WatchedEvent ev = events.poll(5, TimeUnit.SECONDS);
            say(ev == null ? "EPH-NO-WATCH-EVENT within 5s"
                    : "EPH-WATCH " + ev.getType() + " " + ev.getPath());
            return 0;
        } finally {
            if (writer != null) writer.close();
            reader.close();
        }
    }

    static int read(String path, List<String> hosts) throws Exception {
        int rc = 0;
        for (String hp : hosts) {
            ZooKeeper zk = null;
            try {
                zk = connect(hp, null);
                sync(zk, path);
                Stat st = new Stat();
                byte[] d = zk.getData(path, false, st);
                say("READ " + hp + " data=" + s(d) + " version=" + st.getVersion());
            } catch (Exception e) {
                say("READ " + hp + " ERROR " + e);
                rc = 1;
            } finally {
                if (zk != null) zk.close();
            }
        }
        return rc;
    }
}
