// A small ZooKeeper client for the integration tests.
//
//   java ZkTool [--auth scheme:credential]... [--timeout-ms N] CONNECT COMMAND ARGS...
//   java ZkTool [--auth ...] CONNECT shell        (one command per stdin line)
//
// Commands:
//   ls PATH                children, sorted by name
//   get PATH               data (UTF-8) and stat (ephemeralOwner, czxid, ...)
//   exists PATH            stat, or NoNode
//   getacl PATH            the node's ACL
//   set PATH DATA          setData, any version
//   create [-e] [-s] PATH [DATA]   open ACL (world:anyone all)
//   delete PATH            delete, any version
//   rmr PATH               recursive delete (missing nodes are skipped)
//   session                this client's session id (hex)
//   whoami                 the identities the server gave this session (scheme and id each:
//                          ip, digest, sasl, x509 ...)
//
// SASL and TLS come from the JVM's system properties, as for any ZooKeeper Java client
// (java.security.auth.login.config with a Client section; zookeeper.client.secure and
// zookeeper.ssl.*): the harness passes them.
//
// Every command prints exactly one JSON line on stdout. Errors also print one clear line on
// stderr ("NoAuth: delete /x") and set the exit code (one-shot mode) or the "rc" field:
//   0 ok, 2 usage, 3 NoAuth, 4 NoNode, 5 NodeExists, 6 NotEmpty, 7 connection loss or
//   timeout, 8 BadVersion, 9 other ZooKeeper error.
// In shell mode each response also carries "rc"; the process exits 0 at stdin EOF.

import java.io.BufferedReader;
import java.io.InputStreamReader;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;

import org.apache.zookeeper.CreateMode;
import org.apache.zookeeper.KeeperException;
import org.apache.zookeeper.WatchedEvent;
import org.apache.zookeeper.Watcher;
import org.apache.zookeeper.ZooDefs;
import org.apache.zookeeper.ZooKeeper;
import org.apache.zookeeper.data.ACL;
import org.apache.zookeeper.data.ClientInfo;
import org.apache.zookeeper.data.Stat;

public final class ZkTool {
  static final int RC_OK = 0, RC_USAGE = 2, RC_NOAUTH = 3, RC_NONODE = 4, RC_NODEEXISTS = 5,
      RC_NOTEMPTY = 6, RC_CONNECTION = 7, RC_BADVERSION = 8, RC_OTHER = 9;

  static final class Result {
    final int rc;
    final String json;
    Result(int rc, String json) { this.rc = rc; this.json = json; }
  }

  static final class UsageException extends Exception {
    UsageException(String m) { super(m); }
  }

  public static void main(String[] args) throws Exception {
    List<String> auths = new ArrayList<>();
    int timeoutMs = 10000;
    int i = 0;
    while (i < args.length && args[i].startsWith("--")) {
      if (args[i].equals("--auth") && i + 1 < args.length) {
        auths.add(args[i + 1]);
        i += 2;
      } else if (args[i].startsWith("--auth=")) {
        auths.add(args[i].substring(7));
        i += 1;
      } else if (args[i].equals("--timeout-ms") && i + 1 < args.length) {
        timeoutMs = Integer.parseInt(args[i + 1]);
        i += 2;
      } else {
        System.err.println("usage error: unknown option " + args[i]);
        System.exit(RC_USAGE);
      }
    }
    if (args.length - i < 2) {
      System.err.println(
          "usage: ZkTool [--auth scheme:cred] [--timeout-ms N] CONNECT COMMAND ARGS...");
      System.exit(RC_USAGE);
    }
    String connect = args[i];
    List<String> cmd = new ArrayList<>();
    for (int j = i + 1; j < args.length; j++) cmd.add(args[j]);

    ZooKeeper zk;
    try {
      zk = connect(connect, timeoutMs, auths);
    } catch (Exception e) {
      Result r = error(RC_CONNECTION, "ConnectionLoss", "connect " + connect, e.getMessage());
      System.out.println(r.json);
      System.out.flush();
      System.exit(r.rc);
      return;
    }
    int rc = 0;
    try {
      if (cmd.get(0).equals("shell")) {
        BufferedReader in =
            new BufferedReader(new InputStreamReader(System.in, StandardCharsets.UTF_8));
        String line;
        while ((line = in.readLine()) != null) {
          line = line.trim();
          if (line.isEmpty()) continue;
          if (line.equals("quit") || line.equals("exit")) break;
          Result r = run(zk, splitArgs(line));
          System.out.println(r.json);
          System.out.flush();
        }
      } else {
        Result r = run(zk, cmd);
        System.out.println(r.json);
        System.out.flush();
        rc = r.rc;
      }
    } finally {
      try {
        zk.close(2000);
      } catch (Exception ignored) {
      }
    }
    System.exit(rc);
  }

