#include "lib/zk/zookeeper_client.h"

#include "lib/util/log_limiter.h"
#include "lib/zk/auth_retry.h"
#include "lib/zk/zk_secure_init.h"

#include <zookeeper/zookeeper.h>

#include <atomic>
#include <cerrno>
#include <chrono>
#include <cstring>
#include <functional>
#include <mutex>
#include <string>
#include <string_view>
#include <system_error>
#include <thread>
#include <unordered_set>
#include <utility>
#include <vector>

#include <glog/logging.h>
#ifdef HAVE_OPENSSL_H
#include <openssl/err.h>
#endif

namespace latchd {
namespace {

// ---------------------------------------------------------------------------
// Logging of the C client.

std::atomic<bool> g_log_level_set{false};
std::once_flag g_default_log_level_once;

ZooLogLevel ToZooLogLevel(ZkLogLevel level) {
  switch (level) {
    case ZkLogLevel::kError: return ZOO_LOG_LEVEL_ERROR;
    case ZkLogLevel::kWarn: return ZOO_LOG_LEVEL_WARN;
    case ZkLogLevel::kInfo: return ZOO_LOG_LEVEL_INFO;
    case ZkLogLevel::kDebug: return ZOO_LOG_LEVEL_DEBUG;
  }
  return ZOO_LOG_LEVEL_WARN;
}

// The C client's log callback (no context; called from several threads).
// Lines look like "<time>:<pid>(0x<tid>):ZOO_WARN@<func>@<line>: <text>",
// some with a trailing newline.
void LogToGlog(const char* message) {
  std::string_view msg = message != nullptr ? message : "";
  while (!msg.empty() && (msg.back() == '\n' || msg.back() == '\r')) msg.remove_suffix(1);
  struct LevelTag {
    std::string_view tag;
    ZooLogLevel level;
  };
  static constexpr LevelTag kTags[] = {
      {":ZOO_ERROR@", ZOO_LOG_LEVEL_ERROR},
      {":ZOO_WARN@", ZOO_LOG_LEVEL_WARN},
      {":ZOO_INFO@", ZOO_LOG_LEVEL_INFO},
      {":ZOO_DEBUG@", ZOO_LOG_LEVEL_DEBUG},
  };
  std::string with_reason;
#ifdef HAVE_OPENSSL_H
  // The TLS handshake's failure: the C client says only "error in ssl connect"; OpenSSL's
  // reason is still on this (the I/O) thread's error queue.
  if (msg.find("error in ssl connect") != std::string_view::npos) {
    unsigned long err = ERR_peek_last_error();
    if (err != 0) {
      char reason[256];
      ERR_error_string_n(err, reason, sizeof reason);
      ERR_clear_error();
      with_reason = std::string(msg) + " (TLS handshake failed: " + reason + ")";
      msg = with_reason;
    }
  }
#endif
  ZooLogLevel level = ZOO_LOG_LEVEL_INFO;
  for (const LevelTag& t : kTags) {
    size_t pos = msg.find(t.tag);
    if (pos != std::string_view::npos) {
      level = t.level;
      msg.remove_prefix(pos + t.tag.size());  // keep "<func>@<line>: <text>"
      break;
    }
  }
  // While ZooKeeper is unreachable the client logs on every connection
  // attempt: keep a burst, then two lines a second, and say how many were dropped.
  static LogLimiter limiter(20, 2);
  uint64_t suppressed = 0;
  if (level <= ZOO_LOG_LEVEL_WARN && !limiter.Admit(std::chrono::steady_clock::now(), &suppressed)) {
    return;
  }
  if (suppressed > 0) {
    LOG(WARNING) << "zookeeper: " << suppressed << " client log lines suppressed";
  }
  switch (level) {
    case ZOO_LOG_LEVEL_ERROR:
      LOG(ERROR) << "zookeeper: " << msg;
      break;
    case ZOO_LOG_LEVEL_WARN:
      LOG(WARNING) << "zookeeper: " << msg;
      break;
    case ZOO_LOG_LEVEL_INFO:
      if (msg.find("Client environment:") != std::string_view::npos) {
        VLOG(1) << "zookeeper: " << msg;
      } else {
        LOG(INFO) << "zookeeper: " << msg;
      }
      break;
    default:
      VLOG(1) << "zookeeper: " << msg;
      break;
  }
}

// ---------------------------------------------------------------------------
// Conversions.

ZkCode MapCode(int rc) {
  switch (rc) {
    case ZOK: return ZkCode::kOk;
    case ZNONODE: return ZkCode::kNoNode;
    case ZNODEEXISTS: return ZkCode::kNodeExists;
    case ZBADVERSION: return ZkCode::kBadVersion;
    case ZNOTEMPTY: return ZkCode::kNotEmpty;
    case ZNOAUTH: return ZkCode::kNoAuth;
    case ZBADARGUMENTS: return ZkCode::kBadArguments;
    case ZCONNECTIONLOSS: return ZkCode::kConnectionLoss;
    case ZOPERATIONTIMEOUT: return ZkCode::kOperationTimeout;
    case ZSESSIONEXPIRED: return ZkCode::kSessionExpired;
    case ZCLOSING: return ZkCode::kClosing;
    case ZINVALIDSTATE: return ZkCode::kInvalidState;
    case ZINVALIDACL: return ZkCode::kInvalidAcl;
    case ZAUTHFAILED: return ZkCode::kAuthFailed;
    case ZSESSIONMOVED: return ZkCode::kSessionMoved;
    case ZNOCHILDRENFOREPHEMERALS: return ZkCode::kNoChildrenForEphemerals;
    case ZNOTREADONLY: return ZkCode::kNotReadOnly;
    case ZTHROTTLEDOP: return ZkCode::kThrottled;
    case ZSESSIONCLOSEDREQUIRESASLAUTH: return ZkCode::kSaslAuthRequired;
    default: return ZkCode::kOther;
  }
}

void SetCode(ZkResult* result, int rc) {
  result->code = MapCode(rc);
  result->raw_code = rc;
}

ZkStat ToZkStat(const struct Stat* stat) {
  ZkStat out;
  if (stat == nullptr) return out;
  out.czxid = stat->czxid;
  out.mzxid = stat->mzxid;
  out.ephemeral_owner = stat->ephemeralOwner;
  out.version = stat->version;
  out.num_children = stat->numChildren;
  return out;
}

int ToZooCreateMode(CreateMode mode) {
  switch (mode) {
    case CreateMode::kPersistent: return ZOO_PERSISTENT;
    case CreateMode::kEphemeral: return ZOO_EPHEMERAL;
    case CreateMode::kEphemeralSequential: return ZOO_EPHEMERAL_SEQUENTIAL;
  }
  return ZOO_PERSISTENT;
}

// The ZOO_*_EVENT values are extern constants, so no switch.
bool ToWatchEventType(int type, WatchEventType* out) {
  if (type == ZOO_CREATED_EVENT) {
    *out = WatchEventType::kCreated;
  } else if (type == ZOO_DELETED_EVENT) {
    *out = WatchEventType::kDeleted;
  } else if (type == ZOO_CHANGED_EVENT) {
    *out = WatchEventType::kDataChanged;
  } else if (type == ZOO_CHILD_EVENT) {
    *out = WatchEventType::kChildrenChanged;
  } else if (type == ZOO_NOTWATCHING_EVENT) {
    *out = WatchEventType::kNotWatching;
  } else {
    return false;
  }
  return true;
}

// A light version of the C client's path check, for the multi (zoo_amulti
// does not report a bad path as ZBADARGUMENTS).
bool LooksLikeValidPath(const std::string& path) {
  if (path.empty() || path[0] != '/') return false;
  if (path.size() > 1 && path.back() == '/') return false;
  if (path.find("//") != std::string::npos) return false;
  return path.find('\0') == std::string::npos;
}

// ---------------------------------------------------------------------------
// State shared between the client, its handles and posted functions.

struct Shared {
  explicit Shared(ZkClientCallbacks cb) : callbacks(std::move(cb)) {}
  const ZkClientCallbacks callbacks;
  // Generation of the open handle (0: none; kDestroyed after the client is
  // gone). Written on the owner's thread; read by posted functions there.
  std::atomic<uint64_t> current_generation{0};
  // Handles in a row that ended in an authentication failure (reset by a CONNECTED):
  // the next Open() waits AuthRetryDelay of it.
  std::atomic<int> auth_failures{0};
};

constexpr uint64_t kNoHandle = 0;
constexpr uint64_t kDestroyed = ~uint64_t{0};

// Posts `fn` to the owner's thread; it runs only if `generation` is still
// current there.
void PostTagged(const std::shared_ptr<Shared>& shared, uint64_t generation,
                std::function<void(const ZkClientCallbacks&)> fn) {
  shared->callbacks.post([shared, generation, fn = std::move(fn)] {
    if (shared->current_generation.load(std::memory_order_acquire) != generation) return;
    fn(shared->callbacks);
  });
}

struct HandleContext;

// One outstanding request. Allocated by Submit, freed exactly once: by its
// completion, by Submit when the C client refused the request before
// registering it, or after zookeeper_close for completions the C client never
// ran.
struct RequestContext {
  HandleContext* handle = nullptr;
  uint64_t id = 0;
  std::string path;
  // Multis: the check-only renewal uses [0]; a guarded request [0] (the
  // guard's check) and [1] (the operation), with its created path or stat;
  // a mark's setData comes last.
  zoo_op_result_t multi_result[3] = {};
  char created_path[1024] = {};
  struct Stat set_stat = {};
  struct Stat mark_stat = {};
  bool guarded = false;
  ZkRequestKind kind = ZkRequestKind::kCheck;
  // The result was already delivered from Submit (a synchronous error the
  // C client might still complete). Guarded by HandleContext::pending_mu.
  bool answered = false;
};

// Per-handle context: the zookeeper_init context (global watcher), the data
// watchers' context, and the registry of outstanding requests. Lives until
// zookeeper_close of its handle has returned.
struct HandleContext {
  HandleContext(uint64_t gen, std::shared_ptr<Shared> s)
      : generation(gen), shared(std::move(s)) {}

