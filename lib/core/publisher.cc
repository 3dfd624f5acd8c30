#include "lib/core/publisher.h"

#include "lib/util/session_id.h"

namespace latchd {

void Publisher::Send(CoreIo& io, const std::string& own_path, const std::string& own_node) {
  in_flight_ = true;
  if (advertise_.empty()) {
    // Nothing to publish, but ACTIVE still waits for a write sent after the claim.
    io.Send(MakeRequest(ZkRequestKind::kCheck, own_path), Purpose::kPublishCheck, own_node);
    return;
  }
  ZkRequest req = MakeRequest(ZkRequestKind::kCreate, asi_path_);
  req.data = advertise_;
  req.mode = CreateMode::kEphemeral;
  req.guard = own_path;  // a leader whose node is gone must not publish
  io.Send(std::move(req), Purpose::kPublishCreate, own_node);
}

PublishStep Publisher::OnResult(CoreIo& io, const ZkResult& r, const Pending& p, bool current,
                                bool stepping_down, const std::string& own_path,
                                const std::string& own_node, const std::string& latch_path) {
  if (!current) {
    // A publish that landed after leadership was lost must not stay behind.
    // A stop or yield sent its delete after the create (the step-down multi
    // removes both, in order); otherwise remove it like every other write of
    // the address: only while the node it was published for still exists, so
    // that a successor's address can never be the one deleted.
    if (p.purpose == Purpose::kPublishCreate && r.code == ZkCode::kOk && io.connected() &&
        !stepping_down && !p.node.empty()) {
      ZkRequest del = MakeRequest(ZkRequestKind::kDelete, asi_path_);
      del.version = r.stat.version;
      del.guard = latch_path + "/" + p.node;
      io.Send(std::move(del), Purpose::kDeleteStray, asi_path_);
    }
    return {};
  }
  if (IsUncertain(r.code)) {
    in_flight_ = false;
    return {PublishStep::kReconnect, ""};
  }
  if (r.guard_failed || (p.purpose == Purpose::kPublishCheck && r.code == ZkCode::kNoNode)) {
    // Every publish write is conditioned on the own node: it is gone, so this
    // agent no longer leads and must not touch the new leader's address.
    return {PublishStep::kLost, "own latch node " + own_node + " is gone (publishing active_server_info)"};
  }
  auto done = [this](int32_t version) {
    in_flight_ = false;
    published_ = true;
    version_ = version;
    return PublishStep{PublishStep::kPublished, ""};
  };
  switch (p.purpose) {
    case Purpose::kPublishCreate:
      if (r.code == ZkCode::kOk) return done(r.stat.version);
      if (r.code == ZkCode::kNodeExists) {
        io.Send(MakeRequest(ZkRequestKind::kGetData, asi_path_), Purpose::kPublishGet);
        return {};
      }
      break;
    case Purpose::kPublishGet:
      if (r.code == ZkCode::kNoNode) {
        Send(io, own_path, own_node);
        return {};
      }
      if (r.code == ZkCode::kOk && r.stat.ephemeral_owner == io.session()) {
        if (r.data == advertise_) return done(r.stat.version);
        ZkRequest set = MakeRequest(ZkRequestKind::kSetData, asi_path_);
        set.data = advertise_;
        set.version = r.stat.version;
        set.guard = own_path;
        io.Send(std::move(set), Purpose::kPublishSet);
        return {};
      }
      if (r.code == ZkCode::kOk) {
        io.Log(LogAction::kInfo, "replacing stale active_server_info \"" + r.data + "\" of session " +
                                     SessionIdHex(r.stat.ephemeral_owner));
        ZkRequest del = MakeRequest(ZkRequestKind::kDelete, asi_path_);
        del.version = r.stat.version;
        del.guard = own_path;
        io.Send(std::move(del), Purpose::kPublishDelete);
        return {};
      }
      break;
    case Purpose::kPublishSet:
      if (r.code == ZkCode::kOk) return done(r.stat.version);
      Send(io, own_path, own_node);
      return {};
    case Purpose::kPublishDelete:
      Send(io, own_path, own_node);
      return {};
    case Purpose::kPublishCheck:
      if (r.code == ZkCode::kOk) return done(-1);
      break;
    default:
      break;
  }
  in_flight_ = false;
  io.Log(LogAction::kError, "could not publish " + asi_path_ + ": " + std::string(ZkCodeName(r.code)) +
                                (r.code == ZkCode::kNoAuth ? " (check --zk_acl and --zk_auth_file)" : ""));
  return {};
}

}  // namespace latchd