  static ZooKeeper connect(String connect, int timeoutMs, List<String> auths) throws Exception {
    CountDownLatch connected = new CountDownLatch(1);
    Watcher w = (WatchedEvent e) -> {
      if (e.getState() == Watcher.Event.KeeperState.SyncConnected) connected.countDown();
    };
    // Session timeout: short enough that an abandoned tool does not linger, long enough for
    // a slow test machine. The server clamps it to [2, 20] x tickTime.
    ZooKeeper zk = new ZooKeeper(connect, 6000, w);
    if (!connected.await(timeoutMs, TimeUnit.MILLISECONDS)) {
      try {
        zk.close(1000);
      } catch (Exception ignored) {
      }
      throw new Exception("not connected within " + timeoutMs + " ms");
    }
    for (String a : auths) {
      int c = a.indexOf(':');
      if (c <= 0) throw new IllegalArgumentException("bad --auth " + a);
      zk.addAuthInfo(a.substring(0, c), a.substring(c + 1).getBytes(StandardCharsets.UTF_8));
    }
    return zk;
  }

  // Splits a shell line at runs of whitespace. "set" and "create" join everything after the
  // path back with single spaces, so data may contain (single) spaces but no newlines.
  static List<String> splitArgs(String line) {
    List<String> out = new ArrayList<>();
    for (String s : line.split("\\s+")) {
      if (!s.isEmpty()) out.add(s);
    }
    return out;
  }

  static Result run(ZooKeeper zk, List<String> cmd) {
    String what = String.join(" ", cmd);
    try {
      return runOrThrow(zk, cmd);
    } catch (UsageException e) {
      return error(RC_USAGE, "Usage", what, e.getMessage());
    } catch (KeeperException e) {
      int rc;
      String name;
      switch (e.code()) {
        case NOAUTH: rc = RC_NOAUTH; name = "NoAuth"; break;
        case NONODE: rc = RC_NONODE; name = "NoNode"; break;
        case NODEEXISTS: rc = RC_NODEEXISTS; name = "NodeExists"; break;
        case NOTEMPTY: rc = RC_NOTEMPTY; name = "NotEmpty"; break;
        case BADVERSION: rc = RC_BADVERSION; name = "BadVersion"; break;
        case CONNECTIONLOSS:
        case OPERATIONTIMEOUT:
        case SESSIONEXPIRED:
        case SESSIONMOVED:
          rc = RC_CONNECTION; name = "ConnectionLoss"; break;
        default: rc = RC_OTHER; name = String.valueOf(e.code()); break;
      }
      return error(rc, name, what, e.getMessage());
    } catch (Exception e) {
      return error(RC_OTHER, e.getClass().getSimpleName(), what, String.valueOf(e.getMessage()));
    }
  }

