// handover_floor: the floor of latchd's planned handover on a given ensemble, measured by a
// client of its own through the project's ZooKeeper adapter (lib/zk/zookeeper_client.h: the
// same C client, the same completion-thread hand-off, the same request encoding), so it pays
// the client costs latchd pays and nothing of latchd's election logic.
//
//   handover_floor --old=HOST:PORT[,...] --new=HOST:PORT[,...] [--root=/handover-floor]
//                  [--reps=10] [--session_ms=4000] [--gap_ms=200]
//
// Two sessions, "old" (the leader stepping down) and "new" (its successor, second in line),
// each on its own connect string (bench/failover.py gives each one proxies of its own, as every
// contender has). Each repetition does the ZooKeeper operations of latchd's graceful handover
// (docs/design.md, "Joining the latch" step 4-5 and "Graceful stop and yield"), with every
// request sent as early as ZooKeeper's ordering allows:
//
//   setup (not timed)  old: create <root>/latch/_c_<uuid>-latch- (ephemeral sequential) and
//                      <root>/active_server_info guarded on it; new: create its node, getData
//                      with a watch on old's node
//   t0                 old: the step-down multi {delete(old node), delete(active_server_info),
//                      set(<root>/latch, old node's name)}            -> commit_ms (its answer)
//                      new: the deletion notification                 -> watch_ms
//                      new: sync(latch), getData(latch) (the mark), getChildren(latch), all three
//                      sent at once (answered in order)               -> reads_ms (from the watch)
//                      new: the guarded publish multi {check(new node), create(active_server_info)}
//   t_end              its answer                                     -> publish_ms (from the reads)
//   floor_ms = t_end - t0
//
// Then, once per run, single operations on the "new" session: a sync alone, a getData alone, a
// one-op check multi (a write commit), each --reps times (sync_ms, read_ms, write_ms).
// Output: one JSON object on stdout, one list per figure with one value per repetition,
// {"floor_ms": [...], "commit_ms": [...], "watch_ms": [...], "reads_ms": [...], "publish_ms": [...],
// "single": {"sync_ms": [...], "read_ms": [...], "write_ms": [...]}}; errors on stderr, exit 1. Every node it made is deleted before it exits (its sessions are closed).
#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <cstdlib>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "bench/bench_util.h"
#include "lib/zk/zookeeper_client.h"

namespace {

using latchd::CreateMode;
using latchd::ZkCode;
using latchd::ZkRequest;
using latchd::ZkRequestKind;
using latchd::ZkResult;

// The probe's own loop: every adapter callback is posted here and run on the main thread.
class Loop {
 public:
  void Post(std::function<void()> fn) {
    std::lock_guard<std::mutex> l(mu_);
    q_.push_back(std::move(fn));
    cv_.notify_one();
  }
  // Runs posted functions until done() or the timeout; false on timeout.
  bool RunUntil(const std::function<bool()>& done, std::chrono::milliseconds timeout) {
    auto deadline = std::chrono::steady_clock::now() + timeout;
    while (!done()) {
      std::function<void()> fn;
      {
        std::unique_lock<std::mutex> l(mu_);
        if (!cv_.wait_until(l, deadline, [&] { return !q_.empty(); })) return done();
        fn = std::move(q_.front());
        q_.pop_front();
      }
      fn();
    }
    return true;
  }

 private:
  std::mutex mu_;
  std::condition_variable cv_;
  std::deque<std::function<void()>> q_;
};

class Session {
 public:
  Session(Loop* loop, const std::string& connect, int session_ms) : loop_(loop) {
    latchd::ZkClientOptions o;
    o.connect = connect;
    o.session_timeout = std::chrono::milliseconds(session_ms);
    latchd::ZkClientCallbacks cb;
    cb.post = [loop](std::function<void()> fn) { loop->Post(std::move(fn)); };
    cb.on_session = [this](latchd::ZkSessionEvent e, latchd::ZkSessionInfo info) {
      connected_ = e == latchd::ZkSessionEvent::kConnected;
      if (connected_) session_id_ = info.session_id;
    };
    cb.on_watch = [this](const latchd::ZkWatchEvent& w) {
      if (on_watch) on_watch(w);
    };
    cb.on_result = [this](ZkResult r) {
      auto it = waiting_.find(r.id);
      if (it == waiting_.end()) return;
      auto fn = std::move(it->second);
      waiting_.erase(it);
      fn(r);
    };
    zk_ = latchd::MakeZookeeperClient(std::move(o), std::move(cb));
  }

  bool Open(std::chrono::milliseconds timeout) {
    auto st = zk_->Open();
    if (!st.ok()) {
      std::fprintf(stderr, "handover_floor: Open: %s\n", st.message().c_str());
      return false;
    }
    return loop_->RunUntil([this] { return connected_; }, timeout);
  }

  // Sends `req`; `done` runs on the loop with its result.
  void Send(ZkRequest req, std::function<void(const ZkResult&)> done) {
    req.id = next_id_++;
    waiting_[req.id] = std::move(done);
    zk_->Submit(req);
  }