  // Delivers through post unless the handle is closing. Any thread.
  void Deliver(std::function<void(const ZkClientCallbacks&)> fn) {
    std::lock_guard<std::mutex> lock(deliver_mu);
    if (closing) return;
    PostTagged(shared, generation, std::move(fn));
  }

  // Reports kAuthFailed, once per handle: from the C client's AUTH_FAILED event or from the
  // adapter's watch of a SASL handle's state (the C client reports no event for those).
  // Any thread.
  void ReportAuthFailed(ZkSessionInfo info) {
    std::lock_guard<std::mutex> lock(deliver_mu);
    if (closing || auth_failed_reported) return;
    auth_failed_reported = true;
    shared->auth_failures.fetch_add(1);
    PostTagged(shared, generation, [info](const ZkClientCallbacks& cb) {
      if (cb.on_session) cb.on_session(ZkSessionEvent::kAuthFailed, info);
    });
  }

  // After this, no post of this handle starts and none is in progress.
  void BeginClose() {
    std::lock_guard<std::mutex> lock(deliver_mu);
    closing = true;
    shared.reset();
  }

  void AddPending(RequestContext* ctx) {
    std::lock_guard<std::mutex> lock(pending_mu);
    pending.insert(ctx);
  }

  // Called by a completion: takes `ctx` out of the registry and frees it.
  // Returns true if its result is still to be delivered.
  bool FinishPending(RequestContext* ctx) {
    bool deliver = false;
    {
      std::lock_guard<std::mutex> lock(pending_mu);
      if (pending.erase(ctx) == 0) {
        LOG(ERROR) << "zookeeper: completion for an unknown request context";
        return false;
      }
      deliver = !ctx->answered;
    }
    delete ctx;
    return deliver;
  }

