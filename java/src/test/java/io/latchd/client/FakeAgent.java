package io.latchd.client;

import java.io.IOException;
import java.net.StandardProtocolFamily;
import java.net.UnixDomainSocketAddress;
import java.nio.ByteBuffer;
import java.nio.channels.ServerSocketChannel;
import java.nio.channels.SocketChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.function.Function;

/**
 * A stand-in for the agent in unit tests: a Unix socket server that answers each request line
 * with {@code handler.apply(line)} (null: no answer), keeps {@code watch} connections to
 * {@link #push} lines to, and records every request line.
 */
final class FakeAgent implements AutoCloseable {
  final Path path;
  final LinkedBlockingQueue<String> received = new LinkedBlockingQueue<>();
  private final ServerSocketChannel server;
  private final List<SocketChannel> conns = new CopyOnWriteArrayList<>();
  private final List<SocketChannel> watchers = new CopyOnWriteArrayList<>();
  private final Thread acceptor;
  volatile Function<String, String> handler;
  volatile String watchFirst;

  FakeAgent(Path dir, Function<String, String> handler, String watchFirst) throws IOException {
    this.path = dir.resolve("fake.sock");
    Files.deleteIfExists(path);
    this.handler = handler;
    this.watchFirst = watchFirst;
    server = ServerSocketChannel.open(StandardProtocolFamily.UNIX);
    server.bind(UnixDomainSocketAddress.of(path));
    acceptor = new Thread(this::acceptLoop, "fake-agent-accept");
    acceptor.setDaemon(true);
    acceptor.start();
  }

  String socket() {
    return path.toString();
  }

  static String status(String role, long epoch, long leaseMs) {
    return "{\"epoch\":" + epoch + ",\"id\":\"fake\",\"leader\":{\"address\":\"http://x:1\","
        + "\"epoch\":" + epoch + ",\"id\":\"fake\"},\"lease_ms\":" + leaseMs
        + ",\"participants\":1,\"role\":\"" + role + "\",\"server\":{\"healthy\":true,"
        + "\"holds\":0},\"since\":0,\"zk\":{\"state\":\"CONNECTED\"}}";
  }

  private void acceptLoop() {
    while (server.isOpen()) {
      try {
        SocketChannel c = server.accept();
        conns.add(c);
        Thread t = new Thread(() -> serve(c), "fake-agent-conn");
        t.setDaemon(true);
        t.start();
      } catch (IOException e) {
        return;
      }
    }
  }

  private void serve(SocketChannel c) {
    ByteBuffer buf = ByteBuffer.allocate(4096);
    StringBuilder line = new StringBuilder();
    try {
      while (true) {
        buf.clear();
        if (c.read(buf) < 0) {
          return;
        }
        buf.flip();
        for (char ch : StandardCharsets.UTF_8.decode(buf).toString().toCharArray()) {
          if (ch != '\n') {
            line.append(ch);
            continue;
          }
          String req = line.toString();
          line.setLength(0);
          received.add(req);
          if (req.equals("watch")) {
            write(c, watchFirst);
            watchers.add(c);
          } else {
            String answer = handler.apply(req);
            if (answer != null) {
              write(c, answer);
            }
          }
        }
      }
    } catch (IOException e) {
      // connection gone
    } finally {
      watchers.remove(c);
    }
  }

  private static synchronized void write(SocketChannel c, String line) throws IOException {
    ByteBuffer b = ByteBuffer.wrap((line + "\n").getBytes(StandardCharsets.UTF_8));
    while (b.hasRemaining()) {
      c.write(b);
    }
  }

  void push(String line) throws IOException {
    for (SocketChannel c : watchers) {
      write(c, line);
    }
  }

  int watchers() {
    return watchers.size();
  }

  /** Closes every connection (the agent "exits"), keeps listening. */
  void dropConnections() throws IOException {
    for (SocketChannel c : conns) {
      c.close();
      conns.remove(c);
    }
  }

  @Override
  public void close() throws IOException {
    server.close();
    dropConnections();
    Files.deleteIfExists(path);
  }
}