  // Sends and waits for the answer.
  ZkResult Call(ZkRequest req) {
    ZkResult out;
    bool got = false;
    Send(std::move(req), [&](const ZkResult& r) {
      out = r;
      got = true;
    });
    if (!loop_->RunUntil([&] { return got; }, std::chrono::seconds(10))) {
      out.code = ZkCode::kOperationTimeout;
    }
    return out;
  }

  void Close() { zk_->Close(); }
  bool connected() const { return connected_; }
  std::function<void(const latchd::ZkWatchEvent&)> on_watch;

 private:
  Loop* loop_;
  std::unique_ptr<latchd::ZkClient> zk_;
  std::map<uint64_t, std::function<void(const ZkResult&)>> waiting_;
  uint64_t next_id_ = 1;
  bool connected_ = false;
  int64_t session_id_ = 0;
};

ZkRequest Req(ZkRequestKind kind, std::string path) {
  ZkRequest r;
  r.kind = kind;
  r.path = std::move(path);
  return r;
}

[[noreturn]] void Die(const std::string& what, const ZkResult& r) {
  std::fprintf(stderr, "handover_floor: %s: %s (%d)\n", what.c_str(),
               std::string(latchd::ZkCodeName(r.code)).c_str(), r.raw_code);
  std::exit(1);
}

void Must(const std::string& what, const ZkResult& r, bool exists_ok = false) {
  if (r.code == ZkCode::kOk || (exists_ok && r.code == ZkCode::kNodeExists)) return;
  Die(what, r);
}

double Ms(int64_t ns) { return static_cast<double>(ns) / 1e6; }

std::string Node(const std::string& created_path) {
  return created_path.substr(created_path.rfind('/') + 1);
}

std::string Uuid(int n) {
  char buf[64];
  std::snprintf(buf, sizeof buf, "_c_%08x-0000-4000-8000-%012d-latch-", static_cast<unsigned>(std::rand()), n);
  return buf;
}

std::string Json(const std::vector<double>& v) {
  std::string s = "[";
  for (size_t i = 0; i < v.size(); ++i) {
    char b[32];
    std::snprintf(b, sizeof b, "%s%.3f", i ? ", " : "", v[i]);
    s += b;
  }
  return s + "]";
}

}  // namespace