  // Frees what the C client never completed. Only after zookeeper_close.
  void FreeAllPending() {
    std::lock_guard<std::mutex> lock(pending_mu);
    for (RequestContext* ctx : pending) delete ctx;
    pending.clear();
  }

  const uint64_t generation;

  std::mutex deliver_mu;
  bool closing = false;            // guarded by deliver_mu
  bool auth_failed_reported = false;  // guarded by deliver_mu
  std::shared_ptr<Shared> shared;  // guarded by deliver_mu; reset on close

  std::mutex pending_mu;
  std::unordered_set<RequestContext*> pending;  // guarded by pending_mu
};

// ---------------------------------------------------------------------------
// C callbacks. All run on the C client's completion thread.

void DeliverWatch(HandleContext* handle, int type, const char* path) {
  WatchEventType mapped;
  if (!ToWatchEventType(type, &mapped)) {
    VLOG(1) << "zookeeper: ignoring watch event type " << type;
    return;
  }
  ZkWatchEvent event;
  event.type = mapped;
  event.path = path != nullptr ? path : "";
  handle->Deliver([event = std::move(event)](const ZkClientCallbacks& cb) {
    if (cb.on_watch) cb.on_watch(event);
  });
}

// The handle's global watcher: the only source of session events.
void GlobalWatcher(zhandle_t* zh, int type, int state, const char* path, void* context) {
  auto* handle = static_cast<HandleContext*>(context);
  if (handle == nullptr) return;
  if (type != ZOO_SESSION_EVENT) {
    DeliverWatch(handle, type, path);
    return;
  }
  ZkSessionEvent event;
  ZkSessionInfo info;
  if (state == ZOO_CONNECTED_STATE) {
    event = ZkSessionEvent::kConnected;
    {
      std::lock_guard<std::mutex> lock(handle->deliver_mu);
      if (handle->shared) handle->shared->auth_failures.store(0);
    }
    const clientid_t* id = zoo_client_id(zh);
    info.session_id = id != nullptr ? id->client_id : 0;
    if (id != nullptr) info.password.assign(id->passwd, sizeof id->passwd);
    info.negotiated_timeout = std::chrono::milliseconds(zoo_recv_timeout(zh));
  } else if (state == ZOO_CONNECTING_STATE || state == ZOO_ASSOCIATING_STATE) {
    event = ZkSessionEvent::kConnecting;
  } else if (state == ZOO_EXPIRED_SESSION_STATE) {
    event = ZkSessionEvent::kExpired;
  } else if (state == ZOO_AUTH_FAILED_STATE) {
    handle->ReportAuthFailed(info);
    return;
  } else {
    VLOG(1) << "zookeeper: ignoring session state " << state;
    return;
  }
  handle->Deliver([event, info](const ZkClientCallbacks& cb) {
    if (cb.on_session) cb.on_session(event, info);
  });
}

// The watcher of every data watch (context: the handle). Session events also
// reach every registered watcher; the global watcher reports those.
void DataWatcher(zhandle_t* zh, int type, int state, const char* path, void* context) {
  auto* handle = static_cast<HandleContext*>(context);
  if (handle == nullptr || type == ZOO_SESSION_EVENT) return;
  DeliverWatch(handle, type, path);
}

RequestContext* ToRequest(const void* data) {
  return static_cast<RequestContext*>(const_cast<void*>(data));
}

// Frees the context and delivers `result` (id filled in) if still due.
void Complete(const void* data, ZkResult result) {
  RequestContext* ctx = ToRequest(data);
  HandleContext* handle = ctx->handle;
  result.id = ctx->id;
  if (!handle->FinishPending(ctx)) return;
  handle->Deliver([result = std::move(result)](const ZkClientCallbacks& cb) mutable {
    if (cb.on_result) cb.on_result(std::move(result));
  });
}

void CreateCompletion(int rc, const char* value, const struct Stat* stat, const void* data) {
  ZkResult result;
  SetCode(&result, rc);
  if (rc == ZOK) {
    if (value != nullptr) result.created_path = value;
    result.stat = ToZkStat(stat);
  }
  Complete(data, std::move(result));
}

void VoidCompletion(int rc, const void* data) {
  ZkResult result;
  SetCode(&result, rc);
  Complete(data, std::move(result));
}

void SyncCompletion(int rc, const char* /*path*/, const void* data) {
  ZkResult result;
  SetCode(&result, rc);
  Complete(data, std::move(result));
}

void StatCompletion(int rc, const struct Stat* stat, const void* data) {
  ZkResult result;
  SetCode(&result, rc);
  if (rc == ZOK) result.stat = ToZkStat(stat);
  Complete(data, std::move(result));
}

void DataCompletion(int rc, const char* value, int value_len, const struct Stat* stat,
                    const void* data) {
  ZkResult result;
  SetCode(&result, rc);
  if (rc == ZOK) {
    if (value != nullptr && value_len > 0) result.data.assign(value, static_cast<size_t>(value_len));
    result.stat = ToZkStat(stat);
  }
  Complete(data, std::move(result));
}

// A guarded request's multi {check(guard), op}: which part failed, and the
// operation's result.
void GuardedCompletion(int rc, const void* data) {
  const RequestContext* ctx = static_cast<const RequestContext*>(data);
  ZkResult result;
  SetCode(&result, rc);
  if (rc == ZOK) {
    if (ctx->kind == ZkRequestKind::kCreate) {
      result.created_path = ctx->created_path;
    } else if (ctx->kind == ZkRequestKind::kSetData) {
      result.stat = ToZkStat(&ctx->set_stat);
    }
  } else if (ctx->guarded && IsServerAnswer(result.code) && ctx->multi_result[0].err != ZOK) {
    // The server answered and the check, the first op, failed.
    result.guard_failed = true;
    SetCode(&result, ctx->multi_result[0].err);
  }
  Complete(data, std::move(result));
}

void ChildrenCompletion(int rc, const struct String_vector* strings, const void* data) {
  ZkResult result;
  SetCode(&result, rc);
  if (rc == ZOK && strings != nullptr) {
    result.children.reserve(static_cast<size_t>(strings->count));
    for (int32_t i = 0; i < strings->count; ++i) result.children.emplace_back(strings->data[i]);
  }
  Complete(data, std::move(result));
}

// Closes the handle and frees everything of it. Owner's thread or a detached
// thread; `handle` must have begun closing.
void CloseAndFree(zhandle_t* zh, HandleContext* handle) {
  int rc = zookeeper_close(zh);
  if (rc != ZOK) VLOG(1) << "zookeeper: zookeeper_close: " << zerror(rc);
  handle->FreeAllPending();
  delete handle;
}

// ---------------------------------------------------------------------------

class ZookeeperClient final : public ZkClient {
 public:
  ZookeeperClient(ZkClientOptions options, ZkClientCallbacks callbacks)
      : options_(std::move(options)),
        shared_(std::make_shared<Shared>(std::move(callbacks))) {
    CHECK(shared_->callbacks.post) << "ZkClientCallbacks.post is required";
    for (const ZkAclEntry& entry : options_.acl) {
      struct ACL acl;
      acl.perms = entry.perms;
      acl.id.scheme = const_cast<char*>(entry.scheme.c_str());
      acl.id.id = const_cast<char*>(entry.id.c_str());
      acl_entries_.push_back(acl);
    }
    acl_.count = static_cast<int32_t>(acl_entries_.size());
    acl_.data = acl_entries_.empty() ? nullptr : acl_entries_.data();
    auto factory = ZkHandleFactory::Make(options_.security);
    if (factory.ok()) {
      factory_ = std::move(factory).value();
    } else {
      factory_status_ = factory.status();
    }
  }

