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
import java.util.List;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.LinkedBlockingQueue;

import org.apache.zookeeper.AddWatchMode;
import org.apache.zookeeper.CreateMode;
import org.apache.zookeeper.KeeperException;
import org.apache.zookeeper.Op;
import org.apache.zookeeper.OpResult;
import org.apache.zookeeper.Watcher;
import org.apache.zookeeper.ZooDefs;
import org.apache.zookeeper.ZooKeeper;
import org.apache.zookeeper.data.ACL;
import org.apache.zookeeper.data.ClientInfo;
import org.apache.zookeeper.data.Stat;

/** Checks of the plain ZooKeeper 3.8 Java client (no Curator). */
final class ZkChecks {
    static final List<ACL> OPEN = ZooDefs.Ids.OPEN_ACL_UNSAFE;
    /**
     * ZooKeeper stores containers and TTL nodes with a marker ephemeralOwner
     * (0x8000000000000000, 0xff00000000000000|ttl) but reports 0 to clients
     * (DataNode.copyStat: only NORMAL ephemeral owners are shown).
     */
    static final long CONTAINER_OWNER = 0;
    static final long TTL_OWNER = 0;

    private final Harness h;

    ZkChecks(Harness h) {
        this.h = h;
    }

    /** A watcher that records "EventType path" strings. */
    static Watcher recorder(BlockingQueue<String> q) {
        return e -> {
            if (e.getType() != Watcher.Event.EventType.None) q.add(e.getType() + " " + e.getPath());
        };
    }

    void run() {
        h.check("zk create modes (persistent, sequential, ephemeral, container, ttl)", 30, this::createModes);
        h.check("zk create/delete errors (NodeExists, NoNode, NoChildrenForEphemerals, NotEmpty)", 30, this::createErrors);
        h.check("zk conditional setData/delete (BadVersion)", 30, this::versions);
        h.check("zk getChildren2 and Stat fields", 30, this::statFields);
        h.check("zk container and ttl nodes reaped by the server", 40, this::reaping);
        h.check("zk multi success results", 30, this::multiOk);
        h.check("zk multi failure applies nothing", 30, this::multiFail);
        h.check("zk multi ops see earlier ops of the same multi", 30, this::multiDependent);
        h.check("zk multiRead (getData/getChildren)", 30, this::multiRead);
        h.check("zk one-shot watches (data, exists, children)", 30, this::oneShotWatches);
        h.check("zk addWatch PERSISTENT", 30, this::persistentWatch);
        h.check("zk addWatch PERSISTENT_RECURSIVE events", 30, this::recursiveWatch);
        h.check("zk removeWatches / removeAllWatches", 30, this::removeWatches);
        h.check("zk getEphemerals", 30, this::ephemerals);
        h.check("zk getAllChildrenNumber", 30, this::allChildrenNumber);
        h.check("zk whoAmI", 30, this::whoAmI);
    }

    void createModes() throws Exception {
        try (Harness.Res r = new Harness.Res()) {
            ZooKeeper zk = r.add(h.zk());
            String base = "/zk-modes";
            zk.create(base, new byte[0], OPEN, CreateMode.PERSISTENT);
            Stat st = new Stat();

            eq("PERSISTENT path", base + "/p", zk.create(base + "/p", b("p"), OPEN, CreateMode.PERSISTENT, st));
            eqHex("PERSISTENT ephemeralOwner", 0, st.getEphemeralOwner());
            eq("PERSISTENT version", 0, st.getVersion());
            eq("PERSISTENT dataLength", 1, st.getDataLength());
            eq("PERSISTENT mzxid == czxid", st.getCzxid(), st.getMzxid());
            eq("PERSISTENT pzxid == czxid", st.getCzxid(), st.getPzxid());

            eq("PERSISTENT_SEQUENTIAL path", base + "/ps-0000000001",
                    zk.create(base + "/ps-", b("x"), OPEN, CreateMode.PERSISTENT_SEQUENTIAL, st));

            eq("EPHEMERAL path", base + "/e", zk.create(base + "/e", b("e"), OPEN, CreateMode.EPHEMERAL, st));
            eqHex("EPHEMERAL ephemeralOwner", zk.getSessionId(), st.getEphemeralOwner());

            eq("EPHEMERAL_SEQUENTIAL path", base + "/es-0000000003",
                    zk.create(base + "/es-", b("x"), OPEN, CreateMode.EPHEMERAL_SEQUENTIAL, st));
            eqHex("EPHEMERAL_SEQUENTIAL ephemeralOwner", zk.getSessionId(), st.getEphemeralOwner());

            eq("CONTAINER path", base + "/c", zk.create(base + "/c", b("c"), OPEN, CreateMode.CONTAINER, st));
            eqHex("CONTAINER ephemeralOwner", CONTAINER_OWNER, st.getEphemeralOwner());

            eq("PERSISTENT_WITH_TTL path", base + "/t",
                    zk.create(base + "/t", b("t"), OPEN, CreateMode.PERSISTENT_WITH_TTL, st, 60000));
            eqHex("PERSISTENT_WITH_TTL ephemeralOwner", TTL_OWNER, st.getEphemeralOwner());

            eq("PERSISTENT_SEQUENTIAL_WITH_TTL path", base + "/ts-0000000006",
                    zk.create(base + "/ts-", b("t"), OPEN, CreateMode.PERSISTENT_SEQUENTIAL_WITH_TTL, st, 5000));
            eqHex("PERSISTENT_SEQUENTIAL_WITH_TTL ephemeralOwner", TTL_OWNER, st.getEphemeralOwner());

            // exists() reports the same stat the create returned.
            Stat ex = zk.exists(base + "/t", false);
            eqHex("exists() ephemeralOwner of ttl node", TTL_OWNER, ex.getEphemeralOwner());
            eqHex("exists() ephemeralOwner of container", CONTAINER_OWNER, zk.exists(base + "/c", false).getEphemeralOwner());

            eq("children", Arrays.asList("c", "e", "es-0000000003", "p", "ps-0000000001", "t", "ts-0000000006"),
                    sorted(zk.getChildren(base, false)));
            eq("parent cversion", 7, zk.exists(base, false).getCversion());
            eq("parent numChildren", 7, zk.exists(base, false).getNumChildren());
        }
    }