int main(int argc, char** argv) {
  std::string old_connect, new_connect, root = "/handover-floor", v;
  int reps = 10, session_ms = 4000, gap_ms = 200;
  for (int i = 1; i < argc; ++i) {
    if (bench::FlagValue(argv[i], "--old", &v)) {
      old_connect = v;
    } else if (bench::FlagValue(argv[i], "--new", &v)) {
      new_connect = v;
    } else if (bench::FlagValue(argv[i], "--root", &v)) {
      root = v;
    } else if (bench::FlagValue(argv[i], "--reps", &v)) {
      reps = std::atoi(v.c_str());
    } else if (bench::FlagValue(argv[i], "--session_ms", &v)) {
      session_ms = std::atoi(v.c_str());
    } else if (bench::FlagValue(argv[i], "--gap_ms", &v)) {
      gap_ms = std::atoi(v.c_str());
    } else {
      std::fprintf(stderr, "handover_floor: unknown argument %s\n", argv[i]);
      return 2;
    }
  }
  if (old_connect.empty()) old_connect = new_connect;
  if (new_connect.empty()) new_connect = old_connect;
  if (old_connect.empty() || reps < 1) {
    std::fprintf(stderr, "usage: handover_floor --old=HOST:PORT --new=HOST:PORT [--reps=N]\n");
    return 2;
  }
  latchd::SetZookeeperLogLevel(latchd::ZkLogLevel::kError);
  std::srand(static_cast<unsigned>(bench::NowNs()));
  Loop loop;
  Session a(&loop, old_connect, session_ms), b(&loop, new_connect, session_ms);
  if (!a.Open(std::chrono::seconds(15)) || !b.Open(std::chrono::seconds(15))) {
    std::fprintf(stderr, "handover_floor: no session within 15 s\n");
    return 1;
  }
  const std::string latch = root + "/latch", asi = root + "/active_server_info";
  for (const auto& p : {root, latch}) {
    ZkRequest c = Req(ZkRequestKind::kCreate, p);
    Must("create " + p, a.Call(c), /*exists_ok=*/true);
  }

  struct Rep {
    double floor, commit, watch, reads, publish;
  };
  std::vector<Rep> out;
  for (int rep = 0; rep < reps; ++rep) {
    // Setup: old leads and has published; new is second and watches old's node.
    ZkRequest ca = Req(ZkRequestKind::kCreate, latch + "/" + Uuid(2 * rep));
    ca.mode = CreateMode::kEphemeralSequential;
    ca.data = "old";
    ZkResult ra = a.Call(ca);
    Must("create old node", ra);
    const std::string old_node = Node(ra.created_path), old_path = latch + "/" + old_node;
    ZkRequest pa = Req(ZkRequestKind::kCreate, asi);
    pa.mode = CreateMode::kEphemeral;
    pa.data = "http://old";
    pa.guard = old_path;
    Must("publish (old)", a.Call(pa));
    ZkRequest cb = Req(ZkRequestKind::kCreate, latch + "/" + Uuid(2 * rep + 1));
    cb.mode = CreateMode::kEphemeralSequential;
    cb.data = "new";
    ZkResult rb = b.Call(cb);
    Must("create new node", rb);
    const std::string new_path = rb.created_path;
    ZkRequest w = Req(ZkRequestKind::kGetData, old_path);
    w.watch = true;
    Must("watch old node", b.Call(w));
    std::this_thread::sleep_for(std::chrono::milliseconds(gap_ms));

    int64_t t0 = 0, t_commit = 0, t_watch = 0, t_reads = 0, t_end = 0;
    int reads_left = 3;
    b.on_watch = [&](const latchd::ZkWatchEvent& ev) {
      if (ev.path != old_path || t_watch) return;
      t_watch = bench::NowNs();
      auto read_done = [&](const std::string& what) {
        return [&, what](const ZkResult& r) {
          Must(what, r);
          if (--reads_left > 0) return;
          t_reads = bench::NowNs();
          ZkRequest pub = Req(ZkRequestKind::kCreate, asi);
          pub.mode = CreateMode::kEphemeral;
          pub.data = "http://new";
          pub.guard = new_path;
          b.Send(pub, [&](const ZkResult& r2) {
            Must("publish (new)", r2);
            t_end = bench::NowNs();
          });
        };
      };
      b.Send(Req(ZkRequestKind::kSync, latch), read_done("sync"));
      b.Send(Req(ZkRequestKind::kGetData, latch), read_done("mark read"));
      b.Send(Req(ZkRequestKind::kGetChildren, latch), read_done("listing"));
    };
    ZkRequest down = Req(ZkRequestKind::kDelete, asi);
    down.guard = old_path;
    down.guard_delete = true;
    down.mark_path = latch;
    down.mark_data = old_node;
    t0 = bench::NowNs();
    a.Send(down, [&](const ZkResult& r) {
      Must("step-down multi", r);
      t_commit = bench::NowNs();
    });
    if (!loop.RunUntil([&] { return t_end && t_commit; }, std::chrono::seconds(10))) {
      std::fprintf(stderr, "handover_floor: repetition %d did not finish within 10 s\n", rep + 1);
      return 1;
    }
    b.on_watch = nullptr;
    out.push_back(Rep{Ms(t_end - t0), Ms(t_commit - t0), Ms(t_watch - t0), Ms(t_reads - t_watch),
                      Ms(t_end - t_reads)});
    // Clean up (not timed): new's address and node.
    ZkRequest da = Req(ZkRequestKind::kDelete, asi);
    Must("delete address", b.Call(da));
    Must("delete new node", b.Call(Req(ZkRequestKind::kDelete, new_path)));
  }

  // Single operations on the new session, for the table's "a commit, a sync, a read".
  std::vector<double> sync_ms, read_ms, write_ms;
  ZkRequest probe = Req(ZkRequestKind::kCreate, latch + "/" + Uuid(2 * reps));
  probe.mode = CreateMode::kEphemeralSequential;
  ZkResult rp = b.Call(probe);
  Must("create probe node", rp);
  for (int i = 0; i < reps; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(gap_ms / 4));
    int64_t t = bench::NowNs();
    Must("sync", b.Call(Req(ZkRequestKind::kSync, latch)));
    sync_ms.push_back(Ms(bench::NowNs() - t));
    t = bench::NowNs();
    Must("read", b.Call(Req(ZkRequestKind::kGetData, latch)));
    read_ms.push_back(Ms(bench::NowNs() - t));
    t = bench::NowNs();
    Must("check write", b.Call(Req(ZkRequestKind::kCheck, rp.created_path)));
    write_ms.push_back(Ms(bench::NowNs() - t));
  }
  b.Call(Req(ZkRequestKind::kDelete, rp.created_path));
  a.Close();
  b.Close();

  std::vector<double> f, c, wt, rd, pb;
  for (const auto& r : out) {
    f.push_back(r.floor);
    c.push_back(r.commit);
    wt.push_back(r.watch);
    rd.push_back(r.reads);
    pb.push_back(r.publish);
  }
  std::printf("{\"floor_ms\": %s, \"commit_ms\": %s, \"watch_ms\": %s, \"reads_ms\": %s, "
              "\"publish_ms\": %s, \"single\": {\"sync_ms\": %s, \"read_ms\": %s, "
              "\"write_ms\": %s}}\n",
              Json(f).c_str(), Json(c).c_str(), Json(wt).c_str(), Json(rd).c_str(), Json(pb).c_str(),
              Json(sync_ms).c_str(), Json(read_ms).c_str(), Json(write_ms).c_str());
  return 0;
}