  ~ZookeeperClient() override {
    Close();
    shared_->current_generation.store(kDestroyed, std::memory_order_release);
  }

  ZookeeperClient(const ZookeeperClient&) = delete;
  ZookeeperClient& operator=(const ZookeeperClient&) = delete;

  Status Open() override {
    Close();
    if (!factory_) return factory_status_;
    const uint64_t generation = next_generation_++;
    // Current before the C client can produce anything of it.
    shared_->current_generation.store(generation, std::memory_order_release);
    const int failures = shared_->auth_failures.load();
    const std::chrono::milliseconds delay = AuthRetryDelay(failures);
    if (delay.count() == 0) return StartHandle(generation);
    LOG(WARNING) << "zookeeper: " << failures << " authentication failure"
                 << (failures == 1 ? "" : "s") << " in a row; the next session to "
                 << options_.connect << " in " << delay.count() << " ms";
    // The generation is current meanwhile: Submit answers kInvalidState, Close cancels.
    start_later_ = DelayedCall(delay, [this, shared = shared_, generation] {
      shared->callbacks.post([this, shared, generation] {
        if (shared->current_generation.load(std::memory_order_acquire) != generation) return;
        Status s = StartHandle(generation);
        if (!s.ok()) {
          LOG(ERROR) << "cannot open a ZooKeeper session: " << s.message();
          PostTagged(shared, generation, [](const ZkClientCallbacks& cb) {
            if (cb.on_session) cb.on_session(ZkSessionEvent::kExpired, ZkSessionInfo{});
          });
        }
      });
    });
    return Status::Ok();
  }

