// SimZk: failures and their traces.
#include <cstdio>

#include "tests/sim/sim_zk.h"

namespace latchd::sim {
namespace {

const char* KindName(ZkRequestKind kind) {
  switch (kind) {
    case ZkRequestKind::kCreate: return "create";
    case ZkRequestKind::kDelete: return "delete";
    case ZkRequestKind::kGetData: return "getData";
    case ZkRequestKind::kGetChildren: return "getChildren";
    case ZkRequestKind::kCheck: return "check";
    case ZkRequestKind::kSetData: return "setData";
    case ZkRequestKind::kSync: return "sync";
  }
  return "?";
}

}  // namespace

void SimZk::Fail(const std::string& why) {
  if (failure_) return;
  failure_ = why + "\n" + Trace();
  if (options_.on_failure) options_.on_failure(*failure_);
}

std::string SimZk::Trace() const {
  auto ms = [this](MonoTime t) {
    char buf[32];
    std::snprintf(buf, sizeof buf, "%+.3fs",
                  std::chrono::duration<double>(t - options_.start).count());
    return std::string(buf);
  };
  std::string out = "simulated time " + ms(now_) + "; last requests per client:\n";
  for (size_t c = 0; c < clients_.size(); ++c) {
    const Client& cl = clients_[c];
    char head[160];
    std::snprintf(head, sizeof head, "client %zu (%s) session 0x%llx server %d%s%s%s:\n", c,
                  cl.options.name.c_str(), static_cast<unsigned long long>(cl.session), cl.server,
                  cl.state == State::kConnected ? " connected" : "",
                  cl.partitioned ? " partitioned" : "", cl.paused ? " paused" : "");
    out += head;
    size_t from = cl.log.size() > options_.trace_depth ? cl.log.size() - options_.trace_depth : 0;
    for (size_t k = from; k < cl.log.size(); ++k) {
      const Sent& s = cl.log[k];
      out += "  " + ms(s.at) + " #" + std::to_string(s.request.id) + " " + KindName(s.request.kind) +
             " " + s.request.path + (s.request.guard.empty() ? "" : " guard " + s.request.guard) +
             " -> " + (s.code ? std::string(ZkCodeName(*s.code)) + " at " + ms(s.answered) : "(no answer)") +
             "\n";
    }
  }
  return out;
}

std::string SimZk::InFlightText() const {
  std::string out;
  for (size_t c = 0; c < clients_.size(); ++c) {
    const Client& cl = clients_[c];
    if (cl.pending.empty() && cl.in_air == 0 && !cl.handshaking) continue;
    if (!out.empty()) out += "; ";
    out += "client " + std::to_string(c) + ": " + std::to_string(cl.pending.size()) +
           " requests in flight, " + std::to_string(cl.in_air) + " events on the way" +
           (cl.handshaking ? ", connecting" : "");
  }
  return out.empty() ? "clients reconnecting" : out;
}

int SimZk::CountRequests(int c, const std::string& prefix, MonoTime from, MonoTime to) const {
  int n = 0;
  for (const Sent& s : clients_[c].log) {
    if (s.at >= from && s.at < to && s.request.path.compare(0, prefix.size(), prefix) == 0) ++n;
  }
  return n;
}

}  // namespace latchd::sim