    void createErrors() throws Exception {
        try (Harness.Res r = new Harness.Res()) {
            ZooKeeper zk = r.add(h.zk());
            String base = "/zk-errors";
            zk.create(base, new byte[0], OPEN, CreateMode.PERSISTENT);
            KeeperException.NodeExistsException ne = expectThrow("create existing", KeeperException.NodeExistsException.class,
                    () -> zk.create(base, new byte[0], OPEN, CreateMode.PERSISTENT));
            eq("NodeExists path", base, ne.getPath());
            KeeperException.NoNodeException nn = expectThrow("create under missing parent", KeeperException.NoNodeException.class,
                    () -> zk.create(base + "/missing/child", new byte[0], OPEN, CreateMode.PERSISTENT));
            eq("NoNode path", base + "/missing/child", nn.getPath());
            expectThrow("sequential under missing parent", KeeperException.NoNodeException.class,
                    () -> zk.create(base + "/missing/s-", new byte[0], OPEN, CreateMode.PERSISTENT_SEQUENTIAL));
            zk.create(base + "/eph", new byte[0], OPEN, CreateMode.EPHEMERAL);
            expectThrow("child of an ephemeral", KeeperException.NoChildrenForEphemeralsException.class,
                    () -> zk.create(base + "/eph/kid", new byte[0], OPEN, CreateMode.PERSISTENT));
            expectThrow("delete non-empty", KeeperException.NotEmptyException.class, () -> zk.delete(base, -1));
            expectThrow("delete missing", KeeperException.NoNodeException.class, () -> zk.delete(base + "/nope", -1));
            expectThrow("getData missing", KeeperException.NoNodeException.class, () -> zk.getData(base + "/nope", false, null));
            eq("exists missing", null, zk.exists(base + "/nope", false));
        }
    }

    void versions() throws Exception {
        try (Harness.Res r = new Harness.Res()) {
            ZooKeeper zk = r.add(h.zk());
            String p = "/zk-versions";
            zk.create(p, b("v0"), OPEN, CreateMode.PERSISTENT);
            eq("setData with right version -> version", 1, zk.setData(p, b("v1"), 0).getVersion());
            expectThrow("setData with stale version", KeeperException.BadVersionException.class, () -> zk.setData(p, b("x"), 0));
            expectThrow("setData with future version", KeeperException.BadVersionException.class, () -> zk.setData(p, b("x"), 5));
            eq("setData -1 -> version", 2, zk.setData(p, b("v2"), -1).getVersion());
            Stat st = new Stat();
            eq("data", "v2", s(zk.getData(p, false, st)));
            eq("version", 2, st.getVersion());
            expectThrow("delete with wrong version", KeeperException.BadVersionException.class, () -> zk.delete(p, 1));
            ok(zk.exists(p, false) != null, "node gone after a failed conditional delete");
            zk.delete(p, 2);
            eq("exists after delete", null, zk.exists(p, false));
        }
    }