 private:
  // Makes the C handle of `generation` (already current).
  Status StartHandle(uint64_t generation) {
    auto* handle = new HandleContext(generation, shared_);
    const int flags = VLOG_IS_ON(1) ? 0 : ZOO_NO_LOG_CLIENTENV;
    errno = 0;
    clientid_t resume{};
    const clientid_t* clientid = nullptr;
    if (options_.resume.has_value() && options_.resume->password.size() == sizeof resume.passwd) {
      resume.client_id = options_.resume->session_id;
      std::memcpy(resume.passwd, options_.resume->password.data(), sizeof resume.passwd);
      clientid = &resume;
    }
    options_.resume.reset();  // only the first session is resumed
    zhandle_t* zh = factory_->Open(options_.connect.c_str(), GlobalWatcher,
                                   static_cast<int>(options_.session_timeout.count()), clientid,
                                   handle, flags, LogToGlog);
    if (zh == nullptr) {
      const int err = errno;
      shared_->current_generation.store(kNoHandle, std::memory_order_release);
      delete handle;  // no C thread ever saw it
      return Status::Error("zookeeper_init(\"" + options_.connect + "\") failed: " +
                           std::strerror(err) + " (errno " + std::to_string(err) + ")");
    }
    if (options_.auth.has_value()) {
      const std::string& scheme = options_.auth->first;
      const std::string& auth = options_.auth->second;
      int rc = zoo_add_auth(zh, scheme.c_str(), auth.data(), static_cast<int>(auth.size()),
                            /*completion=*/nullptr, /*data=*/nullptr);
      if (rc != ZOK) {
        shared_->current_generation.store(kNoHandle, std::memory_order_release);
        handle->BeginClose();
        CloseAndFree(zh, handle);
        return Status::Error("zoo_add_auth(scheme \"" + scheme + "\") for \"" + options_.connect +
                             "\" failed: " + zerror(rc));
      }
    }
    zh_ = zh;
    handle_ = handle;
    if (factory_->sasl()) WatchSaslFailure(zh, handle);
    VLOG(1) << "zookeeper: opened handle generation " << generation << " to " << options_.connect;
    return Status::Ok();
  }

