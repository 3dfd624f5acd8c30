package io.latchd.client;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.function.BooleanSupplier;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The client against {@link FakeAgent}: lease expiry, bad answers, reconnect, order, close. */
class LatchdClientFakeTest {
  @TempDir Path dir;

  static void waitFor(BooleanSupplier cond, long ms, String what) throws InterruptedException {
    long until = System.nanoTime() + TimeUnit.MILLISECONDS.toNanos(ms);
    while (!cond.getAsBoolean()) {
      if (System.nanoTime() - until > 0) {
        throw new AssertionError("not within " + ms + " ms: " + what);
      }
      Thread.sleep(2);
    }
  }

  static List<String> latchdThreads() {
    List<String> names = new ArrayList<>();
    for (Thread t : Thread.getAllStackTraces().keySet()) {
      if (t.getName().startsWith("latchd-") && t.isAlive()) {
        names.add(t.getName());
      }
    }
    return names;
  }

  @Test
  void leaseRunsOutWithoutAFreshAnswer() throws Exception {
    AtomicInteger polls = new AtomicInteger();
    // The first status is answered ACTIVE with a 400 ms lease; later ones never (a hung agent).
    try (FakeAgent agent = new FakeAgent(dir, line -> line.startsWith("ack") ? "{\"ok\":true}" : line.equals("status")
            && polls.incrementAndGet() == 1 ? FakeAgent.status("ACTIVE", 9, 400) : null,
            FakeAgent.status("ACTIVE", 9, 400));
        LatchdClient c = new LatchdClient(agent.socket(),
            new LatchdClient.Options().deadline(Duration.ofSeconds(5)))) {
      long t0 = System.nanoTime();
      assertTrue(c.isActive());
      assertEquals(9, c.activeEpoch().getAsLong());
      waitFor(() -> !c.isActive(), 1000, "isActive false after the lease");
      long ms = TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - t0);
      assertTrue(ms <= 450, "false " + ms + " ms after the first call, lease 400 ms");
      assertTrue(ms >= 100, "false too early: " + ms + " ms");
    }
  }

  @Test
  void aPushedChangeIsSeenByTheNextCall() throws Exception {
    try (FakeAgent agent = new FakeAgent(dir,
            line -> line.equals("status") ? FakeAgent.status("ACTIVE", 3, 10_000)
                : line.startsWith("ack") ? "{\"ok\":true}" : null,
            FakeAgent.status("ACTIVE", 3, 10_000));
        LatchdClient c = new LatchdClient(agent.socket())) {
      assertTrue(c.isActive());
      agent.handler = line -> FakeAgent.status("PASSIVE", 3, 0);
      agent.push("{\"epoch\":3,\"lease_ms\":0,\"role\":\"BECOMING_PASSIVE\","
          + "\"previous_role\":\"ACTIVE\",\"reason\":\"test\"}");
      // The push is in the socket: the very next call must see it (it drains first).
      Thread.sleep(5);
      assertFalse(c.isActive());
    }
  }

  @Test
  void agentGoneMakesTheNextCallFalseAndTheClientReconnects() throws Exception {
    List<String> events = Collections.synchronizedList(new ArrayList<>());
    try (FakeAgent agent = new FakeAgent(dir,
            line -> line.equals("status") ? FakeAgent.status("ACTIVE", 5, 10_000)
                : line.startsWith("ack") ? "{\"ok\":true}" : null,
            FakeAgent.status("ACTIVE", 5, 10_000));
        LatchdClient c = new LatchdClient(agent.socket())) {
      c.addListener(new RoleListener() {
        @Override
        public void onStatus(LatchdStatus s) {
          events.add(s.agentReachable() ? "status " + s.role() : "unreachable");
        }

        @Override
        public void onBecomingActive(long epoch) {
          events.add("becoming " + epoch);
        }

        @Override
        public void onActive(long epoch) {
          events.add("active " + epoch);
        }

        @Override
        public void onBecomingPassive(long epoch) {
          events.add("passive " + epoch);
        }
      });
      c.start();
      waitFor(c::isActive, 3000, "active");
      waitFor(() -> events.contains("active 5"), 3000, "acked and onActive; " + events);
      agent.dropConnections();
      Thread.sleep(5);
      assertFalse(c.isActive(), "the next call after EOF");
      waitFor(() -> events.contains("passive 5"), 2000, "onBecomingPassive after EOF");
      waitFor(c::isActive, 3000, "active again after reconnect");
      waitFor(() -> events.size() >= 8, 5000, "events " + events);
      assertEquals(List.of("status ACTIVE", "becoming 5", "active 5", "unreachable", "passive 5",
          "status ACTIVE", "becoming 5", "active 5"), events.subList(0, 8));
    }
  }

  @Test
  void listenerOrderBecomingThenAckThenActive() throws Exception {
    List<String> events = Collections.synchronizedList(new ArrayList<>());
    FakeAgent[] ref = new FakeAgent[1];
    try (FakeAgent agent = new FakeAgent(dir, line -> {
      if (line.equals("ack 11")) {
        events.add("agent got ack 11");
        try {
          ref[0].push(FakeAgent.status("ACTIVE", 11, 5000));
        } catch (java.io.IOException e) {
          throw new RuntimeException(e);
        }
        return "{\"ok\":true,\"role\":\"ACTIVE\"}";
      }
      return line.equals("status") ? FakeAgent.status("PASSIVE", 0, 0) : null;
    }, FakeAgent.status("PASSIVE", 0, 0));
        LatchdClient c = new LatchdClient(agent.socket())) {
      ref[0] = agent;
      c.addListener(new RoleListener() {
        @Override
        public void onBecomingActive(long epoch) throws Exception {
          events.add("becoming " + epoch);
          Thread.sleep(100); // the server's activation work
          events.add("activated " + epoch);
        }

        @Override
        public void onActive(long epoch) {
          events.add("active " + epoch);
        }
      });
      c.start();
      waitFor(() -> agent.watchers() == 1, 2000, "watch connected");
      agent.push(FakeAgent.status("BECOMING_ACTIVE", 11, 5000));
      waitFor(() -> events.size() >= 4, 3000, "events " + events);
      assertEquals(List.of("becoming 11", "activated 11", "agent got ack 11", "active 11"),
          events);
    }
  }

  @Test
  void failedActivationIsNotAckedAndYieldsWhenAsked() throws Exception {
    List<String> events = Collections.synchronizedList(new ArrayList<>());
    try (FakeAgent agent = new FakeAgent(dir, line -> {
      events.add("agent got " + line);
      return line.equals("yield") ? "{\"ok\":true,\"role\":\"PASSIVE\"}"
          : line.equals("status") ? FakeAgent.status("BECOMING_ACTIVE", 4, 5000) : null;
    }, FakeAgent.status("BECOMING_ACTIVE", 4, 5000));
        LatchdClient c = new LatchdClient(agent.socket(),
            new LatchdClient.Options().yieldOnActivationFailure(true))) {
      c.addListener(new RoleListener() {
        @Override
        public void onBecomingActive(long epoch) throws Exception {
          throw new IllegalStateException("cannot load caches");
        }

        @Override
        public void onActivationFailed(long epoch, Exception cause) {
          events.add("failed " + epoch + " " + cause.getMessage());
        }
      });
      c.start();
      waitFor(() -> events.contains("agent got yield"), 3000, "yield; events " + events);
      assertTrue(events.contains("failed 4 cannot load caches"), events.toString());
      assertFalse(events.stream().anyMatch(e -> e.startsWith("agent got ack")), events.toString());
    }
  }

  @Test
  void badStatusAnswerIsAnErrorNamingTheSocket() throws Exception {
    try (FakeAgent agent = new FakeAgent(dir, line -> "role=ACTIVE epoch=1", "garbage");
        LatchdClient c = new LatchdClient(agent.socket())) {
      LatchdException e = assertThrows(LatchdException.class, c::status);
      assertTrue(e.getMessage().contains(agent.socket()), e.getMessage());
      assertTrue(e.getMessage().contains("not JSON"), e.getMessage());
      assertFalse(c.isActive());
      agent.handler = line -> "{\"error\":\"ack: epoch 1 is not the current term 2\"}";
      e = assertThrows(LatchdException.class, () -> c.ack(1));
      assertTrue(e.getMessage().contains("refused ack 1: ack: epoch 1"), e.getMessage());
    }
  }

  @Test
  void unreachableSocketIsAnErrorAndNeverActive() {
    String sock = dir.resolve("none.sock").toString();
    try (LatchdClient c = new LatchdClient(sock)) {
      LatchdException e = assertThrows(LatchdException.class, c::status);
      assertTrue(e.getMessage().contains(sock) && e.getMessage().contains("cannot connect"),
          e.getMessage());
      assertFalse(c.isActive());
      assertFalse(c.lastStatus().agentReachable());
    }
  }

  @Test
  void closeStopsEveryThreadPromptly() throws Exception {
    try (FakeAgent agent = new FakeAgent(dir, line -> line.equals("hold")
            ? "{\"hold\":true,\"hold_timeout_ms\":0,\"holds\":1,\"ok\":true}"
            : line.equals("status") ? FakeAgent.status("ACTIVE", 2, 5000)
            : line.equals("ping") ? "{\"ok\":true,\"pong\":true}" : "{\"ok\":true}",
            FakeAgent.status("ACTIVE", 2, 5000))) {
      LatchdClient c = new LatchdClient(agent.socket(),
          new LatchdClient.Options().holdPingInterval(Duration.ofMillis(20)));
      c.addListener(new RoleListener() {});
      c.hold();
      c.start();
      waitFor(c::isActive, 3000, "active");
      waitFor(c::holding, 3000, "holding");
      waitFor(() -> agent.received.contains("ping"), 3000, "a ping");
      assertFalse(latchdThreads().isEmpty());
      long t0 = System.nanoTime();
      c.close();
      long ms = TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - t0);
      assertTrue(ms < 500, "close took " + ms + " ms");
      assertEquals(List.of(), latchdThreads());
      assertFalse(c.isActive());
      assertFalse(c.holding());
    }
  }
}