    void statFields() throws Exception {
        try (Harness.Res r = new Harness.Res()) {
            ZooKeeper zk = r.add(h.zk());
            String base = "/zk-stat";
            Stat pc = new Stat();
            zk.create(base, b("root"), OPEN, CreateMode.PERSISTENT, pc);
            eq("new node cversion", 0, pc.getCversion());
            eq("new node numChildren", 0, pc.getNumChildren());
            eq("new node pzxid", pc.getCzxid(), pc.getPzxid());
            ok(pc.getCtime() > 0 && pc.getCtime() == pc.getMtime(), "new node ctime == mtime > 0: " + pc);

            Stat sa = new Stat(), sb = new Stat(), sc = new Stat();
            zk.create(base + "/a", b("a"), OPEN, CreateMode.PERSISTENT, sa);
            zk.create(base + "/b", b("bb"), OPEN, CreateMode.PERSISTENT, sb);
            zk.create(base + "/c", b("ccc"), OPEN, CreateMode.PERSISTENT, sc);
            ok(pc.getCzxid() < sa.getCzxid() && sa.getCzxid() < sb.getCzxid() && sb.getCzxid() < sc.getCzxid(),
                    "czxids increase: " + pc.getCzxid() + " " + sa.getCzxid() + " " + sb.getCzxid() + " " + sc.getCzxid());

            Stat s = new Stat();
            List<String> kids = zk.getChildren(base, false, s);
            eq("getChildren2 children", Arrays.asList("a", "b", "c"), sorted(kids));
            eq("getChildren2 numChildren", 3, s.getNumChildren());
            eq("getChildren2 cversion", 3, s.getCversion());
            eq("getChildren2 pzxid == last child's czxid", sc.getCzxid(), s.getPzxid());
            eq("getChildren2 czxid", pc.getCzxid(), s.getCzxid());
            eq("getChildren2 mzxid (children do not change it)", pc.getMzxid(), s.getMzxid());
            eq("getChildren2 version", 0, s.getVersion());
            eq("getChildren2 dataLength", 4, s.getDataLength());
            eq("getChildren2 ephemeralOwner", 0L, s.getEphemeralOwner());

            zk.delete(base + "/b", 0);
            Stat s2 = new Stat();
            zk.getChildren(base, false, s2);
            eq("after delete numChildren", 2, s2.getNumChildren());
            eq("after delete cversion", 4, s2.getCversion());
            ok(s2.getPzxid() > sc.getCzxid(), "pzxid advances on child delete: " + s2.getPzxid() + " <= " + sc.getCzxid());

            Stat set = zk.setData(base, b("xyz12"), 0);
            eq("setData version", 1, set.getVersion());
            eq("setData dataLength", 5, set.getDataLength());
            eq("setData cversion unchanged", 4, set.getCversion());
            eq("setData pzxid unchanged", s2.getPzxid(), set.getPzxid());
            eq("setData ctime unchanged", pc.getCtime(), set.getCtime());
            ok(set.getMzxid() > s2.getPzxid(), "mzxid advances on setData");
            ok(set.getMtime() >= set.getCtime(), "mtime >= ctime");

            Stat g = new Stat();
            eq("getData", "xyz12", s(zk.getData(base, false, g)));
            eq("getData stat == setData stat", set, g);
            eq("exists stat == getData stat", g, zk.exists(base, false));

            Stat leaf = zk.exists(base + "/c", false);
            eq("leaf", sc, leaf);
            eq("leaf numChildren", 0, leaf.getNumChildren());
            eq("leaf dataLength", 3, leaf.getDataLength());

            Stat acl = zk.setACL(base + "/c", ZooDefs.Ids.READ_ACL_UNSAFE, 0);
            eq("setACL aversion", 1, acl.getAversion());
            eq("setACL version unchanged", 0, acl.getVersion());
            Stat aclStat = new Stat();
            eq("getACL", ZooDefs.Ids.READ_ACL_UNSAFE, zk.getACL(base + "/c", aclStat));
            eq("getACL stat aversion", 1, aclStat.getAversion());
            expectThrow("setData on a read-only ACL", KeeperException.NoAuthException.class,
                    () -> zk.setData(base + "/c", b("x"), -1));
        }
    }

    void reaping() throws Exception {
        try (Harness.Res r = new Harness.Res()) {
            ZooKeeper zk = r.add(h.zk());
            String base = "/zk-reap";
            zk.create(base, new byte[0], OPEN, CreateMode.PERSISTENT);
            zk.create(base + "/used", new byte[0], OPEN, CreateMode.CONTAINER);
            zk.create(base + "/used/x", new byte[0], OPEN, CreateMode.PERSISTENT);
            zk.create(base + "/never", new byte[0], OPEN, CreateMode.CONTAINER);
            zk.create(base + "/ttl", new byte[0], OPEN, CreateMode.PERSISTENT_WITH_TTL, null, 300);
            zk.create(base + "/ttlkid", new byte[0], OPEN, CreateMode.PERSISTENT_WITH_TTL, null, 300);
            zk.create(base + "/ttlkid/k", new byte[0], OPEN, CreateMode.PERSISTENT);
            // the same through a multi (createContainer / createTTL ops)
            zk.multi(Arrays.asList(
                    Op.create(base + "/mbox", new byte[0], OPEN, CreateMode.CONTAINER),
                    Op.create(base + "/mbox/x", new byte[0], OPEN, CreateMode.PERSISTENT),
                    Op.create(base + "/mttl", new byte[0], OPEN, CreateMode.PERSISTENT_WITH_TTL, 300)));
            zk.delete(base + "/used/x", -1);
            zk.delete(base + "/mbox/x", -1);
            // run.sh starts the server with znode.container.checkIntervalMs=500.
            Harness.waitUntil("the emptied container to be reaped", 15000, () -> zk.exists(base + "/used", false) == null);
            Harness.waitUntil("the expired ttl node to be reaped", 15000, () -> zk.exists(base + "/ttl", false) == null);
            Harness.waitUntil("the container created by multi to be reaped", 15000, () -> zk.exists(base + "/mbox", false) == null);
            Harness.waitUntil("the ttl node created by multi to be reaped", 15000, () -> zk.exists(base + "/mttl", false) == null);
            ok(zk.exists(base + "/never", false) != null, "a container that never had children was reaped");
            ok(zk.exists(base + "/ttlkid", false) != null, "a ttl node with a child was reaped");
        }
    }

