package io.latchd.servlet;

import static io.latchd.client.AgentITSupport.sockets;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.latchd.client.AgentITSupport;
import io.latchd.client.LatchdClient;
import java.io.IOException;
import java.io.InputStream;
import java.net.HttpURLConnection;
import java.net.URL;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.Collections;
import java.util.EnumSet;
import java.util.List;
import javax.servlet.DispatcherType;
import javax.servlet.http.HttpServlet;
import javax.servlet.http.HttpServletRequest;
import javax.servlet.http.HttpServletResponse;
import org.eclipse.jetty.server.Server;
import org.eclipse.jetty.server.ServerConnector;
import org.eclipse.jetty.servlet.FilterHolder;
import org.eclipse.jetty.servlet.ServletContextHandler;
import org.eclipse.jetty.servlet.ServletHolder;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.MethodOrderer;
import org.junit.jupiter.api.Order;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestInstance;
import org.junit.jupiter.api.TestMethodOrder;

/**
 * Two real Jetty servers, each with {@link ActiveGateFilter} bound to its own latchd agent
 * (agents with --server_hold, advertising the Jetty's URL), started by test_java_client.py:
 * {@code latchd.it.gate} (sockets), {@code latchd.it.gate.ports}, {@code latchd.it.gate.pids},
 * {@code latchd.it.sessionMs}. An observer thread sends a write to both every few ms; after a
 * failover (the ACTIVE server's hold lost; the ACTIVE agent SIGTERMed) no sweep has both
 * accepting, the accepting server changes once, and the new ACTIVE accepts within the lease.
 */
@TestInstance(TestInstance.Lifecycle.PER_CLASS)
@TestMethodOrder(MethodOrderer.OrderAnnotation.class)
class JettyGateIT {
  /** One server: its agent's client, its hold, its Jetty. */
  static final class Node {
    final String name;
    final LatchdClient client;
    LatchdClient.Hold hold;
    final Server jetty;
    final int port;
    final long agentPid;

    Node(String name, String socket, int port, long agentPid) throws Exception {
      this.name = name;
      this.port = port;
      this.agentPid = agentPid;
      client = new LatchdClient(socket);
      hold = client.hold();
      client.start();
      jetty = new Server();
      ServerConnector conn = new ServerConnector(jetty);
      conn.setHost("127.0.0.1");
      conn.setPort(port);
      jetty.addConnector(conn);
      ServletContextHandler ctx = new ServletContextHandler();
      ctx.addFilter(new FilterHolder(new ActiveGateFilter(client, ActiveGate.PassiveMode.REFUSE,
          ActiveGate.ReadMode.ALLOW, 2, List.of())), "/s/*", EnumSet.of(DispatcherType.REQUEST));
      ctx.addFilter(new FilterHolder(new ActiveGateFilter(client,
          ActiveGate.PassiveMode.REDIRECT, ActiveGate.ReadMode.GATE, 1, List.of("/r/health"))),
          "/r/*", EnumSet.of(DispatcherType.REQUEST));
      ctx.addServlet(new ServletHolder(new HttpServlet() {
        private static final long serialVersionUID = 1L;

        @Override
        protected void service(HttpServletRequest req, HttpServletResponse resp)
            throws IOException {
          Object epoch = req.getAttribute(ActiveGateFilter.EPOCH_ATTRIBUTE);
          resp.setStatus(200);
          resp.getWriter().print(name + " " + (epoch == null ? "-" : epoch));
        }
      }), "/*");
      jetty.setHandler(ctx);
      jetty.start();
    }

    String url(String path) {
      return "http://127.0.0.1:" + port + path;
    }

    void stop() throws Exception {
      jetty.stop();
      client.close();
    }
  }

  /** One HTTP answer. */
  static final class Answer {
    final int code;
    final String body;
    final String location;
    final String retryAfter;

    Answer(int code, String body, String location, String retryAfter) {
      this.code = code;
      this.body = body;
      this.location = location;
      this.retryAfter = retryAfter;
    }
  }

