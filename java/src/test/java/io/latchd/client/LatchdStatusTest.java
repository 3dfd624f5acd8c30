package io.latchd.client;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import org.junit.jupiter.api.Test;

class LatchdStatusTest {
  static final String SOCK = "/run/test/latchd.sock";
  // From docs/protocol.md.
  static final String PROTOCOL_EXAMPLE = "{\"epoch\":4294967302,\"id\":\"host1\",\"leader\":"
      + "{\"address\":\"http://host1:21000\",\"epoch\":4294967302,\"id\":\"host1\"},\"lease_ms\":"
      + "2913,\"participants\":2,\"role\":\"ACTIVE\",\"server\":{\"healthy\":true,\"holds\":0,"
      + "\"reason\":\"no server binding configured\",\"since\":0,\"waiting\":false},\"since\":"
      + "1795313241128,\"zk\":{\"session_id\":\"0x10000179d760000\",\"state\":\"CONNECTED\","
      + "\"timeout_ms\":4000}}";

  @Test
  void parsesTheProtocolExample() throws Exception {
    LatchdStatus s = LatchdStatus.parse(PROTOCOL_EXAMPLE, SOCK);
    assertEquals(Role.ACTIVE, s.role());
    assertEquals(4294967302L, s.epoch());
    assertEquals(2913, s.leaseMs());
    assertEquals("host1", s.id());
    assertEquals("http://host1:21000", s.leaderAddress());
    assertEquals(4294967302L, s.leader().epoch());
    assertTrue(s.zkConnected());
    assertTrue(s.agentReachable());
    assertTrue(s.serverHealthy());
    assertNull(s.previousRole());
  }

  @Test
  void parsesAChangeLineAndANullLeader() throws Exception {
    LatchdStatus s = LatchdStatus.parse("{\"epoch\":7,\"lease_ms\":0,\"leader\":null,"
        + "\"previous_role\":\"ACTIVE\",\"reason\":\"yield requested\","
        + "\"role\":\"BECOMING_PASSIVE\"}", SOCK);
    assertEquals(Role.BECOMING_PASSIVE, s.role());
    assertEquals(Role.ACTIVE, s.previousRole());
    assertEquals("yield requested", s.reason());
    assertNull(s.leader());
    assertNull(s.leaderAddress());
  }

  private static String error(String line) {
    LatchdException e = assertThrows(LatchdException.class, () -> LatchdStatus.parse(line, SOCK));
    assertTrue(e.getMessage().contains(SOCK), e.getMessage());
    assertTrue(!e.getMessage().contains("\n"), e.getMessage());
    return e.getMessage();
  }

  @Test
  void badLinesAreErrorsNamingTheSocketNeverARole() {
    assertTrue(error("role=ACTIVE").contains("not JSON"));
    assertTrue(error("").contains("not a JSON object"));
    assertTrue(error("[1,2]").contains("not a JSON object"));
    assertTrue(error("{\"error\":\"unknown command\"}").contains("unknown command"));
    assertTrue(error("{\"epoch\":1,\"lease_ms\":100}").contains("\"role\""));
    assertTrue(error("{\"role\":\"ACTIVE\",\"lease_ms\":100}").contains("\"epoch\""));
    assertTrue(error("{\"role\":\"ACTIVE\",\"epoch\":1}").contains("\"lease_ms\""));
    assertTrue(error("{\"role\":\"ACTIVE\",\"epoch\":1,\"lease_ms\":\"3000\"}")
        .contains("\"lease_ms\""));
    assertTrue(error("{\"role\":\"ACTIVE\",\"epoch\":1.5,\"lease_ms\":3}").contains("\"epoch\""));
    assertTrue(error("{\"role\":\"LEADER\",\"epoch\":1,\"lease_ms\":3}").contains("LEADER"));
    assertTrue(error("{\"role\":\"ACTIVE\",\"epoch\":1,\"lease_ms\":3").contains("not JSON"));
  }
}