    void multiOk() throws Exception {
        try (Harness.Res r = new Harness.Res()) {
            ZooKeeper zk = r.add(h.zk());
            String base = "/zk-multi";
            zk.create(base, new byte[0], OPEN, CreateMode.PERSISTENT);
            zk.create(base + "/old", new byte[0], OPEN, CreateMode.PERSISTENT);
            List<OpResult> res = zk.multi(Arrays.asList(
                    Op.create(base + "/a", b("1"), OPEN, CreateMode.PERSISTENT),
                    Op.create(base + "/s-", b(""), OPEN, CreateMode.PERSISTENT_SEQUENTIAL),
                    Op.setData(base + "/a", b("2"), 0),
                    Op.check(base + "/a", 1),
                    Op.delete(base + "/old", 0)));
            eq("result count", 5, res.size());
            ok(res.get(0) instanceof OpResult.CreateResult, "result 0 is " + res.get(0));
            eq("create path", base + "/a", ((OpResult.CreateResult) res.get(0)).getPath());
            ok(res.get(1) instanceof OpResult.CreateResult, "result 1 is " + res.get(1));
            eq("sequential create path (counts the create before it in the same multi)", base + "/s-0000000002",
                    ((OpResult.CreateResult) res.get(1)).getPath());
            ok(res.get(2) instanceof OpResult.SetDataResult, "result 2 is " + res.get(2));
            eq("setData result version", 1, ((OpResult.SetDataResult) res.get(2)).getStat().getVersion());
            ok(res.get(3) instanceof OpResult.CheckResult, "result 3 is " + res.get(3));
            ok(res.get(4) instanceof OpResult.DeleteResult, "result 4 is " + res.get(4));
            eq("data after multi", "2", s(zk.getData(base + "/a", false, null)));
            eq("deleted by multi", null, zk.exists(base + "/old", false));
            eq("children", Arrays.asList("a", "s-0000000002"), sorted(zk.getChildren(base, false)));
            // TTL and container creates inside a multi (createTTL / createContainer ops)
            List<OpResult> r2 = zk.multi(Arrays.asList(
                    Op.create(base + "/t", b("tt"), OPEN, CreateMode.PERSISTENT_WITH_TTL, 60000),
                    Op.create(base + "/c", b("cc"), OPEN, CreateMode.CONTAINER)));
            eq("ttl-in-multi path", base + "/t", ((OpResult.CreateResult) r2.get(0)).getPath());
            eq("container-in-multi path", base + "/c", ((OpResult.CreateResult) r2.get(1)).getPath());
            eqHex("ttl-in-multi ephemeralOwner", TTL_OWNER, zk.exists(base + "/t", false).getEphemeralOwner());
            eqHex("container-in-multi ephemeralOwner", CONTAINER_OWNER, zk.exists(base + "/c", false).getEphemeralOwner());
        }
    }

    void multiFail() throws Exception {
        try (Harness.Res r = new Harness.Res()) {
            ZooKeeper zk = r.add(h.zk());
            String base = "/zk-multifail";
            zk.create(base, new byte[0], OPEN, CreateMode.PERSISTENT);
            zk.create(base + "/a", b("keep"), OPEN, CreateMode.PERSISTENT);
            KeeperException e = expectThrow("multi with a bad version", KeeperException.class, () -> zk.multi(Arrays.asList(
                    Op.create(base + "/b", b(""), OPEN, CreateMode.PERSISTENT),
                    Op.setData(base + "/a", b("x"), 99),
                    Op.create(base + "/c", b(""), OPEN, CreateMode.PERSISTENT))));
            eq("error code", KeeperException.Code.BADVERSION, e.code());
            List<OpResult> res = e.getResults();
            ok(res != null && res.size() == 3, "3 per-op results, got " + res);
            List<Integer> codes = new ArrayList<>();
            for (OpResult o : res) {
                ok(o instanceof OpResult.ErrorResult, "every result of a failed multi is an ErrorResult: " + o);
                codes.add(((OpResult.ErrorResult) o).getErr());
            }
            // ok for ops before the failing one, its error, RUNTIMEINCONSISTENCY after it
            eq("per-op error codes", Arrays.asList(0, KeeperException.Code.BADVERSION.intValue(),
                    KeeperException.Code.RUNTIMEINCONSISTENCY.intValue()), codes);
            eq("op before the failure not applied", null, zk.exists(base + "/b", false));
            eq("op after the failure not applied", null, zk.exists(base + "/c", false));
            Stat st = new Stat();
            eq("data untouched", "keep", s(zk.getData(base + "/a", false, st)));
            eq("version untouched", 0, st.getVersion());
            eq("parent cversion untouched", 1, zk.exists(base, false).getCversion());
        }
    }