  static Answer http(String method, String url) throws IOException {
    HttpURLConnection c = (HttpURLConnection) new URL(url).openConnection();
    c.setInstanceFollowRedirects(false);
    c.setRequestMethod(method);
    c.setConnectTimeout(1000);
    c.setReadTimeout(2000);
    if (method.equals("POST")) {
      c.setDoOutput(true);
      c.getOutputStream().write("x".getBytes(StandardCharsets.UTF_8));
    }
    int code = c.getResponseCode();
    InputStream in = code < 400 ? c.getInputStream() : c.getErrorStream();
    String body = in == null ? "" : new String(in.readAllBytes(), StandardCharsets.UTF_8);
    return new Answer(code, body, c.getHeaderField("Location"), c.getHeaderField("Retry-After"));
  }

  /** One sweep of the observer: a write to each server, in turn, with the times. */
  static final class Sweep {
    final long[] start = new long[2];
    final long[] end = new long[2];
    final int[] code = new int[2];
    final String[] body = new String[2];
  }

  /** Sends a write to both servers every ~3 ms and records who accepted. */
  final class Observer {
    final List<Sweep> sweeps = Collections.synchronizedList(new ArrayList<>());
    private volatile boolean stop;
    private final Thread thread = new Thread(this::run, "gate-observer");

    Observer() {
      thread.start();
    }

    private void run() {
      while (!stop) {
        Sweep s = new Sweep();
        for (int i = 0; i < 2; i++) {
          s.start[i] = System.nanoTime();
          try {
            Answer a = http("POST", nodes[i].url("/s/write"));
            s.code[i] = a.code;
            s.body[i] = a.body;
          } catch (IOException e) {
            s.code[i] = -1;
          }
          s.end[i] = System.nanoTime();
        }
        sweeps.add(s);
        try {
          Thread.sleep(3);
        } catch (InterruptedException e) {
          return;
        }
      }
    }

    void stop() throws InterruptedException {
      stop = true;
      thread.join(10_000);
    }

    /**
     * Checks the safety property and returns the first time (nanoTime, end of the request) at
     * which server {@code to} accepted after {@code t0}. The two writes of a sweep are sent one
     * after the other, so every accept has a time interval [start, end] within which the filter
     * decided, and intervals never overlap: "two servers accepting at one instant" shows as an
     * accept by the old server that starts after an accept by the new one has ended (also
     * within one sweep, when the new server is probed first), or as the accepting server
     * changing more than once.
     */
    long check(int from, int to, long t0) {
      List<Sweep> all;
      synchronized (sweeps) {
        all = new ArrayList<>(sweeps);
      }
      long firstNew = -1;
      long lastOldStart = -1;
      long oldEpoch = -1;
      long newEpoch = -1;
      int switches = 0;
      int lastAccepting = -1;
      for (Sweep s : all) {
        for (int i = 0; i < 2; i++) {
          if (s.code[i] != 200) {
            continue;
          }
          long e = Long.parseLong(s.body[i].split(" ")[1]);
          if (lastAccepting != -1 && lastAccepting != i) {
            switches++;
          }
          lastAccepting = i;
          if (i == from) {
            lastOldStart = s.start[i];
            oldEpoch = e;
            assertTrue(firstNew < 0, "the old server accepted (epoch " + e
                + ") after the new one had accepted");
          } else if (firstNew < 0 && s.start[i] > t0) {
            firstNew = s.end[i];
            newEpoch = e;
          }
        }
      }
      assertTrue(switches <= 1, "the accepting server changed " + switches + " times");
      assertTrue(firstNew > 0, "the new ACTIVE never accepted; " + all.size() + " sweeps");
      assertTrue(oldEpoch < 0 || newEpoch > oldEpoch,
          "the fencing epoch grows: " + oldEpoch + " -> " + newEpoch);
      System.out.println("JettyGateIT: " + all.size() + " sweeps, epochs " + oldEpoch + " -> "
          + newEpoch + (lastOldStart > 0 ? ", last old accept started "
          + (firstNew - lastOldStart) / 1000 + " us before the first new accept ended" : ""));
      return firstNew;
    }
  }

  Node[] nodes;
  long sessionMs;

  @BeforeAll
  void start() throws Exception {
    String[] socks = sockets("latchd.it.gate");
    String[] ports = System.getProperty("latchd.it.gate.ports").split(",");
    String[] pids = System.getProperty("latchd.it.gate.pids").split(",");
    sessionMs = Long.parseLong(System.getProperty("latchd.it.sessionMs", "4000"));
    nodes = new Node[2];
    for (int i = 0; i < 2; i++) {
      nodes[i] = new Node("n" + i, socks[i], Integer.parseInt(ports[i]), Long.parseLong(pids[i]));
    }
  }

