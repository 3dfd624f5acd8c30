package io.latchd.client;

import java.io.ByteArrayOutputStream;
import java.io.Closeable;
import java.io.IOException;
import java.net.StandardProtocolFamily;
import java.net.UnixDomainSocketAddress;
import java.nio.ByteBuffer;
import java.nio.channels.SelectionKey;
import java.nio.channels.Selector;
import java.nio.channels.SocketChannel;
import java.nio.charset.StandardCharsets;
import java.util.ArrayDeque;
import java.util.List;
import java.util.concurrent.TimeUnit;

/**
 * One non-blocking Unix stream connection to the agent, read and written line by line. Reads
 * and writes by one thread at a time (the callers synchronize); {@link #close} from any thread.
 */
final class LineChannel implements Closeable {
  private static final int MAX_LINE = 1 << 20;

  final String path;
  private final SocketChannel ch;
  private final ByteBuffer buf = ByteBuffer.allocate(16 * 1024);
  private final ByteArrayOutputStream partial = new ByteArrayOutputStream();
  private final ArrayDeque<String> ready = new ArrayDeque<>();
  private Selector selector; // for the blocking-with-deadline calls; made on first use
  private volatile boolean closed;

  private LineChannel(String path, SocketChannel ch) {
    this.path = path;
    this.ch = ch;
  }

  static LineChannel connect(String path) throws LatchdException {
    SocketChannel ch = null;
    try {
      ch = SocketChannel.open(StandardProtocolFamily.UNIX);
      ch.connect(UnixDomainSocketAddress.of(path));
      ch.configureBlocking(false);
      return new LineChannel(path, ch);
    } catch (IOException | RuntimeException e) {
      if (ch != null) {
        try {
          ch.close();
        } catch (IOException ignored) {
          // nothing more to do
        }
      }
      throw new LatchdException("latchd at " + path + ": cannot connect: " + describe(e), e);
    }
  }

  static String describe(Throwable e) {
    String m = e.getMessage();
    return e.getClass().getSimpleName() + (m == null ? "" : ": " + LatchdStatus.oneLine(m));
  }

  SocketChannel channel() {
    return ch;
  }

  boolean isOpen() {
    return !closed && ch.isOpen();
  }

  /** Writes {@code line} and a newline, by {@code deadline} (System.nanoTime). */
  void send(String line, long deadline) throws LatchdException {
    ByteBuffer out = ByteBuffer.wrap((line + "\n").getBytes(StandardCharsets.UTF_8));
    try {
      while (out.hasRemaining()) {
        if (ch.write(out) == 0) {
          if (System.nanoTime() - deadline >= 0) {
            throw new LatchdException("latchd at " + path + ": cannot send \"" + line
                + "\" within the deadline");
          }
          waitFor(SelectionKey.OP_WRITE, deadline);
        }
      }
    } catch (IOException e) {
      if (e instanceof LatchdException) {
        throw (LatchdException) e;
      }
      throw new LatchdException("latchd at " + path + ": cannot send \"" + line + "\": "
          + describe(e), e);
    }
  }

  /**
   * Reads what has arrived, without blocking, and appends every complete line to {@code out}.
   * Returns false when the connection is finished (EOF, error, closed); lines before it are
   * still appended.
   */
  boolean readAvailable(List<String> out) {
    while (!ready.isEmpty()) {
      out.add(ready.poll());
    }
    if (!isOpen()) {
      return false;
    }
    try {
      while (true) {
        buf.clear();
        int n = ch.read(buf);
        if (n < 0) {
          return false;
        }
        if (n == 0) {
          return true;
        }
        buf.flip();
        while (buf.hasRemaining()) {
          byte b = buf.get();
          if (b == '\n') {
            String line = partial.toString(StandardCharsets.UTF_8);
            partial.reset();
            if (line.endsWith("\r")) {
              line = line.substring(0, line.length() - 1);
            }
            out.add(line);
          } else {
            partial.write(b);
            if (partial.size() > MAX_LINE) {
              return false;
            }
          }
        }
      }
    } catch (IOException e) {
      return false;
    }
  }

  /** The next line, waiting at most until {@code deadline} (System.nanoTime). */
  String readLine(long deadline, String what) throws LatchdException {
    ArrayDeque<String> got = new ArrayDeque<>();
    while (true) {
      List<String> lines = new java.util.ArrayList<>();
      boolean open = readAvailable(lines);
      got.addAll(lines);
      if (!got.isEmpty()) {
        String first = got.poll();
        ready.addAll(got);
        return first;
      }
      if (!open) {
        throw new LatchdException("latchd at " + path + ": connection closed before the answer to "
            + what);
      }
      if (System.nanoTime() - deadline >= 0) {
        throw new LatchdException("latchd at " + path + ": no answer to " + what
            + " within the deadline");
      }
      try {
        waitFor(SelectionKey.OP_READ, deadline);
      } catch (IOException e) {
        throw new LatchdException("latchd at " + path + ": " + what + ": " + describe(e), e);
      }
    }
  }

  private void waitFor(int op, long deadline) throws IOException {
    if (selector == null) {
      selector = Selector.open();
    }
    SelectionKey key = ch.keyFor(selector);
    if (key == null) {
      key = ch.register(selector, op);
    } else {
      key.interestOps(op);
    }
    long ms = TimeUnit.NANOSECONDS.toMillis(deadline - System.nanoTime());
    if (closed) {
      return;
    }
    selector.select(Math.max(1, Math.min(ms + 1, 1000)));
    selector.selectedKeys().clear();
  }

  @Override
  public void close() {
    closed = true;
    Selector s = selector;
    if (s != null) {
      s.wakeup();
    }
    try {
      ch.close();
    } catch (IOException ignored) {
      // closing anyway
    }
    if (s != null) {
      try {
        s.close();
      } catch (IOException ignored) {
        // closing anyway
      }
    }
  }
}