    static List<Integer> errCodes(KeeperException e) {
        List<Integer> codes = new ArrayList<>();
        for (OpResult o : e.getResults()) codes.add(o instanceof OpResult.ErrorResult ? ((OpResult.ErrorResult) o).getErr() : 999);
        return codes;
    }

    void multiDependent() throws Exception {
        try (Harness.Res r = new Harness.Res()) {
            ZooKeeper zk = r.add(h.zk());
            String base = "/zk-multidep";
            zk.create(base, new byte[0], OPEN, CreateMode.PERSISTENT);
            zk.create(base + "/q", b("q"), OPEN, CreateMode.PERSISTENT);
            List<OpResult> res = zk.multi(Arrays.asList(
                    Op.create(base + "/p", b("p"), OPEN, CreateMode.PERSISTENT),
                    Op.create(base + "/p/c", b("c"), OPEN, CreateMode.PERSISTENT),
                    Op.setData(base + "/p/c", b("c2"), 0),
                    Op.check(base + "/p/c", 1),
                    Op.delete(base + "/p/c", 1),
                    Op.create(base + "/p/s-", b(""), OPEN, CreateMode.PERSISTENT_SEQUENTIAL)));
            // ZooKeeper quirk: a pending delete does not bump the parent's cversion for
            // later ops of the same multi (the applied delete does), so this is 1, not 2
            eq("sequential after a create and delete in the same multi", base + "/p/s-0000000001",
                    ((OpResult.CreateResult) res.get(5)).getPath());
            eq("children", Arrays.asList("s-0000000001"), zk.getChildren(base + "/p", false));
            eq("parent cversion", 3, zk.exists(base + "/p", false).getCversion());

            KeeperException e = expectThrow("create under a node deleted earlier in the multi", KeeperException.NoNodeException.class,
                    () -> zk.multi(Arrays.asList(
                            Op.delete(base + "/q", 0),
                            Op.create(base + "/q/c", b(""), OPEN, CreateMode.PERSISTENT))));
            eq("per-op codes", Arrays.asList(0, KeeperException.Code.NONODE.intValue()), errCodes(e));
            ok(zk.exists(base + "/q", false) != null, "delete of a failed multi was applied");
            e = expectThrow("check of a missing node", KeeperException.NoNodeException.class,
                    () -> zk.multi(Arrays.asList(Op.check(base + "/none", -1))));
            e = expectThrow("delete of a node made non-empty earlier in the multi", KeeperException.NotEmptyException.class,
                    () -> zk.multi(Arrays.asList(
                            Op.create(base + "/q/k", b(""), OPEN, CreateMode.PERSISTENT),
                            Op.delete(base + "/q", -1))));
            eq("per-op codes", Arrays.asList(0, KeeperException.Code.NOTEMPTY.intValue()), errCodes(e));
            e = expectThrow("creating the same node twice in one multi", KeeperException.NodeExistsException.class,
                    () -> zk.multi(Arrays.asList(
                            Op.create(base + "/twice", b(""), OPEN, CreateMode.PERSISTENT),
                            Op.create(base + "/twice", b(""), OPEN, CreateMode.PERSISTENT),
                            Op.setData(base + "/q", b("x"), -1))));
            eq("per-op codes", Arrays.asList(0, KeeperException.Code.NODEEXISTS.intValue(),
                    KeeperException.Code.RUNTIMEINCONSISTENCY.intValue()), errCodes(e));
            eq("children after the failed multis", Arrays.asList("p", "q"), sorted(zk.getChildren(base, false)));
            eq("untouched data", "q", s(zk.getData(base + "/q", false, null)));
            eq("empty multi", 0, zk.multi(new ArrayList<Op>()).size());
        }
    }

