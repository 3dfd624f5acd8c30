#include "lib/zk/zk_secure_init.h"

#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <mutex>
#include <string>
#include <utility>

#include <glog/logging.h>

#ifdef HAVE_CYRUS_SASL_H
#include <krb5.h>
#include <sasl/sasl.h>
#endif

namespace latchd {

#ifdef HAVE_CYRUS_SASL_H
namespace {

constexpr const char* kCcacheName = "MEMORY:latchd-zookeeper";

using SaslCallbackFn = int (*)();
using AnyFn = void (*)();  // GCC: the one function type every function pointer casts to cleanly

template <typename F>
SaslCallbackFn AsSaslCallback(F* fn) {
  return reinterpret_cast<SaslCallbackFn>(reinterpret_cast<AnyFn>(fn));
}

// Context of the SASL callbacks. Lives in the factory, i.e. longer than every handle.
struct SaslContext {
  std::string user;           // empty: none (GSSAPI)
  std::string password_file;  // read at each authentication
  std::string password;       // when given inline
  sasl_secret_t* secret = nullptr;
  std::mutex mu;              // the callbacks run on the handles' I/O threads
};

int GetSimple(void* context, int id, const char** result, unsigned* len) {
  auto* ctx = static_cast<SaslContext*>(context);
  if (result == nullptr || (id != SASL_CB_USER && id != SASL_CB_AUTHNAME)) return SASL_BADPARAM;
  *result = ctx->user.empty() ? nullptr : ctx->user.c_str();
  if (len != nullptr) *len = static_cast<unsigned>(ctx->user.size());
  return SASL_OK;
}

int GetRealm(void* /*context*/, int id, const char** available, const char** result) {
  if (result == nullptr || id != SASL_CB_GETREALM) return SASL_BADPARAM;
  *result = available != nullptr ? available[0] : nullptr;  // the server's (zk-sasl-md5)
  return SASL_OK;
}

// The first line of the password file (without \n or \r\n), or the inline password.
int GetSecret(sasl_conn_t* conn, void* context, int id, sasl_secret_t** psecret) {
  auto* ctx = static_cast<SaslContext*>(context);
  if (conn == nullptr || psecret == nullptr || id != SASL_CB_PASS) return SASL_BADPARAM;
  std::string password = ctx->password;
  if (!ctx->password_file.empty()) {
    FILE* f = std::fopen(ctx->password_file.c_str(), "re");
    if (f == nullptr) {
      LOG(ERROR) << "zookeeper: SASL password file " << ctx->password_file
                 << " cannot be opened: " << std::strerror(errno);
      return SASL_FAIL;
    }
    char buf[1024];
    bool got = std::fgets(buf, sizeof buf, f) != nullptr;
    std::fclose(f);
    if (!got) {
      LOG(ERROR) << "zookeeper: SASL password file " << ctx->password_file << " is empty";
      return SASL_FAIL;
    }
    password = buf;
    std::memset(buf, 0, sizeof buf);
    while (!password.empty() && (password.back() == '\n' || password.back() == '\r')) {
      password.pop_back();
    }
  }
  std::lock_guard<std::mutex> lock(ctx->mu);
  auto* secret = static_cast<sasl_secret_t*>(
      std::realloc(ctx->secret, sizeof(sasl_secret_t) + password.size()));
  if (secret == nullptr) return SASL_NOMEM;
  ctx->secret = secret;
  secret->len = password.size();
  std::memcpy(secret->data, password.data(), password.size());
  secret->data[password.size()] = '\0';  // sasl_secret_t has one byte of data
  std::fill(password.begin(), password.end(), '\0');
  *psecret = secret;
  return SASL_OK;
}

Status InitSaslOnce() {
  static std::once_flag once;
  static int rc = SASL_OK;
  std::call_once(once, [] { rc = sasl_client_init(nullptr); });
  if (rc != SASL_OK) {
    return Status::Error(std::string("sasl_client_init failed: ") + sasl_errstring(rc, nullptr, nullptr));
  }
  return Status::Ok();
}

// KRB5CCNAME=kCcacheName, initialized with `principal` (no tickets yet).
Status InitCredentialCache(const std::string& principal) {
  krb5_context ctx = nullptr;
  krb5_error_code rc = krb5_init_context(&ctx);
  if (rc != 0) return Status::Error("krb5_init_context failed (error " + std::to_string(rc) + ")");
  auto error = [&](const std::string& what, krb5_error_code code) {
    const char* msg = krb5_get_error_message(ctx, code);
    Status s = Status::Error(what + ": " + msg);
    krb5_free_error_message(ctx, msg);
    return s;
  };
  krb5_principal princ = nullptr;
  krb5_ccache cache = nullptr;
  Status out;
  if ((rc = krb5_parse_name(ctx, principal.c_str(), &princ)) != 0) {
    out = error("--zk_sasl_principal \"" + principal + "\" cannot be parsed", rc);
  } else if ((rc = krb5_cc_resolve(ctx, kCcacheName, &cache)) != 0) {
    out = error(std::string("credential cache ") + kCcacheName, rc);
  } else if ((rc = krb5_cc_initialize(ctx, cache, princ)) != 0) {
    out = error(std::string("credential cache ") + kCcacheName, rc);
  }
  if (cache != nullptr) krb5_cc_close(ctx, cache);  // a MEMORY cache lives on in the process
  if (princ != nullptr) krb5_free_principal(ctx, princ);
  krb5_free_context(ctx);
  return out;
}

}  // namespace

struct ZkHandleFactory::SaslState {
  SaslContext context;
  sasl_callback_t callbacks[5] = {};
  zoo_sasl_params_t params = {};
  ~SaslState() {
    if (context.secret != nullptr) {
      std::memset(context.secret->data, 0, context.secret->len);
      std::free(context.secret);
    }
    std::fill(context.password.begin(), context.password.end(), '\0');
  }
};

#else   // !HAVE_CYRUS_SASL_H
struct ZkHandleFactory::SaslState {};
#endif  // HAVE_CYRUS_SASL_H

ZkHandleFactory::ZkHandleFactory(ZkSecurityOptions options) : options_(std::move(options)) {}
ZkHandleFactory::~ZkHandleFactory() = default;

Result<std::unique_ptr<ZkHandleFactory>> ZkHandleFactory::Make(const ZkSecurityOptions& options) {
  std::unique_ptr<ZkHandleFactory> factory(new ZkHandleFactory(options));
  Status s = factory->Prepare();
  if (!s.ok()) return s;
  return factory;
}

Status ZkHandleFactory::Prepare() {
  const ZkSaslOptions& sasl = options_.sasl;
  if (sasl.enabled() && options_.tls.enabled()) {
    return Status::Error("SASL and TLS cannot be combined with the ZooKeeper 3.8 C client");
  }
  if (options_.tls.enabled()) {
#ifdef HAVE_OPENSSL_H
    tls_param_ = options_.tls.ca + "," + options_.tls.cert + "," + options_.tls.key;
#else
    return Status::Error("this ZooKeeper C client is built without TLS");
#endif
  }
  if (!sasl.enabled()) return Status::Ok();
#ifdef HAVE_CYRUS_SASL_H
  Status init = InitSaslOnce();
  if (!init.ok()) return init;
  if (sasl.mechanism == SaslMechanism::kGssapi) {
    ::setenv("KRB5_CLIENT_KTNAME", ("FILE:" + sasl.keytab).c_str(), 1);
    ::setenv("KRB5CCNAME", kCcacheName, 1);
    if (!sasl.principal.empty()) {
      Status cc = InitCredentialCache(sasl.principal);
      if (!cc.ok()) return cc;
    }
  }
  sasl_ = std::make_unique<SaslState>();
  SaslContext& ctx = sasl_->context;
  if (sasl.mechanism == SaslMechanism::kDigestMd5) {
    ctx.user = sasl.user;
    ctx.password_file = sasl.password_file;
    ctx.password = sasl.password;
  }
  sasl_->callbacks[0] = {SASL_CB_GETREALM, AsSaslCallback(&GetRealm), &ctx};
  sasl_->callbacks[1] = {SASL_CB_USER, AsSaslCallback(&GetSimple), &ctx};
  sasl_->callbacks[2] = {SASL_CB_AUTHNAME, AsSaslCallback(&GetSimple), &ctx};
  sasl_->callbacks[3] = {SASL_CB_PASS, AsSaslCallback(&GetSecret), &ctx};
  sasl_->callbacks[4] = {SASL_CB_LIST_END, nullptr, nullptr};
  sasl_->params.service = sasl.service.c_str();
  const std::string& host = sasl.host;
  sasl_->params.host = !host.empty()                                   ? host.c_str()
                       : sasl.mechanism == SaslMechanism::kDigestMd5 ? "zk-sasl-md5"
                                                                       : nullptr;
  sasl_->params.mechlist = SaslMechanismName(sasl.mechanism);
  sasl_->params.callbacks = sasl_->callbacks;
  return Status::Ok();
#else
  return Status::Error("this ZooKeeper C client is built without SASL");
#endif
}

zhandle_t* ZkHandleFactory::Open(const char* connect, watcher_fn watcher, int recv_timeout_ms,
                                 const clientid_t* clientid, void* context, int flags,
                                 log_callback_fn log) {
#ifdef HAVE_CYRUS_SASL_H
  if (sasl_) {
    return zookeeper_init_sasl(connect, watcher, recv_timeout_ms, clientid, context, flags, log,
                               &sasl_->params);
  }
#endif
#ifdef HAVE_OPENSSL_H
  if (!tls_param_.empty()) {
    zhandle_t* zh = zookeeper_init_ssl(connect, tls_param_.c_str(), watcher, recv_timeout_ms,
                                       clientid, context, flags);
    if (zh != nullptr) zoo_set_log_callback(zh, log);
    return zh;
  }
#endif
  return zookeeper_init2(connect, watcher, recv_timeout_ms, clientid, context, flags, log);
}

}  // namespace latchd