  static Result runOrThrow(ZooKeeper zk, List<String> cmd) throws Exception {
    if (cmd.isEmpty()) throw new UsageException("empty command");
    String op = cmd.get(0);
    switch (op) {
      case "ls": {
        need(cmd, 2, "ls PATH");
        List<String> children = new ArrayList<>(zk.getChildren(cmd.get(1), false));
        Collections.sort(children);
        StringBuilder sb = new StringBuilder("{\"rc\":0,\"path\":").append(q(cmd.get(1)));
        sb.append(",\"children\":[");
        for (int k = 0; k < children.size(); k++) {
          if (k > 0) sb.append(',');
          sb.append(q(children.get(k)));
        }
        sb.append("]}");
        return new Result(RC_OK, sb.toString());
      }
      case "get": {
        need(cmd, 2, "get PATH");
        Stat st = new Stat();
        byte[] data = zk.getData(cmd.get(1), false, st);
        String s = data == null ? null : new String(data, StandardCharsets.UTF_8);
        return new Result(RC_OK, "{\"rc\":0,\"path\":" + q(cmd.get(1)) + ",\"data\":"
            + (s == null ? "null" : q(s)) + "," + stat(st) + "}");
      }
      case "exists": {
        need(cmd, 2, "exists PATH");
        Stat st = zk.exists(cmd.get(1), false);
        if (st == null) {
          throw KeeperException.create(KeeperException.Code.NONODE, cmd.get(1));
        }
        return new Result(RC_OK, "{\"rc\":0,\"path\":" + q(cmd.get(1)) + "," + stat(st) + "}");
      }
      case "getacl": {
        need(cmd, 2, "getacl PATH");
        List<ACL> acls = zk.getACL(cmd.get(1), new Stat());
        StringBuilder sb = new StringBuilder("{\"rc\":0,\"path\":").append(q(cmd.get(1)));
        sb.append(",\"acl\":[");
        for (int k = 0; k < acls.size(); k++) {
          ACL a = acls.get(k);
          if (k > 0) sb.append(',');
          sb.append("{\"scheme\":").append(q(a.getId().getScheme()))
              .append(",\"id\":").append(q(a.getId().getId()))
              .append(",\"perms\":").append(a.getPerms()).append('}');
        }
        sb.append("]}");
        return new Result(RC_OK, sb.toString());
      }
      case "set": {
        need(cmd, 3, "set PATH DATA");
        Stat st = zk.setData(cmd.get(1), rest(cmd, 2).getBytes(StandardCharsets.UTF_8), -1);
        return new Result(RC_OK, "{\"rc\":0,\"path\":" + q(cmd.get(1)) + "," + stat(st) + "}");
      }
      case "create": {
        boolean eph = false, seq = false;
        int k = 1;
        while (k < cmd.size() && cmd.get(k).startsWith("-")) {
          if (cmd.get(k).equals("-e")) eph = true;
          else if (cmd.get(k).equals("-s")) seq = true;
          else throw new UsageException("create: unknown option " + cmd.get(k));
          k++;
        }
        if (k >= cmd.size()) throw new UsageException("create [-e] [-s] PATH [DATA]");
        String path = cmd.get(k);
        String data = k + 1 < cmd.size() ? rest(cmd, k + 1) : "";
        CreateMode mode = eph
            ? (seq ? CreateMode.EPHEMERAL_SEQUENTIAL : CreateMode.EPHEMERAL)
            : (seq ? CreateMode.PERSISTENT_SEQUENTIAL : CreateMode.PERSISTENT);
        String created = zk.create(path, data.getBytes(StandardCharsets.UTF_8),
            ZooDefs.Ids.OPEN_ACL_UNSAFE, mode);
        return new Result(RC_OK, "{\"rc\":0,\"path\":" + q(created) + "}");
      }
      case "delete": {
        need(cmd, 2, "delete PATH");
        zk.delete(cmd.get(1), -1);
        return new Result(RC_OK, "{\"rc\":0,\"path\":" + q(cmd.get(1)) + "}");
      }
      case "rmr": {
        need(cmd, 2, "rmr PATH");
        int n = rmr(zk, cmd.get(1));
        return new Result(RC_OK, "{\"rc\":0,\"path\":" + q(cmd.get(1)) + ",\"deleted\":" + n + "}");
      }
      case "whoami": {
        List<ClientInfo> infos = zk.whoAmI();
        StringBuilder sb = new StringBuilder("{\"rc\":0,\"ids\":[");
        for (int k = 0; k < infos.size(); k++) {
          if (k > 0) sb.append(',');
          sb.append("{\"scheme\":").append(q(infos.get(k).getAuthScheme()))
              .append(",\"id\":").append(q(infos.get(k).getUser())).append('}');
        }
        sb.append("]}");
        return new Result(RC_OK, sb.toString());
      }
      case "session": {
        return new Result(RC_OK, "{\"rc\":0,\"session_id\":"
            + q("0x" + Long.toHexString(zk.getSessionId())) + "}");
      }
      default:
        throw new UsageException("unknown command " + op);
    }
  }

  static int rmr(ZooKeeper zk, String path) throws Exception {
    List<String> children;
    try {
      children = zk.getChildren(path, false);
    } catch (KeeperException.NoNodeException e) {
      return 0;
    }
    int n = 0;
    for (String c : children) {
      n += rmr(zk, path.equals("/") ? "/" + c : path + "/" + c);
    }
    if (path.equals("/")) return n;
    try {
      zk.delete(path, -1);
      n++;
    } catch (KeeperException.NoNodeException e) {
      // gone meanwhile (ephemeral of a closing session)
    }
    return n;
  }

  static void need(List<String> cmd, int n, String usage) throws UsageException {
    if (cmd.size() < n) throw new UsageException(usage);
  }

  static String rest(List<String> cmd, int from) {
    return String.join(" ", cmd.subList(from, cmd.size()));
  }

  static String stat(Stat st) {
    return "\"czxid\":" + st.getCzxid() + ",\"mzxid\":" + st.getMzxid()
        + ",\"ephemeralOwner\":" + st.getEphemeralOwner()
        + ",\"ephemeralOwnerHex\":" + q("0x" + Long.toHexString(st.getEphemeralOwner()))
        + ",\"version\":" + st.getVersion() + ",\"numChildren\":" + st.getNumChildren()
        + ",\"dataLength\":" + st.getDataLength();
  }

  static Result error(int rc, String name, String what, String message) {
    System.err.println(name + ": " + what + (message == null ? "" : " (" + message + ")"));
    System.err.flush();
    return new Result(rc, "{\"rc\":" + rc + ",\"error\":" + q(name) + ",\"command\":" + q(what)
        + ",\"message\":" + (message == null ? "null" : q(message)) + "}");
  }

  static String q(String s) {
    StringBuilder sb = new StringBuilder("\"");
    for (int k = 0; k < s.length(); k++) {
      char c = s.charAt(k);
      switch (c) {
        case '"': sb.append("\\\""); break;
        case '\\': sb.append("\\\\"); break;
        case '\n': sb.append("\\n"); break;
        case '\r': sb.append("\\r"); break;
        case '\t': sb.append("\\t"); break;
        default:
          if (c < 0x20) sb.append(String.format("\\u%04x", (int) c));
          else sb.append(c);
      }
    }
    return sb.append('"').toString();
  }
}