    void multiRead() throws Exception {
        try (Harness.Res r = new Harness.Res()) {
            ZooKeeper zk = r.add(h.zk());
            String base = "/zk-multiread";
            zk.create(base, b("root"), OPEN, CreateMode.PERSISTENT);
            zk.create(base + "/x", b("xx"), OPEN, CreateMode.PERSISTENT);
            zk.create(base + "/y", b("yy"), OPEN, CreateMode.PERSISTENT);
            List<OpResult> res = zk.multi(Arrays.asList(
                    Op.getData(base + "/x"),
                    Op.getChildren(base),
                    Op.getData(base + "/missing")));
            eq("result count", 3, res.size());
            ok(res.get(0) instanceof OpResult.GetDataResult, "result 0 is " + res.get(0));
            eq("getData data", "xx", s(((OpResult.GetDataResult) res.get(0)).getData()));
            eq("getData stat version", 0, ((OpResult.GetDataResult) res.get(0)).getStat().getVersion());
            ok(res.get(1) instanceof OpResult.GetChildrenResult, "result 1 is " + res.get(1));
            eq("getChildren", Arrays.asList("x", "y"), sorted(((OpResult.GetChildrenResult) res.get(1)).getChildren()));
            ok(res.get(2) instanceof OpResult.ErrorResult, "result 2 is " + res.get(2));
            eq("missing node error", KeeperException.Code.NONODE.intValue(), ((OpResult.ErrorResult) res.get(2)).getErr());
        }
    }

    void oneShotWatches() throws Exception {
        try (Harness.Res r = new Harness.Res()) {
            ZooKeeper zk1 = r.add(h.zk());
            ZooKeeper zk2 = r.add(h.zk());
            String base = "/zk-watch";
            zk2.create(base, new byte[0], OPEN, CreateMode.PERSISTENT);
            zk2.create(base + "/d", b("0"), OPEN, CreateMode.PERSISTENT);
            zk2.create(base + "/gone", b("0"), OPEN, CreateMode.PERSISTENT);
            zk2.create("/zk-watch-marker", b("0"), OPEN, CreateMode.PERSISTENT);
            BlockingQueue<String> q = new LinkedBlockingQueue<>();
            Watcher w = recorder(q);
            zk1.getData(base + "/d", w, null);
            eq("exists on a missing node", null, zk1.exists(base + "/new", w));
            zk1.getChildren(base, w);
            zk1.exists(base + "/gone", w);
            BlockingQueue<String> qc = new LinkedBlockingQueue<>();
            zk1.getChildren(base + "/gone", recorder(qc));

            zk2.setData(base + "/d", b("1"), -1);
            eq("event 1", "NodeDataChanged " + base + "/d", next(q, "NodeDataChanged"));
            zk2.setData(base + "/d", b("2"), -1); // the data watch was used up: no event
            zk2.create(base + "/new", b(""), OPEN, CreateMode.PERSISTENT);
            eq("event 2", "NodeCreated " + base + "/new", next(q, "NodeCreated"));
            eq("event 3", "NodeChildrenChanged " + base, next(q, "NodeChildrenChanged"));
            zk2.delete(base + "/gone", -1);
            eq("event 4", "NodeDeleted " + base + "/gone", next(q, "NodeDeleted"));
            eq("child watch on the deleted node", "NodeDeleted " + base + "/gone", next(qc, "NodeDeleted for the child watch"));
            zk2.delete(base + "/new", -1); // exists and child watches were used up: no event
            // Events arrive in order: an extra event from the writes above would come before this one.
            zk1.getData("/zk-watch-marker", w, null);
            zk2.setData("/zk-watch-marker", b("1"), -1);
            eq("event 5 (marker; nothing from the used-up watches before it)",
                    "NodeDataChanged /zk-watch-marker", next(q, "marker NodeDataChanged"));
            eq("no further events", null, q.poll());
        }
    }

    void persistentWatch() throws Exception {
        try (Harness.Res r = new Harness.Res()) {
            ZooKeeper zk1 = r.add(h.zk());
            ZooKeeper zk2 = r.add(h.zk());
            String base = "/zk-pwatch";
            zk2.create(base, new byte[0], OPEN, CreateMode.PERSISTENT);
            BlockingQueue<String> q = new LinkedBlockingQueue<>();
            zk1.addWatch(base, recorder(q), AddWatchMode.PERSISTENT);
            zk2.create(base + "/a", b(""), OPEN, CreateMode.PERSISTENT);
            eq("event 1", "NodeChildrenChanged " + base, next(q, "NodeChildrenChanged"));
            zk2.setData(base, b("1"), -1);
            eq("event 2", "NodeDataChanged " + base, next(q, "NodeDataChanged"));
            zk2.setData(base + "/a", b("1"), -1); // not recursive: nothing
            zk2.create(base + "/b", b(""), OPEN, CreateMode.PERSISTENT);
            eq("event 3 (still armed)", "NodeChildrenChanged " + base, next(q, "second NodeChildrenChanged"));
            zk2.delete(base + "/a", -1);
            eq("event 4", "NodeChildrenChanged " + base, next(q, "third NodeChildrenChanged"));
            zk2.setData(base, b("2"), -1);
            eq("event 5", "NodeDataChanged " + base, next(q, "second NodeDataChanged"));
            eq("no further events", null, q.poll());

            // a persistent watch may be set on a missing node and outlives its deletion
            String gone = "/zk-pwatch-missing";
            zk1.addWatch(gone, recorder(q), AddWatchMode.PERSISTENT);
            zk2.create(gone, b(""), OPEN, CreateMode.PERSISTENT);
            eq("event on creation", "NodeCreated " + gone, next(q, "NodeCreated"));
            zk2.delete(gone, -1);
            eq("event on deletion", "NodeDeleted " + gone, next(q, "NodeDeleted"));
            zk2.create(gone, b(""), OPEN, CreateMode.PERSISTENT);
            eq("event on re-creation", "NodeCreated " + gone, next(q, "NodeCreated again"));

            // removing it
            zk1.removeAllWatches(base, Watcher.WatcherType.Any, false);
            eq("removal event", "PersistentWatchRemoved " + base, next(q, "PersistentWatchRemoved"));
            zk2.setData(base, b("3"), -1);
            zk2.setData(gone, b("1"), -1);
            eq("next event (none from the removed watch)", "NodeDataChanged " + gone, next(q, "NodeDataChanged on the kept watch"));
        }
    }