  // The C client marks a SASL handle AUTH_FAILED without telling any watcher (see
  // lib/zk/zk_secure_init.h): poll its state, and report it once.
  void WatchSaslFailure(zhandle_t* zh, HandleContext* handle) {
    const std::string who = DescribeZkSecurity(options_.security);
    const std::string connect = options_.connect;
    sasl_watch_ = PollUntil(
        std::chrono::milliseconds(100), [zh] { return zoo_state(zh) == ZOO_AUTH_FAILED_STATE; },
        [zh, handle, who, connect] {
          const char* server = zoo_get_current_server(zh);
          LOG(ERROR) << "ZooKeeper SASL authentication failed at "
                     << (server != nullptr ? server : connect) << " with " << who
                     << ": refused by the server (wrong password, unknown user or principal) or, "
                        "after zookeeper: lines above, not usable (GSSAPI: no ticket); session "
                        "given up";
          ZkSessionInfo info;
          if (const clientid_t* id = zoo_client_id(zh)) info.session_id = id->client_id;
          handle->ReportAuthFailed(info);
        });
  }

 public:

  void Submit(const ZkRequest& request) override {
    if (zh_ == nullptr) {
      ZkResult result;
      result.id = request.id;
      result.code = ZkCode::kInvalidState;
      PostTagged(shared_, shared_->current_generation.load(std::memory_order_relaxed),
                 [result = std::move(result)](const ZkClientCallbacks& cb) mutable {
                   if (cb.on_result) cb.on_result(std::move(result));
                 });
      return;
    }
    auto* ctx = new RequestContext;
    ctx->handle = handle_;
    ctx->id = request.id;
    ctx->path = request.path;
    ctx->kind = request.kind;
    handle_->AddPending(ctx);
    // From here on `ctx` may be freed by its completion at any moment.
    const char* path = request.path.c_str();
    int rc = ZOK;
    if (!request.guard.empty() || !request.mark_path.empty()) {
      rc = SubmitMulti(request, ctx);
      if (rc != ZOK) AnswerRefused(ctx, request.id, rc);
      return;
    }
    switch (request.kind) {
      case ZkRequestKind::kCreate:
        rc = zoo_acreate2(zh_, path, request.data.data(), static_cast<int>(request.data.size()),
                          acl_.count > 0 ? &acl_ : &ZOO_OPEN_ACL_UNSAFE,
                          ToZooCreateMode(request.mode), CreateCompletion, ctx);
        break;
      case ZkRequestKind::kDelete:
        rc = zoo_adelete(zh_, path, request.version, VoidCompletion, ctx);
        break;
      case ZkRequestKind::kGetData:
        rc = zoo_awget(zh_, path, request.watch ? DataWatcher : nullptr,
                       request.watch ? handle_ : nullptr, DataCompletion, ctx);
        break;
      case ZkRequestKind::kGetChildren:
        rc = zoo_aget_children(zh_, path, /*watch=*/0, ChildrenCompletion, ctx);
        break;
      case ZkRequestKind::kCheck: {
        // zoo_amulti checks neither the handle state nor (as ZBADARGUMENTS)
        // the path.
        if (is_unrecoverable(zh_) == ZINVALIDSTATE) {
          rc = ZINVALIDSTATE;
        } else if (!LooksLikeValidPath(request.path)) {
          rc = ZBADARGUMENTS;
        } else {
          zoo_op_t op;
          zoo_check_op_init(&op, path, request.version);
          rc = zoo_amulti(zh_, 1, &op, ctx->multi_result, VoidCompletion, ctx);
        }
        break;
      }
      case ZkRequestKind::kSetData:
        rc = zoo_aset(zh_, path, request.data.data(), static_cast<int>(request.data.size()),
                      request.version, StatCompletion, ctx);
        break;
      case ZkRequestKind::kSync:
        rc = zoo_async(zh_, path, SyncCompletion, ctx);
        break;
    }
    if (rc != ZOK) AnswerRefused(ctx, request.id, rc);
  }

