package compat;

import java.io.File;

/**
 * Entry point.
 *   suite CONNECT [CTL_DIR]            every check; with CTL_DIR, the server
 *                                      restart check last (see ConnectionCheck)
 *   only CONNECT NAME-SUBSTRING        the checks whose name contains it
 *   mutex-worker CONNECT BASE ID N MAXWAIT_MS   child JVM of the InterProcessMutex check
 */
public final class Main {
    public static void main(String[] args) throws Exception {
        if (args.length >= 6 && args[0].equals("mutex-worker")) {
            int rc;
            try {
                rc = LockChecks.worker(args[1], args[2], args[3], Integer.parseInt(args[4]), Long.parseLong(args[5]));
            } catch (Throwable t) {
                System.out.println("ERROR " + Harness.describe(t));
                rc = 1;
            }
            System.out.flush();
            Runtime.getRuntime().halt(rc);
        }
        if (args.length < 2 || !(args[0].equals("suite") || args[0].equals("only"))) {
            System.err.println("usage: Main suite CONNECT [CTL_DIR] | only CONNECT NAME | mutex-worker CONNECT BASE ID N MAXWAIT_MS");
            System.exit(2);
        }
        Harness h = new Harness(args[1]);
        if (args[0].equals("only") && args.length > 2) h.filter = args[2];
        long t0 = System.nanoTime();
        new ZkChecks(h).run();
        new SessionChecks(h).run();
        new RecipeChecks(h).run();
        new LockChecks(h).run();
        if (args[0].equals("suite") && args.length > 2) {
            new ConnectionCheck(h, new File(args[2])).run();
        }
        Harness.out(String.format("note: curator suite: %d passed, %d failed in %.1fs",
                h.passed, h.failed, (System.nanoTime() - t0) / 1e9));
        System.out.flush();
        Runtime.getRuntime().halt(0);
    }
}