    void recursiveWatch() throws Exception {
        try (Harness.Res r = new Harness.Res()) {
            ZooKeeper zk1 = r.add(h.zk());
            ZooKeeper zk2 = r.add(h.zk());
            String base = "/zk-rwatch";
            zk2.create(base, new byte[0], OPEN, CreateMode.PERSISTENT);
            zk2.create("/zk-rwatch-sibling", new byte[0], OPEN, CreateMode.PERSISTENT);
            BlockingQueue<String> q = new LinkedBlockingQueue<>();
            zk1.addWatch(base, recorder(q), AddWatchMode.PERSISTENT_RECURSIVE);
            zk2.create(base + "/a", b(""), OPEN, CreateMode.PERSISTENT);
            zk2.setData("/zk-rwatch-sibling", b("x"), -1); // outside the watched tree (shares the name prefix)
            zk2.create(base + "/a/b", b(""), OPEN, CreateMode.PERSISTENT);
            zk2.setData(base + "/a/b", b("1"), -1);
            zk2.delete(base + "/a/b", -1);
            zk2.setData(base, b("1"), -1);
            zk2.delete(base + "/a", -1);
            List<String> expected = Arrays.asList(
                    "NodeCreated " + base + "/a",
                    "NodeCreated " + base + "/a/b",
                    "NodeDataChanged " + base + "/a/b",
                    "NodeDeleted " + base + "/a/b",
                    "NodeDataChanged " + base,
                    "NodeDeleted " + base + "/a");
            List<String> got = new ArrayList<>();
            for (int i = 0; i < expected.size(); i++) {
                got.add(next(q, "recursive event " + (i + 1) + " (" + expected.get(i) + "), got so far " + got));
            }
            eq("recursive watch events (no NodeChildrenChanged)", expected, got);
            // marker to prove nothing else was queued
            zk2.create(base + "/z", b(""), OPEN, CreateMode.PERSISTENT);
            eq("next event", "NodeCreated " + base + "/z", next(q, "marker NodeCreated"));
        }
    }

    void removeWatches() throws Exception {
        try (Harness.Res r = new Harness.Res()) {
            ZooKeeper zk1 = r.add(h.zk());
            ZooKeeper zk2 = r.add(h.zk());
            String base = "/zk-rmwatch";
            zk2.create(base, new byte[0], OPEN, CreateMode.PERSISTENT);
            BlockingQueue<String> qd = new LinkedBlockingQueue<>();
            BlockingQueue<String> qc = new LinkedBlockingQueue<>();
            Watcher wd = recorder(qd);
            Watcher wc = recorder(qc);
            zk1.getData(base, wd, null);
            zk1.getChildren(base, wc);
            zk1.removeWatches(base, wd, Watcher.WatcherType.Data, false);
            eq("data watcher told of its removal", "DataWatchRemoved " + base, next(qd, "DataWatchRemoved"));
            zk2.setData(base, b("1"), -1);
            zk2.create(base + "/x", b(""), OPEN, CreateMode.PERSISTENT);
            eq("child watcher still fires", "NodeChildrenChanged " + base, next(qc, "NodeChildrenChanged"));
            eq("removed data watcher stays silent", null, qd.poll());
            expectThrow("removing a watch that is not there", KeeperException.NoWatcherException.class,
                    () -> zk1.removeWatches(base, wd, Watcher.WatcherType.Data, false));

            zk1.getChildren(base, wc);
            zk1.exists(base + "/x", wc);
            zk1.removeAllWatches(base, Watcher.WatcherType.Any, false);
            eq("child watcher told of its removal", "ChildWatchRemoved " + base, next(qc, "ChildWatchRemoved"));
            zk2.create(base + "/y", b(""), OPEN, CreateMode.PERSISTENT);
            zk2.setData(base + "/x", b("1"), -1); // the exists watch on /x was not removed
            eq("watch on another path kept", "NodeDataChanged " + base + "/x", next(qc, "NodeDataChanged on /x"));
            eq("removed child watcher stays silent", null, qc.poll());
            expectThrow("removeAllWatches with none left", KeeperException.NoWatcherException.class,
                    () -> zk1.removeAllWatches(base, Watcher.WatcherType.Children, false));
        }
    }