  void Close() override {
    start_later_.Cancel();
    if (zh_ == nullptr) {
      shared_->current_generation.store(kNoHandle, std::memory_order_release);
      return;
    }
    shared_->current_generation.store(kNoHandle, std::memory_order_release);
    sasl_watch_.Cancel();  // before the handle goes
    zhandle_t* zh = zh_;
    HandleContext* handle = handle_;
    zh_ = nullptr;
    handle_ = nullptr;
    handle->BeginClose();
    VLOG(1) << "zookeeper: closing handle generation " << handle->generation;
    if (is_unrecoverable(zh) == ZINVALIDSTATE) {
      // Dead (expired or auth failed): nothing of it is delivered any more,
      // so do not make the owner wait for the C client's threads.
      try {
        std::thread([zh, handle] { CloseAndFree(zh, handle); }).detach();
        return;
      } catch (const std::system_error& e) {
        LOG(WARNING) << "zookeeper: cannot start a closing thread (" << e.what()
                     << "); closing inline";
      }
    }
    CloseAndFree(zh, handle);
  }

 private:
  // Sends `request` as a multi {check(guard), op} ({delete(guard), op} with
  // guard_delete; no first op without a guard), plus set(mark) last when
  // mark_path is set. Returns the C client's synchronous result (ZOK: the
  // completion will answer).
  int SubmitMulti(const ZkRequest& request, RequestContext* ctx) {
    // zoo_amulti checks neither the handle state nor (as ZBADARGUMENTS) the paths.
    if (is_unrecoverable(zh_) == ZINVALIDSTATE) return ZINVALIDSTATE;
    bool guarded = !request.guard.empty();
    bool marked = !request.mark_path.empty();
    if (!LooksLikeValidPath(request.path) || (guarded && !LooksLikeValidPath(request.guard)) ||
        (marked && !LooksLikeValidPath(request.mark_path)) ||
        (marked && request.kind != ZkRequestKind::kDelete) ||
        (request.guard_delete && (!guarded || request.kind != ZkRequestKind::kDelete))) {
      return ZBADARGUMENTS;
    }
    ctx->guarded = guarded;
    zoo_op_t ops[3];
    int n = 0;
    if (request.guard_delete) {
      zoo_delete_op_init(&ops[n++], request.guard.c_str(), -1);
    } else if (guarded) {
      zoo_check_op_init(&ops[n++], request.guard.c_str(), -1);
    }
    const char* path = request.path.c_str();
    switch (request.kind) {
      case ZkRequestKind::kCreate:
        zoo_create_op_init(&ops[n++], path, request.data.data(),
                           static_cast<int>(request.data.size()),
                           acl_.count > 0 ? &acl_ : &ZOO_OPEN_ACL_UNSAFE,
                           ToZooCreateMode(request.mode), ctx->created_path,
                           static_cast<int>(sizeof ctx->created_path));
        break;
      case ZkRequestKind::kSetData:
        zoo_set_op_init(&ops[n++], path, request.data.data(),
                        static_cast<int>(request.data.size()), request.version, &ctx->set_stat);
        break;
      case ZkRequestKind::kDelete:
        zoo_delete_op_init(&ops[n++], path, request.version);
        break;
      default:
        return ZBADARGUMENTS;  // only writes can be guarded
    }
    if (marked) {
      zoo_set_op_init(&ops[n++], request.mark_path.c_str(), request.mark_data.data(),
                      static_cast<int>(request.mark_data.size()), -1, &ctx->mark_stat);
    }
    return zoo_amulti(zh_, n, ops, ctx->multi_result, GuardedCompletion, ctx);
  }

