package io.latchd.client;

import static io.latchd.client.LatchdClientFakeTest.latchdThreads;
import static io.latchd.client.LatchdClientFakeTest.waitFor;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.concurrent.atomic.AtomicBoolean;
import org.junit.jupiter.api.MethodOrderer;
import org.junit.jupiter.api.Order;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestMethodOrder;

/**
 * The client against real latchd agents on a real ZooKeeper, started by
 * tests/integration/test_java_client.py, which passes their sockets as system properties:
 * {@code latchd.it.plain} (two agents) and {@code latchd.it.ack} (two agents with
 * --activation_ack_timeout_ms = {@code latchd.it.ackTimeoutMs}). Skipped without them.
 */
@TestMethodOrder(MethodOrderer.OrderAnnotation.class)
class AgentIT {
  static String[] sockets(String prop) {
    return AgentITSupport.sockets(prop);
  }

  /** Records the listener calls of one client, with the agent's role during activation. */
  static final class Recorder implements RoleListener {
    final String name;
    final LatchdClient client;
    final List<String> events = Collections.synchronizedList(new ArrayList<>());
    final AtomicBoolean failNext = new AtomicBoolean();
    volatile long activationMs;

    Recorder(String name, LatchdClient client) {
      this.name = name;
      this.client = client;
    }

    @Override
    public void onStatus(LatchdStatus s) {
      if (s.role() == Role.ACTIVE) {
        events.add("line ACTIVE " + s.epoch());
      }
    }

    @Override
    public void onBecomingActive(long epoch) throws Exception {
      events.add("becoming " + epoch);
      if (failNext.getAndSet(false)) {
        throw new IllegalStateException("activation of " + name + " failed on purpose");
      }
      // The agent waits for our ack (with --activation_ack_timeout_ms): it is not ACTIVE yet.
      events.add("agent during activation " + client.status().role());
      events.add("isActive during activation " + client.isActive());
      Thread.sleep(activationMs);
    }

    @Override
    public void onActive(long epoch) {
      events.add("active " + epoch);
    }

    @Override
    public void onActivationFailed(long epoch, Exception cause) {
      events.add("failed " + epoch);
    }

    @Override
    public void onBecomingPassive(long epoch) {
      events.add("passive " + epoch);
    }
  }

  static LatchdClient waitOneActive(List<LatchdClient> clients, long ms) throws Exception {
    LatchdClient[] found = new LatchdClient[1];
    waitFor(() -> {
      int n = 0;
      for (LatchdClient c : clients) {
        if (c.isActive()) {
          found[0] = c;
          n++;
        }
      }
      return n == 1;
    }, ms, "exactly one client active");
    return found[0];
  }

  @Test
  @Order(1)
  void statusIsActiveAndYieldAgainstRealAgents() throws Exception {
    String[] s = sockets("latchd.it.plain");
    List<LatchdClient> clients = List.of(new LatchdClient(s[0]), new LatchdClient(s[1]));
    try {
      LatchdClient active = waitOneActive(clients, 15_000);
      LatchdClient passive = clients.get(0) == active ? clients.get(1) : clients.get(0);
      LatchdStatus st = active.status();
      assertEquals(Role.ACTIVE, st.role());
      assertEquals(st.epoch(), active.activeEpoch().getAsLong());
      assertTrue(st.leaseMs() > 0);
      LatchdStatus ps = passive.status();
      assertEquals(Role.PASSIVE, ps.role());
      assertEquals(st.id(), ps.leader().id());
      assertFalse(passive.isActive());

      Recorder rec = new Recorder("passive", passive);
      passive.addListener(rec);
      passive.start();
      waitFor(() -> passive.lastStatus().agentReachable(), 3000, "watch up");
      long t0 = System.nanoTime();
      active.yieldLeadership();
      // The agent pushed BECOMING_PASSIVE before it answered the yield: never stale.
      assertFalse(active.isActive(), "isActive right after the yield was answered");
      waitFor(passive::isActive, 5000, "the other agent ACTIVE after the yield");
      long ms = (System.nanoTime() - t0) / 1_000_000;
      long e = passive.activeEpoch().getAsLong();
      assertTrue(e > st.epoch(), "the epoch grows: " + e + " > " + st.epoch());
      waitFor(() -> rec.events.contains("active " + e), 3000, "onActive; " + rec.events);
      List<String> mine = new ArrayList<>(rec.events);
      assertEquals("becoming " + e, mine.get(0), mine.toString());
      assertTrue(mine.indexOf("active " + e) > mine.indexOf("becoming " + e), mine.toString());
      System.out.println("AgentIT: yield handed over in " + ms + " ms; events " + mine);
    } finally {
      clients.forEach(LatchdClient::close);
    }
    assertEquals(List.of(), latchdThreads(), "threads left after close");
  }

  @Test
  @Order(2)
  void ackPathEndToEnd() throws Exception {
    String[] s = sockets("latchd.it.ack");
    long ackTimeout = Long.parseLong(System.getProperty("latchd.it.ackTimeoutMs", "3000"));
    List<LatchdClient> clients = List.of(new LatchdClient(s[0]), new LatchdClient(s[1]));
    List<Recorder> recs = new ArrayList<>();
    try {
      for (int i = 0; i < 2; i++) {
        Recorder r = new Recorder("c" + i, clients.get(i));
        r.activationMs = 300;
        recs.add(r);
        clients.get(i).addListener(r);
        clients.get(i).start();
      }
      // Until a client acks, the agents give leadership up in turn: one of them ends ACTIVE.
      LatchdClient active = waitOneActive(clients, 15_000 + 2 * ackTimeout);
      Recorder ra = recs.get(clients.indexOf(active));
      long e = active.activeEpoch().getAsLong();
      waitFor(() -> ra.events.contains("active " + e), 3000, "onActive; " + ra.events);
      List<String> ev = new ArrayList<>(ra.events);
      int b = ev.lastIndexOf("becoming " + e);
      assertTrue(b >= 0, ev.toString());
      assertEquals(List.of("becoming " + e, "agent during activation BECOMING_ACTIVE",
          "isActive during activation false", "line ACTIVE " + e, "active " + e),
          ev.subList(b, b + 5), "activation, then ack, then ACTIVE; all: " + ev);

      // A failing activation is not acked: that agent gives leadership up after the timeout
      // and the other one (which rejoined at the back after its yield) leads again.
      LatchdClient other = clients.get(0) == active ? clients.get(1) : clients.get(0);
      Recorder ro = recs.get(clients.indexOf(other));
      ro.failNext.set(true);
      ro.events.clear();
      active.yieldLeadership();
      waitFor(() -> ro.events.stream().anyMatch(x -> x.startsWith("failed ")), 10_000,
          "the failed activation; " + ro.events);
      long t0 = System.nanoTime();
      waitFor(active::isActive, 10_000 + 2 * ackTimeout, "the first agent ACTIVE again");
      long ms = (System.nanoTime() - t0) / 1_000_000;
      assertFalse(other.isActive());
      assertFalse(ro.events.stream().anyMatch(x -> x.startsWith("line ACTIVE")
              || x.startsWith("active ")), "the unacked agent never went ACTIVE: " + ro.events);
      assertTrue(ms > ackTimeout / 2, "gave up after the ack timeout, not at once: " + ms);
      System.out.println("AgentIT: unacked activation gave up after " + ms + " ms; " + ro.events);
    } finally {
      clients.forEach(LatchdClient::close);
    }
  }
}
