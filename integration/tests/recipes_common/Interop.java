import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.Paths;
import java.nio.file.StandardOpenOption;
import java.util.ArrayList;
import java.util.List;
import org.apache.curator.framework.CuratorFramework;
import org.apache.curator.framework.CuratorFrameworkFactory;
import java.util.concurrent.CountDownLatch;
import org.apache.curator.framework.recipes.leader.LeaderLatch;
import org.apache.curator.framework.recipes.leader.LeaderSelector;
import org.apache.curator.framework.recipes.leader.LeaderSelectorListenerAdapter;
import org.apache.curator.framework.recipes.locks.InterProcessMutex;
import org.apache.curator.framework.recipes.locks.InterProcessReadWriteLock;
import org.apache.curator.framework.recipes.locks.InterProcessSemaphoreV2;
import org.apache.curator.framework.recipes.locks.Lease;
import org.apache.curator.retry.ExponentialBackoffRetry;

/** Curator side of the Rust/Curator interop tests. */
public class Interop {
    public static void main(String[] a) throws Exception {
        String cs = a[0], mode = a[1], path = a[2];
        CuratorFramework c = CuratorFrameworkFactory.newClient(cs, 10000, 5000, new ExponentialBackoffRetry(100, 5));
        c.start();
        c.blockUntilConnected();
        if (mode.equals("mutex")) {
            int threads = Integer.parseInt(a[3]);
            int iters = Integer.parseInt(a[4]);
            Path log = Paths.get(a[5]);
            long holdMs = Long.parseLong(a[6]);
            List<Thread> ts = new ArrayList<>();
            final Throwable[] failure = new Throwable[1];
            for (int t = 0; t < threads; t++) {
                final String me = "java-" + t;
                Thread th = new Thread(() -> {
                    try {
                        InterProcessMutex m = new InterProcessMutex(c, path);
                        for (int i = 0; i < iters; i++) {
                            m.acquire();
                            append(log, "enter " + me);
                            Thread.sleep(holdMs);
                            append(log, "leave " + me);
                            m.release();
                        }
                    } catch (Throwable e) {
                        failure[0] = e;
                    }
                });
                th.start();
                ts.add(th);
            }
            for (Thread th : ts) th.join();
            if (failure[0] != null) { failure[0].printStackTrace(); System.exit(2); }
            System.out.println("DONE");
        } else if (mode.equals("revocable")) {
            // Holds a revocable lock (a[3]: mutex | read | write) until it is revoked, then
            // releases it. Prints HELD <first participant node of that kind>, REVOKED,
            // RELEASED; NOT_REVOKED and exit 3 when no revocation comes within a[4] ms.
            String kind = a[3];
            long waitMs = Long.parseLong(a[4]);
            InterProcessMutex m;
            if (kind.equals("mutex")) {
                m = new InterProcessMutex(c, path);
            } else {
                InterProcessReadWriteLock rw = new InterProcessReadWriteLock(c, path);
                m = kind.equals("read") ? rw.readLock() : rw.writeLock();
            }
            CountDownLatch revoked = new CountDownLatch(1);
            m.makeRevocable(lock -> revoked.countDown());
            m.acquire();
            System.out.println("HELD " + m.getParticipantNodes().iterator().next());
            System.out.flush();
            if (!revoked.await(waitMs, java.util.concurrent.TimeUnit.MILLISECONDS)) {
                System.out.println("NOT_REVOKED");
                System.out.flush();
                System.exit(3);
            }
            System.out.println("REVOKED");
            System.out.flush();
            m.release();
            System.out.println("RELEASED");
        } else if (mode.equals("revoke")) {
            // Curator's Revoker on the lock node at `path`.
            org.apache.curator.framework.recipes.locks.Revoker.attemptRevoke(c, path);
            System.out.println("REVOKE_SENT");
        } else if (mode.equals("semaphore")) {
            int maxLeases = Integer.parseInt(a[3]);
            int threads = Integer.parseInt(a[4]);
            int iters = Integer.parseInt(a[5]);
            Path log = Paths.get(a[6]);
            long holdMs = Long.parseLong(a[7]);
            List<Thread> ts = new ArrayList<>();
            final Throwable[] failure = new Throwable[1];
            for (int t = 0; t < threads; t++) {
                final String me = "java-" + t;
                Thread th = new Thread(() -> {
                    try {
                        InterProcessSemaphoreV2 s = new InterProcessSemaphoreV2(c, path, maxLeases);
                        for (int i = 0; i < iters; i++) {
                            Lease l = s.acquire();
                            append(log, "enter " + me);
                            Thread.sleep(holdMs);
                            append(log, "leave " + me);
                            s.returnLease(l);
                        }
                    } catch (Throwable e) {
                        failure[0] = e;
                    }
                });
                th.start();
                ts.add(th);
            }
            for (Thread th : ts) th.join();
            if (failure[0] != null) { failure[0].printStackTrace(); System.exit(2); }
            System.out.println("DONE");
        } else if (mode.equals("rwlock")) {
            // Thread t writes on iterations where (t + i) % 3 == 0 and reads otherwise.
            int threads = Integer.parseInt(a[3]);
            int iters = Integer.parseInt(a[4]);
            Path log = Paths.get(a[5]);
            long holdMs = Long.parseLong(a[6]);
            List<Thread> ts = new ArrayList<>();
            final Throwable[] failure = new Throwable[1];
            for (int t = 0; t < threads; t++) {
                final int tt = t;
                final String me = "java-" + t;
                Thread th = new Thread(() -> {
                    try {
                        InterProcessReadWriteLock rw = new InterProcessReadWriteLock(c, path);
                        for (int i = 0; i < iters; i++) {
                            boolean w = (tt + i) % 3 == 0;
                            InterProcessMutex m = w ? rw.writeLock() : rw.readLock();
                            m.acquire();
                            append(log, (w ? "W " : "R ") + "enter " + me);
                            Thread.sleep(holdMs);
                            append(log, (w ? "W " : "R ") + "leave " + me);
                            m.release();
                        }
                    } catch (Throwable e) {
                        failure[0] = e;
                    }
                });
                th.start();
                ts.add(th);
            }
            for (Thread th : ts) th.join();
            if (failure[0] != null) { failure[0].printStackTrace(); System.exit(2); }
            System.out.println("DONE");
        } else if (mode.equals("sharedcount")) {
            // A Curator SharedCount driven by stdin, one answer line per command:
            // get | set N | hold (snapshot the versioned value) | tryheld N (trySetCount with
            // the snapshot) | await N (until the count is N) | events (listener calls) | quit.
            org.apache.curator.framework.recipes.shared.SharedCount sc =
                new org.apache.curator.framework.recipes.shared.SharedCount(c, path, Integer.parseInt(a[3]));
            final List<Integer> seen = java.util.Collections.synchronizedList(new ArrayList<>());
            sc.addListener(new org.apache.curator.framework.recipes.shared.SharedCountListener() {
                @Override
                public void countHasChanged(org.apache.curator.framework.recipes.shared.SharedCountReader r, int n) {
                    seen.add(n);
                }

                @Override
                public void stateChanged(CuratorFramework cf, org.apache.curator.framework.state.ConnectionState s) {
                }
            });
            sc.start();
            System.out.println("STARTED " + sc.getCount() + " " + sc.getVersionedValue().getVersion());
            org.apache.curator.framework.recipes.shared.VersionedValue<Integer> held = null;
            java.io.BufferedReader in = new java.io.BufferedReader(new java.io.InputStreamReader(System.in));
            for (String line; (line = in.readLine()) != null && !line.equals("quit"); ) {
                String[] w = line.split(" ");
                if (w[0].equals("get")) {
                    org.apache.curator.framework.recipes.shared.VersionedValue<Integer> v = sc.getVersionedValue();
                    System.out.println("COUNT " + v.getValue() + " " + v.getVersion());
                } else if (w[0].equals("set")) {
                    sc.setCount(Integer.parseInt(w[1]));
                    System.out.println("OK");
                } else if (w[0].equals("hold")) {
                    held = sc.getVersionedValue();
                    System.out.println("HELD " + held.getValue() + " " + held.getVersion());
                } else if (w[0].equals("tryheld")) {
                    System.out.println("TRYSET " + sc.trySetCount(held, Integer.parseInt(w[1])));
                } else if (w[0].equals("await")) {
                    int want = Integer.parseInt(w[1]);
                    long end = System.currentTimeMillis() + 20000;
                    while (sc.getCount() != want && System.currentTimeMillis() < end) Thread.sleep(10);
                    System.out.println((sc.getCount() == want ? "SAW " : "TIMEOUT ") + sc.getCount());
                } else if (w[0].equals("events")) {
                    StringBuilder b = new StringBuilder("EVENTS");
                    synchronized (seen) { for (int n : seen) b.append(' ').append(n); }
                    System.out.println(b);
                }
                System.out.flush();
            }
            sc.close();
            System.out.println("CLOSED");
        } else if (mode.equals("semcount")) {
            // InterProcessSemaphoreV2 whose maximum is a SharedCount at a[3] (seed a[4]).
            org.apache.curator.framework.recipes.shared.SharedCount sc =
                new org.apache.curator.framework.recipes.shared.SharedCount(c, a[3], Integer.parseInt(a[4]));
            sc.start();
            int threads = Integer.parseInt(a[5]);
            int iters = Integer.parseInt(a[6]);
            Path log = Paths.get(a[7]);
            long holdMs = Long.parseLong(a[8]);
            List<Thread> ts = new ArrayList<>();
            final Throwable[] failure = new Throwable[1];
            for (int t = 0; t < threads; t++) {
                final String me = "java-" + t;
                Thread th = new Thread(() -> {
                    try {
                        InterProcessSemaphoreV2 s = new InterProcessSemaphoreV2(c, path, sc);
                        for (int i = 0; i < iters; i++) {
                            Lease l = s.acquire();
                            append(log, "enter " + me);
                            Thread.sleep(holdMs);
                            append(log, "leave " + me);
                            s.returnLease(l);
                        }
                    } catch (Throwable e) {
                        failure[0] = e;
                    }
                });
                th.start();
                ts.add(th);
            }
            for (Thread th : ts) th.join();
            sc.close();
            if (failure[0] != null) { failure[0].printStackTrace(); System.exit(2); }
            System.out.println("DONE");
        } else if (mode.equals("selector")) {
            String id = a[3];
            int iters = Integer.parseInt(a[4]);
            Path log = Paths.get(a[5]);
            long holdMs = Long.parseLong(a[6]);
            CountDownLatch done = new CountDownLatch(iters);
            LeaderSelector s = new LeaderSelector(c, path, new LeaderSelectorListenerAdapter() {
                @Override
                public void takeLeadership(CuratorFramework cf) throws Exception {
                    if (done.getCount() == 0) return;
                    append(log, "enter " + id);
                    Thread.sleep(holdMs);
                    append(log, "leave " + id);
                    done.countDown();
                }
            });
            s.setId(id);
            s.autoRequeue();
            s.start();
            done.await();
            s.close();
            System.out.println("DONE");
        } else {
            String id = a[3];
            long holdMs = Long.parseLong(a[4]);
            LeaderLatch l = new LeaderLatch(c, path, id);
            l.start();
            System.out.println("STARTED");
            Thread.sleep(500);
            System.out.println("SEES_LEADER " + l.getLeader().getId() + " " + l.hasLeadership());
            l.await();
            System.out.println("LEADER");
            Thread.sleep(holdMs);
            System.out.println("STILL_LEADER " + l.hasLeadership() + " " + l.getLeader().getId());
            l.close();
            System.out.println("CLOSED");
        }
        System.out.flush();
        c.close();
    }

    static synchronized void append(Path p, String s) throws Exception {
        Files.write(p, (s + "\n").getBytes(StandardCharsets.UTF_8), StandardOpenOption.CREATE,
            StandardOpenOption.APPEND, StandardOpenOption.WRITE);
    }
}