  // The C client refused a request synchronously with `rc`: answer it once.
  void AnswerRefused(RequestContext* ctx, uint64_t id, int rc) {
    bool deliver = false;
    {
      std::lock_guard<std::mutex> lock(handle_->pending_mu);
      auto it = handle_->pending.find(ctx);
      if (it != handle_->pending.end()) {
        deliver = true;
        if (rc == ZBADARGUMENTS || rc == ZINVALIDSTATE) {
          // Refused before a completion was registered.
          handle_->pending.erase(it);
          delete ctx;
        } else {
          // A completion might have been registered: it (or Close) frees ctx.
          ctx->answered = true;
        }
      }
      // Otherwise the completion already ran and answered.
    }
    if (!deliver) return;
    VLOG(1) << "zookeeper: request " << id << " refused: " << zerror(rc);
    ZkResult result;
    result.id = id;
    SetCode(&result, rc);
    handle_->Deliver([result = std::move(result)](const ZkClientCallbacks& cb) mutable {
      if (cb.on_result) cb.on_result(std::move(result));
    });
  }

  ZkClientOptions options_;  // resume is cleared after the first Open()
  const std::shared_ptr<Shared> shared_;
  std::unique_ptr<ZkHandleFactory> factory_;  // null if it could not be made:
  Status factory_status_;                     // then Open() returns this
  PollUntil start_later_;     // a StartHandle waiting for AuthRetryDelay (DelayedCall)
  PollUntil sasl_watch_;      // of the open SASL handle
  std::vector<struct ACL> acl_entries_;  // points into options_.acl
  struct ACL_vector acl_ = {};
  uint64_t next_generation_ = 1;
  zhandle_t* zh_ = nullptr;
  HandleContext* handle_ = nullptr;  // owned; freed once zh_ is closed
};

}  // namespace

void SetZookeeperLogLevel(ZkLogLevel level) {
  g_log_level_set.store(true);
  zoo_set_debug_level(ToZooLogLevel(level));
}

std::unique_ptr<ZkClient> MakeZookeeperClient(ZkClientOptions options,
                                              ZkClientCallbacks callbacks) {
  std::call_once(g_default_log_level_once, [] {
    if (!g_log_level_set.load()) zoo_set_debug_level(ZOO_LOG_LEVEL_WARN);
  });
  return std::make_unique<ZookeeperClient>(std::move(options), std::move(callbacks));
}

}  // namespace latchd
