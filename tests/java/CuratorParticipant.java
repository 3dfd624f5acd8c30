// A Curator LeaderLatch participant for wire-compatibility tests with latchd.
//
//   java CuratorParticipant CONNECT LATCH_PATH ID [SESSION_TIMEOUT_MS]
//
// Joins LeaderLatch(LATCH_PATH, ID) (close mode NOTIFY_LEADER) and prints, one line each,
// flushed:
//   ROLE PASSIVE                 at start, and on notLeader()
//   ROLE ACTIVE                  on isLeader()
//   SESSION 0x<hex>              once the first connection is made
//   STATE <ConnectionState>      on every connection state change
// Commands on stdin (one per line), each answered with one line:
//   leader        -> LEADER <id>           (latch.getLeader().getId(); empty when none)
//   participants  -> PARTICIPANTS id1,id2  (latch.getParticipants(), latch order)
//   ourpath       -> OURPATH <path>
//   hasleadership -> HASLEADERSHIP true|false
//   session       -> SESSION 0x<hex>
// Errors answer "ERROR <message>". On stdin EOF, "quit", or SIGTERM (shutdown hook) the
// latch and the client are closed and the process exits 0; the last line is "CLOSED".

import java.io.BufferedReader;
import java.io.InputStreamReader;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.atomic.AtomicBoolean;

import org.apache.curator.framework.CuratorFramework;
import org.apache.curator.framework.CuratorFrameworkFactory;
import org.apache.curator.framework.recipes.leader.LeaderLatch;
import org.apache.curator.framework.recipes.leader.LeaderLatchListener;
import org.apache.curator.framework.recipes.leader.Participant;
import org.apache.curator.retry.ExponentialBackoffRetry;

public final class CuratorParticipant {
  private static final Object OUT = new Object();
  private static final AtomicBoolean closed = new AtomicBoolean(false);
  private static CuratorFramework client;
  private static LeaderLatch latch;

  static void say(String line) {
    synchronized (OUT) {
      System.out.println(line);
      System.out.flush();
    }
  }

  static String sessionHex() throws Exception {
    return "0x" + Long.toHexString(client.getZookeeperClient().getZooKeeper().getSessionId());
  }

  static void shutdown() {
    if (!closed.compareAndSet(false, true)) return;
    try {
      if (latch != null) latch.close();
    } catch (Exception e) {
      say("ERROR close latch: " + e);
    }
    try {
      if (client != null) client.close();
    } catch (Exception e) {
      say("ERROR close client: " + e);
    }
    say("CLOSED");
  }

  public static void main(String[] args) throws Exception {
    if (args.length < 3) {
      System.err.println("usage: CuratorParticipant CONNECT LATCH_PATH ID [SESSION_TIMEOUT_MS]");
      System.exit(2);
    }
    String connect = args[0];
    String path = args[1];
    String id = args[2];
    int sessionMs = args.length > 3 ? Integer.parseInt(args[3]) : 4000;

    client = CuratorFrameworkFactory.builder()
        .connectString(connect)
        .sessionTimeoutMs(sessionMs)
        .connectionTimeoutMs(Math.max(1000, sessionMs))
        .retryPolicy(new ExponentialBackoffRetry(100, 10, 1000))
        .build();
    AtomicBoolean sessionPrinted = new AtomicBoolean(false);
    client.getConnectionStateListenable().addListener((c, state) -> {
      say("STATE " + state);
      if (state.isConnected() && sessionPrinted.compareAndSet(false, true)) {
        try {
          say("SESSION " + sessionHex());
        } catch (Exception e) {
          say("ERROR session: " + e);
        }
      }
    });
    latch = new LeaderLatch(client, path, id, LeaderLatch.CloseMode.NOTIFY_LEADER);
    latch.addListener(new LeaderLatchListener() {
      @Override
      public void isLeader() {
        say("ROLE ACTIVE");
      }

      @Override
      public void notLeader() {
        say("ROLE PASSIVE");
      }
    });
    Runtime.getRuntime().addShutdownHook(new Thread(CuratorParticipant::shutdown));

    say("ROLE PASSIVE");
    client.start();
    latch.start();
    say("STARTED");

    BufferedReader in =
        new BufferedReader(new InputStreamReader(System.in, StandardCharsets.UTF_8));
    String line;
    while ((line = in.readLine()) != null) {
      line = line.trim();
      if (line.isEmpty()) continue;
      try {
        switch (line) {
          case "leader":
            say("LEADER " + latch.getLeader().getId());
            break;
          case "participants": {
            List<String> ids = new ArrayList<>();
            for (Participant p : latch.getParticipants()) ids.add(p.getId());
            say("PARTICIPANTS " + String.join(",", ids));
            break;
          }
          case "ourpath":
            say("OURPATH " + latch.getOurPath());
            break;
          case "hasleadership":
            say("HASLEADERSHIP " + latch.hasLeadership());
            break;
          case "session":
            say("SESSION " + sessionHex());
            break;
          case "quit":
          case "exit":
            shutdown();
            System.exit(0);
            break;
          default:
            say("ERROR unknown command " + line);
        }
      } catch (Exception e) {
        say("ERROR " + line + ": " + e);
      }
    }
    shutdown();
    System.exit(0);
  }
}
