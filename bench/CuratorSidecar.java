// An Atlas-like Curator LeaderLatch sidecar, for bench/failover.py (latchd side by side with
// what Apache Atlas does with Curator).
//
//   java -cp <classes>:<curator jars> CuratorSidecar ID CONNECT ZK_ROOT HTTP_PORT SESSION_MS JOURNAL [ADVERTISE]
//
// What Atlas does (ActiveInstanceElectorService, ActiveInstanceState, CuratorFactory), minus
// the activation handlers:
//   * Curator client: connect string, session timeout, ExponentialBackoffRetry(1000 ms, 3)
//     (atlas.server.ha.zookeeper.retry.sleeptime.ms / num.retries defaults); Curator's defaults
//     otherwise (connection timeout, the Standard connection-state error policy: SUSPENDED
//     is an error state, so a ZooKeeper disconnect already costs leadership).
//   * LeaderLatch(ZK_ROOT + "/leader_elector_path", ID), default close mode (SILENT).
//   * isLeader(): BECOMING_ACTIVE, then write ZK_ROOT/active_server_info (create EPHEMERAL if
//     missing, then setData = ADVERTISE), then ACTIVE. If that fails: notLeader(), close the
//     latch and join again with a new one (Atlas's rejoinElection).
//   * notLeader(): BECOMING_PASSIVE, then PASSIVE.
//   * GET /api/atlas/admin/status answers 200 {"Status":"<ROLE>"} (keep-alive).
//   * A shutdown hook closes the latch and the client (SIGTERM); the HTTP server answers until
//     the JVM is gone, like Atlas's Jetty.
// Every role change is appended to JOURNAL as one JSON line, the same format as latchd's
// --journal: {"mono_ns": System.nanoTime() (CLOCK_MONOTONIC on Linux), "wall_ms", "id",
// "from", "to", "epoch": 0, "reason"}.
// Prints "MONO <nanoTime>" at once (the harness checks it is CLOCK_MONOTONIC) and "READY <port>"
// once the HTTP server listens and the latch is started.

import com.sun.net.httpserver.HttpServer;
import java.io.FileOutputStream;
import java.io.IOException;
import java.io.OutputStream;
import java.net.InetSocketAddress;
import java.nio.charset.StandardCharsets;
import java.util.concurrent.Executors;
import java.util.concurrent.atomic.AtomicBoolean;

import org.apache.curator.framework.CuratorFramework;
import org.apache.curator.framework.CuratorFrameworkFactory;
import org.apache.curator.framework.recipes.leader.LeaderLatch;
import org.apache.curator.framework.recipes.leader.LeaderLatchListener;
import org.apache.curator.retry.ExponentialBackoffRetry;
import org.apache.zookeeper.CreateMode;
import org.apache.zookeeper.data.Stat;

public final class CuratorSidecar implements LeaderLatchListener {
  private final String id;
  private final String latchPath;
  private final String infoPath;
  private final String advertise;
  private final CuratorFramework client;
  private final FileOutputStream journal;
  private final Object lock = new Object();
  private volatile String role = "PASSIVE";
  private LeaderLatch latch;

  CuratorSidecar(String id, String connect, String root, int sessionMs, String journalPath,
                 String advertise) throws IOException {
    this.id = id;
    this.latchPath = root + "/leader_elector_path";
    this.infoPath = root + "/active_server_info";
    this.advertise = advertise;
    this.journal = new FileOutputStream(journalPath, true);
    this.client = CuratorFrameworkFactory.builder()
        .connectString(connect)
        .sessionTimeoutMs(sessionMs)
        .retryPolicy(new ExponentialBackoffRetry(1000, 3))
        .build();
  }

  private static String quote(String s) {
    return "\"" + s.replace("\\", "\\\\").replace("\"", "\\\"") + "\"";
  }

  private void setRole(String to, String reason) {
    synchronized (lock) {
      String from = role;
      if (from.equals(to)) return;
      role = to;
      String line = "{\"mono_ns\":" + System.nanoTime() + ",\"wall_ms\":" + System.currentTimeMillis()
          + ",\"id\":" + quote(id) + ",\"from\":" + quote(from) + ",\"to\":" + quote(to)
          + ",\"epoch\":0,\"reason\":" + quote(reason) + "}\n";
      try {
        journal.write(line.getBytes(StandardCharsets.UTF_8));
      } catch (IOException e) {
        System.err.println("journal: " + e);
      }
    }
  }

  private void joinElection() throws Exception {
    latch = new LeaderLatch(client, latchPath, id);
    latch.addListener(this);
    latch.start();
  }

  @Override
  public void isLeader() {
    setRole("BECOMING_ACTIVE", "isLeader");
    try {
      // ActiveInstanceState.update: create the ephemeral node if missing, then set the URL.
      Stat stat = client.checkExists().forPath(infoPath);
      if (stat == null) {
        try {
          client.create().creatingParentsIfNeeded().withMode(CreateMode.EPHEMERAL).forPath(infoPath);
        } catch (org.apache.zookeeper.KeeperException.NodeExistsException e) {
          // another server's node: setData below, as Atlas does
        }
      }
      client.setData().forPath(infoPath, advertise.getBytes(StandardCharsets.UTF_8));
      setRole("ACTIVE", "active_server_info written");
    } catch (Exception e) {
      System.err.println("activation failed: " + e);
      notLeader();
      try {
        latch.close();
        joinElection();
      } catch (Exception e2) {
        System.err.println("rejoin failed: " + e2);
      }
    }
  }

  @Override
  public void notLeader() {
    setRole("BECOMING_PASSIVE", "notLeader");
    setRole("PASSIVE", "notLeader");
  }

  private void shutdown() {
    try {
      if (latch != null) latch.close();
    } catch (Exception e) {
      System.err.println("close latch: " + e);
    }
    client.close();
  }

  public static void main(String[] args) throws Exception {
    if (args.length < 6) {
      System.err.println("usage: CuratorSidecar ID CONNECT ZK_ROOT HTTP_PORT SESSION_MS JOURNAL [ADVERTISE]");
      System.exit(2);
    }
    System.out.println("MONO " + System.nanoTime());
    System.out.flush();
    int port = Integer.parseInt(args[3]);
    String advertise = args.length > 6 ? args[6] : "http://127.0.0.1:" + port;
    CuratorSidecar s = new CuratorSidecar(args[0], args[1], args[2], Integer.parseInt(args[4]),
                                          args[5], advertise);
    HttpServer http = HttpServer.create(new InetSocketAddress("127.0.0.1", port), 128);
    http.createContext("/api/atlas/admin/status", ex -> {
      byte[] body = ("{\"Status\":\"" + s.role + "\"}").getBytes(StandardCharsets.UTF_8);
      ex.getResponseHeaders().set("Content-Type", "application/json");
      ex.sendResponseHeaders(200, body.length);
      try (OutputStream os = ex.getResponseBody()) {
        os.write(body);
      }
    });
    http.setExecutor(Executors.newFixedThreadPool(4));
    http.start();
    AtomicBoolean closed = new AtomicBoolean(false);
    Runtime.getRuntime().addShutdownHook(new Thread(() -> {
      if (closed.compareAndSet(false, true)) s.shutdown();
    }));
    s.client.start();
    s.joinElection();
    System.out.println("READY " + port);
    System.out.flush();
    Thread.currentThread().join();
  }
}
