package io.latchd.client;

import java.util.function.BooleanSupplier;
import org.junit.jupiter.api.Assumptions;

/** Shared by the tests against real agents (public for io.latchd.servlet's tests). */
public final class AgentITSupport {
  private AgentITSupport() {}

  /** The sockets named by system property {@code prop}; skips the test without it. */
  public static String[] sockets(String prop) {
    String v = System.getProperty(prop);
    Assumptions.assumeTrue(v != null && !v.isEmpty(),
        prop + " not set (run by tests/integration/test_java_client.py)");
    return v.split(",");
  }

  public static void waitFor(BooleanSupplier cond, long ms, String what)
      throws InterruptedException {
    LatchdClientFakeTest.waitFor(cond, ms, what);
  }
}
