// Asks the local latchd agent for this host's role over its Unix socket, the way
// a Java server (Apache Atlas, for example) would. Java 16+ (Unix-domain
// SocketChannel), no libraries.
//
//   javac LatchdStatus.java && java LatchdStatus [--socket=PATH] [status|watch|hold]
//   (or without javac: java LatchdStatus.java ...)
//
//   status  prints the role word (ACTIVE, PASSIVE, BECOMING_ACTIVE, BECOMING_PASSIVE);
//           exit 0, or 1 when the agent cannot be reached or does not answer in 2 s.
//   watch   prints "<ROLE> epoch=<n> lease_ms=<n>" now and on every role change;
//           exit 1 when the agent goes away.
//   hold    binds the agent (run with --server_hold) to this JVM: sends "hold", prints
//           "HOLD holds=<n>", then sends "ping" every second (every third of the agent's
//           hold_timeout_ms if shorter) for the life of the JVM; when the connection is
//           lost it reconnects with backoff 100 ms doubling to 2 s and holds again. A JVM
//           that dies closes the socket, and the agent hands leadership over at once.
//
// Protocol: send one request line ("status", "watch"); every answer is one JSON
// object per line, e.g. {"id":"a1","role":"ACTIVE","epoch":42,...,"lease_ms":2250,...}.
// An ACTIVE answer is valid for at most lease_ms after the request was sent: a
// server that caches it must re-ask (or stop trusting it) before then. This
// example picks fields with a regular expression to stay dependency-free; use a
// JSON library in a real server.
import java.io.IOException;
import java.net.StandardProtocolFamily;
import java.net.UnixDomainSocketAddress;
import java.nio.ByteBuffer;
import java.nio.channels.SelectionKey;
import java.nio.channels.Selector;
import java.nio.channels.SocketChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

public final class LatchdStatus {
  private static final long STATUS_TIMEOUT_MS = 2000;

  private final SocketChannel channel;
  private final Selector selector;
  private final StringBuilder pending = new StringBuilder();
  private final ByteBuffer buffer = ByteBuffer.allocate(16384);

  private LatchdStatus(Path socket) throws IOException {
    channel = SocketChannel.open(StandardProtocolFamily.UNIX);
    channel.connect(UnixDomainSocketAddress.of(socket));
    channel.configureBlocking(false);
    selector = Selector.open();
    channel.register(selector, SelectionKey.OP_READ);
  }

  private void send(String request) throws IOException {
    ByteBuffer out = ByteBuffer.wrap((request + "\n").getBytes(StandardCharsets.UTF_8));
    while (out.hasRemaining()) channel.write(out);
  }

  /** The next line, or null when timeoutMs (0: no limit) passes; IOException on EOF. */
  private String readLine(long timeoutMs) throws IOException {
    long deadline = System.nanoTime() + timeoutMs * 1_000_000L;
    while (true) {
      int nl = pending.indexOf("\n");
      if (nl >= 0) {
        String line = pending.substring(0, nl);
        pending.delete(0, nl + 1);
        return line;
      }
      long leftMs = timeoutMs == 0 ? 0 : (deadline - System.nanoTime()) / 1_000_000L;
      if (timeoutMs != 0 && leftMs <= 0) return null;
      selector.select(timeoutMs == 0 ? 0 : Math.max(1, leftMs));
      selector.selectedKeys().clear();
      buffer.clear();
      int n = channel.read(buffer);
      if (n < 0) throw new IOException("latchd closed the connection");
      pending.append(new String(buffer.array(), 0, n, StandardCharsets.UTF_8));
    }
  }

  private static String field(String json, String name) {
    Matcher m = Pattern.compile("\"" + name + "\":(\"([^\"]*)\"|(-?\\d+)|null)").matcher(json);
    if (!m.find()) return null;
    return m.group(2) != null ? m.group(2) : m.group(3);
  }

  /** Holds the agent until the JVM ends; reconnects with backoff. */
  private static void hold(Path socket) {
    long backoffMs = 100;
    while (true) {
      try {
        LatchdStatus client = new LatchdStatus(socket);
        client.send("hold");
        String line = client.readLine(STATUS_TIMEOUT_MS);
        if (line == null || !line.contains("\"hold\":true")) {
          throw new IOException("hold refused: " + line);
        }
        long pingMs = 1000;
        String timeout = field(line, "hold_timeout_ms");
        if (timeout != null && Long.parseLong(timeout) > 0) {
          pingMs = Math.min(pingMs, Math.max(1, Long.parseLong(timeout) / 3));
        }
        System.out.println("HOLD holds=" + field(line, "holds"));
        System.out.flush();
        backoffMs = 100;
        while (true) {
          Thread.sleep(pingMs);
          client.send("ping");
          if (client.readLine(STATUS_TIMEOUT_MS) == null) throw new IOException("no pong");
        }
      } catch (IOException e) {
        System.err.println("LatchdStatus: hold on " + socket + ": " + e.getMessage()
            + "; again in " + backoffMs + " ms");
      } catch (InterruptedException e) {
        return;
      }
      try {
        Thread.sleep(backoffMs);
      } catch (InterruptedException e) {
        return;
      }
      backoffMs = Math.min(backoffMs * 2, 2000);
    }
  }

  public static void main(String[] args) {
    Path socket = Path.of("/run/latchd/latchd.sock");
    String mode = "status";
    for (String a : args) {
      if (a.startsWith("--socket=")) {
        socket = Path.of(a.substring("--socket=".length()));
      } else if (a.equals("status") || a.equals("watch") || a.equals("hold")) {
        mode = a;
      } else {
        System.err.println("usage: java LatchdStatus [--socket=PATH] [status|watch|hold]");
        System.exit(2);
      }
    }
    if (mode.equals("hold")) {
      hold(socket);
      return;
    }
    try {
      LatchdStatus client = new LatchdStatus(socket);
      client.send(mode);
      if (mode.equals("status")) {
        String line = client.readLine(STATUS_TIMEOUT_MS);
        if (line == null) throw new IOException("no answer within " + STATUS_TIMEOUT_MS + " ms");
        String role = field(line, "role");
        if (role == null) throw new IOException("unexpected answer: " + line);
        System.out.println(role);
        return;
      }
      String line = client.readLine(STATUS_TIMEOUT_MS);
      if (line == null) throw new IOException("no answer within " + STATUS_TIMEOUT_MS + " ms");
      while (true) {
        String role = field(line, "role");
        if (role != null) {
          System.out.println(role + " epoch=" + field(line, "epoch") + " lease_ms="
              + field(line, "lease_ms"));
          System.out.flush();
        }
        line = client.readLine(0);
      }
    } catch (IOException e) {
      System.err.println("LatchdStatus: latchd at " + socket + ": " + e.getMessage());
      System.exit(1);
    }
  }
}
