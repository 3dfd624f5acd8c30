#include "lib/zk/zk_types.h"

namespace latchd {

bool IsServerAnswer(ZkCode code) {
  switch (code) {
    case ZkCode::kOk:
    case ZkCode::kNoNode:
    case ZkCode::kNodeExists:
    case ZkCode::kBadVersion:
    case ZkCode::kNotEmpty:
    case ZkCode::kNoAuth:
    case ZkCode::kInvalidAcl:
      return true;
    default:
      return false;
  }
}

std::string_view ZkCodeName(ZkCode code) {
  switch (code) {
    case ZkCode::kOk: return "OK";
    case ZkCode::kNoNode: return "NONODE";
    case ZkCode::kNodeExists: return "NODEEXISTS";
    case ZkCode::kBadVersion: return "BADVERSION";
    case ZkCode::kNotEmpty: return "NOTEMPTY";
    case ZkCode::kNoAuth: return "NOAUTH";
    case ZkCode::kBadArguments: return "BADARGUMENTS";
    case ZkCode::kConnectionLoss: return "CONNECTIONLOSS";
    case ZkCode::kOperationTimeout: return "OPERATIONTIMEOUT";
    case ZkCode::kSessionExpired: return "SESSIONEXPIRED";
    case ZkCode::kClosing: return "CLOSING";
    case ZkCode::kInvalidState: return "INVALIDSTATE";
    case ZkCode::kInvalidAcl: return "INVALIDACL";
    case ZkCode::kAuthFailed: return "AUTHFAILED";
    case ZkCode::kSessionMoved: return "SESSIONMOVED";
    case ZkCode::kNoChildrenForEphemerals: return "NOCHILDRENFOREPHEMERALS";
    case ZkCode::kNotReadOnly: return "NOTREADONLY";
    case ZkCode::kThrottled: return "THROTTLEDOP";
    case ZkCode::kSaslAuthRequired: return "SESSIONCLOSEDREQUIRESASLAUTH";
    case ZkCode::kOther: return "OTHER";
  }
  return "OTHER";
}

bool IsWrite(ZkRequestKind kind) {
  switch (kind) {
    case ZkRequestKind::kCreate:
    case ZkRequestKind::kDelete:
    case ZkRequestKind::kCheck:
    case ZkRequestKind::kSetData:
      return true;
    default:
      return false;
  }
}

}  // namespace latchd