    void ephemerals() throws Exception {
        try (Harness.Res r = new Harness.Res()) {
            ZooKeeper zk1 = r.add(h.zk());
            ZooKeeper zk2 = r.add(h.zk());
            String base = "/zk-eph";
            zk1.create(base, new byte[0], OPEN, CreateMode.PERSISTENT);
            zk1.create(base + "/a", new byte[0], OPEN, CreateMode.EPHEMERAL);
            zk1.create(base + "/sub", new byte[0], OPEN, CreateMode.PERSISTENT);
            zk1.create(base + "/sub/b", new byte[0], OPEN, CreateMode.EPHEMERAL);
            zk2.create(base + "/o", new byte[0], OPEN, CreateMode.EPHEMERAL);
            zk1.create(base + "/box", new byte[0], OPEN, CreateMode.CONTAINER);
            zk1.create(base + "/ttl", new byte[0], OPEN, CreateMode.PERSISTENT_WITH_TTL, null, 60000);
            zk1.create(base + "/es-", new byte[0], OPEN, CreateMode.EPHEMERAL_SEQUENTIAL);
            eq("getEphemerals(base) of session 1 (no containers or ttl nodes)",
                    Arrays.asList(base + "/a", base + "/es-0000000005", base + "/sub/b"), sorted(zk1.getEphemerals(base)));
            eq("getEphemerals(base/sub)", Arrays.asList(base + "/sub/b"), sorted(zk1.getEphemerals(base + "/sub")));
            eq("getEphemerals is a string-prefix match", Arrays.asList(base + "/sub/b"), sorted(zk1.getEphemerals(base + "/su")));
            eq("getEphemerals() of session 1", Arrays.asList(base + "/a", base + "/es-0000000005", base + "/sub/b"),
                    sorted(zk1.getEphemerals()));
            eq("getEphemerals(base) of session 2", Arrays.asList(base + "/o"), sorted(zk2.getEphemerals(base)));
            eq("getEphemerals of an unrelated prefix", Arrays.asList(), zk1.getEphemerals("/zk-nothing-here"));
            zk1.delete(base + "/a", -1);
            eq("after delete", Arrays.asList(base + "/es-0000000005", base + "/sub/b"), sorted(zk1.getEphemerals(base)));
        }
    }

    void allChildrenNumber() throws Exception {
        try (Harness.Res r = new Harness.Res()) {
            ZooKeeper zk = r.add(h.zk());
            String base = "/zk-count";
            zk.create(base, new byte[0], OPEN, CreateMode.PERSISTENT);
            for (String p : new String[] {"/a", "/a/x", "/a/y", "/a/y/z", "/b"}) {
                zk.create(base + p, new byte[0], OPEN, CreateMode.PERSISTENT);
            }
            zk.create(base + "/e", new byte[0], OPEN, CreateMode.EPHEMERAL);
            eq("getAllChildrenNumber(base)", 6, zk.getAllChildrenNumber(base));
            eq("getAllChildrenNumber(base/a)", 3, zk.getAllChildrenNumber(base + "/a"));
            eq("getAllChildrenNumber(leaf)", 0, zk.getAllChildrenNumber(base + "/b"));
            expectThrow("getAllChildrenNumber of a missing node", KeeperException.NoNodeException.class,
                    () -> zk.getAllChildrenNumber(base + "/missing"));
        }
    }

    void whoAmI() throws Exception {
        try (Harness.Res r = new Harness.Res()) {
            ZooKeeper zk = r.add(h.zk());
            eq("whoAmI before auth", Arrays.asList("ip:127.0.0.1"), infos(zk.whoAmI()));
            zk.addAuthInfo("digest", b("alice:secret"));
            eq("whoAmI after digest auth", Arrays.asList("digest:alice", "ip:127.0.0.1"), infos(zk.whoAmI()));
            // the digest identity works for ACLs
            zk.create("/zk-whoami", b("x"), ZooDefs.Ids.CREATOR_ALL_ACL, CreateMode.PERSISTENT);
            List<ACL> acl = zk.getACL("/zk-whoami", null);
            eq("CREATOR_ALL_ACL resolves to", "digest:alice:", acl.get(0).getId().getScheme() + ":"
                    + acl.get(0).getId().getId().substring(0, 6));
            try (ZooKeeper other = h.zk()) {
                expectThrow("anonymous read of a creator-only node", KeeperException.NoAuthException.class,
                        () -> other.getData("/zk-whoami", false, null));
            }
        }
    }

    static List<String> infos(List<ClientInfo> list) {
        List<String> out = new ArrayList<>();
        for (ClientInfo i : list) out.add(i.getAuthScheme() + ":" + i.getUser());
        return sorted(out);
    }
}
