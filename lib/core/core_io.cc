#include "lib/core/core_io.h"

#include <algorithm>
#include <utility>

namespace latchd {

ZkRequest MakeRequest(ZkRequestKind kind, std::string path) {
  ZkRequest r;
  r.kind = kind;
  r.path = std::move(path);
  return r;
}

ZkRequest WatchRequest(std::string path) {
  ZkRequest r = MakeRequest(ZkRequestKind::kGetData, std::move(path));
  r.watch = true;
  return r;
}

bool IsUncertain(ZkCode code) {
  return code == ZkCode::kConnectionLoss || code == ZkCode::kOperationTimeout;
}

void CoreIo::Begin(MonoTime now) {
  now_ = std::max(now_, now);
  out_.clear();
}

uint64_t CoreIo::Send(ZkRequest req, Purpose purpose, std::string node) {
  uint64_t id = next_id_++;
  req.id = id;
  pending_[id] = Pending{purpose, now_, session_, gen_, req.kind, std::move(node)};
  out_.push_back(SendAction{std::move(req)});
  return id;
}

std::optional<Pending> CoreIo::Take(uint64_t id) {
  auto it = pending_.find(id);
  if (it == pending_.end()) return std::nullopt;
  Pending p = std::move(it->second);
  pending_.erase(it);
  return p;
}

bool CoreIo::InFlight(Purpose purpose) const {
  for (const auto& [id, p] : pending_) {
    if (p.purpose == purpose && p.gen == gen_ && p.session == session_) return true;
  }
  return false;
}

void CoreIo::Log(LogAction::Level level, std::string message) {
  out_.push_back(LogAction{level, std::move(message)});
}

}  // namespace latchd
