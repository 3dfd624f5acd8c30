// A Java server that gates its writes on latchd's signal: a Jetty 9 server with ActiveGateFilter
// (writes on a PASSIVE are redirected with 307 to the ACTIVE server, 503 + Retry-After in
// between), a RoleListener that activates in order before the ack, a hold that binds the agent
// to this JVM, and every accepted write tagged with the epoch (the fencing token).
//
//   javac -cp /usr/share/java/latchd-client.jar:/usr/share/java/servlet-api.jar:\
//     /usr/share/java/jetty9-server.jar:/usr/share/java/jetty9-servlet.jar:\
//     /usr/share/java/jetty9-util.jar -d classes GatedServer.java
//   java -cp classes:<the same jars>:/usr/share/java/jetty9-http.jar:\
//     /usr/share/java/jetty9-io.jar:/usr/share/java/jetty9-security.jar \
//     GatedServer /run/latchd/latchd.sock 21000
//
// See docs/java.md. The agent advertises this server's URL (--advertise=http://host:21000).
import io.latchd.client.LatchdClient;
import io.latchd.client.LatchdStatus;
import io.latchd.client.RoleListener;
import io.latchd.servlet.ActiveGate;
import io.latchd.servlet.ActiveGateFilter;
import java.io.IOException;
import java.util.EnumSet;
import java.util.List;
import java.util.concurrent.atomic.AtomicLong;
import javax.servlet.DispatcherType;
import javax.servlet.http.HttpServlet;
import javax.servlet.http.HttpServletRequest;
import javax.servlet.http.HttpServletResponse;
import org.eclipse.jetty.server.Server;
import org.eclipse.jetty.servlet.FilterHolder;
import org.eclipse.jetty.servlet.ServletContextHandler;
import org.eclipse.jetty.servlet.ServletHolder;

public final class GatedServer {
  /** The store this server writes to; it refuses a write older than one it has seen. */
  static final AtomicLong highestEpoch = new AtomicLong();

  public static void main(String[] args) throws Exception {
    String socket = args.length > 0 ? args[0] : "/run/latchd/latchd.sock";
    int port = args.length > 1 ? Integer.parseInt(args[1]) : 21000;

    LatchdClient latch = new LatchdClient(socket);
    latch.addListener(new RoleListener() {
      @Override
      public void onBecomingActive(long epoch) throws Exception {
        // Reload caches, recover indexes, start consumers: the agent waits for the ack
        // (--activation_ack_timeout_ms) that the client sends when this returns.
        System.out.println("activating for epoch " + epoch);
      }

      @Override
      public void onActive(long epoch) {
        System.out.println("ACTIVE, epoch " + epoch);
      }

      @Override
      public void onBecomingPassive(long epoch) {
        System.out.println("leaving epoch " + epoch + ": stopping consumers");
      }

      @Override
      public void onStatus(LatchdStatus s) {
        System.out.println("latchd: " + s);
      }
    });
    latch.hold(); // the agent (--server_hold) stands for election only while this JVM lives
    latch.start();

    ServletContextHandler ctx = new ServletContextHandler();
    ctx.addFilter(new FilterHolder(new ActiveGateFilter(latch, ActiveGate.PassiveMode.REDIRECT,
        ActiveGate.ReadMode.ALLOW, 1, List.of("/health"))), "/*",
        EnumSet.of(DispatcherType.REQUEST));
    ctx.addServlet(new ServletHolder(new HttpServlet() {
      private static final long serialVersionUID = 1L;

      @Override
      protected void service(HttpServletRequest req, HttpServletResponse resp)
          throws IOException {
        Object epoch = req.getAttribute(ActiveGateFilter.EPOCH_ATTRIBUTE);
        if (epoch != null && !ActiveGate.isRead(req.getMethod())) {
          long e = (Long) epoch;
          // Fencing: a write of an older term than one already seen is refused.
          if (highestEpoch.accumulateAndGet(e, Math::max) != e) {
            resp.sendError(409, "stale epoch " + e);
            return;
          }
        }
        resp.setContentType("text/plain");
        resp.getWriter().println(req.getMethod() + " " + req.getRequestURI() + " epoch "
            + (epoch == null ? "-" : epoch));
      }
    }), "/*");
    Server server = new Server(port);
    server.setHandler(ctx);
    Runtime.getRuntime().addShutdownHook(new Thread(() -> {
      try {
        server.stop();
      } catch (Exception ignored) {
        // exiting anyway
      }
      latch.close();
    }));
    server.start();
    server.join();
  }
}
