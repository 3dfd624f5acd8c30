package io.latchd.servlet;

import io.latchd.client.LatchdClient;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import javax.servlet.Filter;
import javax.servlet.FilterChain;
import javax.servlet.FilterConfig;
import javax.servlet.ServletException;
import javax.servlet.ServletRequest;
import javax.servlet.ServletResponse;
import javax.servlet.http.HttpServletRequest;
import javax.servlet.http.HttpServletResponse;

/**
 * A servlet filter (javax.servlet) that lets a request through only while the co-located latchd
 * agent says this server is ACTIVE, by the lease-aware rule of {@link
 * LatchdClient#activeEpoch()}. On a server that is not ACTIVE a gated request is answered 503
 * with {@code Retry-After}, or redirected (307) to the active server's advertised address (the
 * agent's {@code leader.address}), as Atlas's ActiveServerFilter does. Reads (GET, HEAD,
 * OPTIONS, TRACE) pass everywhere unless configured to be gated. A passed request carries the
 * term it was accepted in as the request attribute {@value #EPOCH_ATTRIBUTE} (a {@code Long}):
 * the fencing token to write with.
 *
 * <p>Built in code: {@code new ActiveGateFilter(client, PassiveMode.REDIRECT, ReadMode.ALLOW, 1,
 * List.of("/api/atlas/admin/status"))} (the client is the caller's; the filter never closes
 * it). From web.xml, with init-params (the filter then owns a client and closes it in {@link
 * #destroy()}):
 *
 * <ul>
 *   <li>{@code latchd.socket}: the agent's socket (default /run/latchd/latchd.sock)
 *   <li>{@code latchd.passive}: {@code redirect} (default) or {@code refuse}
 *   <li>{@code latchd.reads}: {@code allow} (default) or {@code gate}
 *   <li>{@code latchd.retryAfter}: seconds for Retry-After (default 1)
 *   <li>{@code latchd.exempt}: comma-separated path prefixes that always pass
 *   <li>{@code latchd.hold}: {@code true} to also hold the agent (bind it to this JVM)
 * </ul>
 */
public class ActiveGateFilter implements Filter {
  /** The request attribute with the epoch a passed request was accepted under. */
  public static final String EPOCH_ATTRIBUTE = "io.latchd.epoch";
  public static final String DEFAULT_SOCKET = "/run/latchd/latchd.sock";

  private ActiveGate gate;
  private LatchdClient owned;

  /** For web.xml: configured by {@link #init(FilterConfig)}. */
  public ActiveGateFilter() {}

  /** Configured in code; {@code client} stays the caller's. */
  public ActiveGateFilter(LatchdClient client, ActiveGate.PassiveMode passive,
      ActiveGate.ReadMode reads, int retryAfterSeconds, List<String> exemptPrefixes) {
    this.gate = new ActiveGate(client, passive, reads, retryAfterSeconds, exemptPrefixes);
  }

  public ActiveGate gate() {
    return gate;
  }

  @Override
  public void init(FilterConfig config) throws ServletException {
    if (gate != null) {
      gate.client().start();
      return;
    }
    String socket = param(config, "latchd.socket", DEFAULT_SOCKET);
    ActiveGate.PassiveMode passive;
    ActiveGate.ReadMode reads;
    int retry;
    try {
      passive = ActiveGate.PassiveMode.valueOf(
          param(config, "latchd.passive", "redirect").toUpperCase(Locale.ROOT));
      reads = ActiveGate.ReadMode.valueOf(
          param(config, "latchd.reads", "allow").toUpperCase(Locale.ROOT));
      retry = Integer.parseInt(param(config, "latchd.retryAfter", "1"));
    } catch (IllegalArgumentException e) {
      throw new ServletException("ActiveGateFilter: bad init-param: " + e.getMessage(), e);
    }
    List<String> exempt = new ArrayList<>();
    for (String p : param(config, "latchd.exempt", "").split(",")) {
      if (!p.isBlank()) {
        exempt.add(p.trim());
      }
    }
    owned = new LatchdClient(socket);
    if (Boolean.parseBoolean(param(config, "latchd.hold", "false"))) {
      owned.hold();
    }
    owned.start();
    gate = new ActiveGate(owned, passive, reads, retry, exempt);
  }

  private static String param(FilterConfig c, String name, String dflt) {
    String v = c == null ? null : c.getInitParameter(name);
    return v == null || v.isBlank() ? dflt : v.trim();
  }

  @Override
  public void doFilter(ServletRequest req, ServletResponse resp, FilterChain chain)
      throws IOException, ServletException {
    if (!(req instanceof HttpServletRequest) || !(resp instanceof HttpServletResponse)) {
      chain.doFilter(req, resp);
      return;
    }
    HttpServletRequest r = (HttpServletRequest) req;
    HttpServletResponse w = (HttpServletResponse) resp;
    String path = r.getRequestURI().substring(Math.min(r.getContextPath().length(),
        r.getRequestURI().length()));
    ActiveGate.Decision d = gate.decide(r.getMethod(), path, r.getRequestURI(), r.getQueryString());
    if (d.pass()) {
      if (d.epoch >= 0) {
        r.setAttribute(EPOCH_ATTRIBUTE, d.epoch);
      }
      chain.doFilter(req, resp);
      return;
    }
    w.setStatus(d.status);
    if (d.location != null) {
      w.setHeader("Location", d.location);
    } else {
      w.setHeader("Retry-After", Integer.toString(gate.retryAfterSeconds()));
    }
    w.setContentType("text/plain; charset=utf-8");
    byte[] body = (d.message + "\n").getBytes(StandardCharsets.UTF_8);
    w.setContentLength(body.length);
    w.getOutputStream().write(body);
  }

  @Override
  public void destroy() {
    if (owned != null) {
      owned.close();
      owned = null;
    }
  }
}