  @AfterAll
  void stop() throws Exception {
    for (Node n : nodes) {
      if (n != null) {
        n.stop();
      }
    }
  }

  int waitActive(long ms) throws Exception {
    int[] who = new int[1];
    AgentITSupport.waitFor(() -> {
      int n = 0;
      for (int i = 0; i < 2; i++) {
        if (nodes[i].client.isActive()) {
          who[0] = i;
          n++;
        }
      }
      return n == 1;
    }, ms, "one server ACTIVE");
    return who[0];
  }

  @Test
  @Order(1)
  void passiveRefusesOrRedirectsActiveAccepts() throws Exception {
    int a = waitActive(20_000);
    int p = 1 - a;
    Answer ok = http("POST", nodes[a].url("/s/write"));
    assertEquals(200, ok.code);
    assertEquals(nodes[a].client.activeEpoch().getAsLong(), Long.parseLong(ok.body.split(" ")[1]));
    Answer refused = http("POST", nodes[p].url("/s/write"));
    assertEquals(503, refused.code, refused.body);
    assertEquals("2", refused.retryAfter);
    Answer read = http("GET", nodes[p].url("/s/read"));
    assertEquals(200, read.code, "reads pass on the PASSIVE (ReadMode.ALLOW)");
    // The passive's agent knows the leader once it published active_server_info.
    AgentITSupport.waitFor(() -> nodes[p].client.lastStatus().leaderAddress() != null, 5000,
        "leader address known");
    Answer redirected = http("PUT", nodes[p].url("/r/entity?guid=1"));
    assertEquals(307, redirected.code, redirected.body);
    assertEquals(nodes[a].url("/r/entity?guid=1"), redirected.location);
    Answer readRedirected = http("GET", nodes[p].url("/r/entity"));
    assertEquals(307, readRedirected.code, "reads gated with ReadMode.GATE");
    assertEquals(200, http("GET", nodes[p].url("/r/health")).code, "exempt path");
    Answer followed = http("PUT", redirected.location);
    assertEquals(200, followed.code, "the redirect leads to the ACTIVE");
  }

  @Test
  @Order(2)
  void holdLostHandsOverWithoutTwoAccepting() throws Exception {
    int a = waitActive(20_000);
    failover(a, "hold lost", () -> nodes[a].hold.close()); // its agent hands over
    Answer refused = http("POST", nodes[a].url("/s/write"));
    assertEquals(503, refused.code);
    assertNotNull(refused.retryAfter);
    nodes[a].hold = nodes[a].client.hold(); // rejoin at the back
    AgentITSupport.waitFor(nodes[a].client::holding, 5000, "holding again");
  }

  @Test
  @Order(3)
  void activeAgentSigtermHandsOverWithoutTwoAccepting() throws Exception {
    int a = waitActive(20_000);
    // Wait until the other agent stands again (it rejoined after its hold came back).
    AgentITSupport.waitFor(() -> {
      try {
        return nodes[a].client.status().participants() == 2;
      } catch (IOException e) {
        return false;
      }
    }, 10_000, "two participants");
    failover(a, "agent SIGTERM",
        () -> ProcessHandle.of(nodes[a].agentPid).orElseThrow().destroy());
    Answer refused = http("POST", nodes[a].url("/r/write"));
    assertEquals(503, refused.code, "agent gone: refused, not redirected: " + refused.body);
  }

  /** Runs {@code cause} on the ACTIVE {@code a} under the observer; checks the handover. */
  private void failover(int a, String what, Runnable cause) throws Exception {
    long t0;
    long first;
    Observer obs = new Observer();
    try {
      Thread.sleep(200);
      t0 = System.nanoTime();
      cause.run();
      AgentITSupport.waitFor(() -> nodes[1 - a].client.isActive(), sessionMs, "new ACTIVE");
      Thread.sleep(300);
      obs.stop();
      first = obs.check(a, 1 - a, t0);
    } finally {
      obs.stop();
    }
    long ms = (first - t0) / 1_000_000;
    System.out.println("JettyGateIT: " + what + " -> new ACTIVE accepts after " + ms + " ms");
    assertTrue(ms < sessionMs, "within the lease: " + ms + " ms");
  }
}
