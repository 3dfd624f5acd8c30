#include "lib/api/zk_security_config.h"

#include <netdb.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <cstring>
#include <memory>
#include <string_view>

#include <openssl/bio.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>

#include "lib/util/one_line.h"
#include "lib/util/read_file.h"
#include "lib/zk/acl.h"

namespace latchd {
namespace {

constexpr size_t kMaxFileBytes = 1024 * 1024;  // keytabs, PEM files, password files

// Names settings in messages: "--<flag>", or where a value not given as a flag came from
// (RawZkSecurity::origin).
class Names {
 public:
  explicit Names(const RawZkSecurity& raw) : raw_(raw) {}

  std::string operator()(std::string_view flag) const {
    auto it = raw_.origin.find(std::string(flag));
    if (it != raw_.origin.end()) return OneLine(it->second);
    if (flag == "zk_sasl_password") return "the DIGEST-MD5 password from the configuration file";
    return "--" + std::string(flag);
  }
  // "<name>: <message>", one line.
  Status Error(std::string_view flag, const std::string& message) const {
    return Status::Error((*this)(flag) + ": " + OneLine(message));
  }
  // How to give the SASL settings: the configuration file's way (if any), then the flags.
  std::string SaslHint() const {
    std::string flags =
        "--zk_sasl_mechanism=GSSAPI with --zk_sasl_keytab (and --zk_sasl_principal), or "
        "--zk_sasl_mechanism=DIGEST-MD5 with --zk_sasl_user and --zk_sasl_password_file";
    return raw_.sasl_hint.empty() ? flags : raw_.sasl_hint + "; or " + flags;
  }

 private:
  const RawZkSecurity& raw_;
};

// Reads a file named by `flag`; errors name the flag (or its origin) and the path, never the
// content.
Result<std::string> ReadNamedFile(const Names& names, std::string_view flag,
                                  const std::string& path) {
  ReadFileDetails details;
  Result<std::string> read = ReadSmallFile(path, kMaxFileBytes, &details);
  if (read.ok()) {
    if (read->empty()) return names.Error(flag, path + " is empty");
    return read;
  }
  using Failure = ReadFileDetails::Failure;
  const char* why = std::strerror(details.error_number);
  switch (details.failure) {
    case Failure::kOpen:
      if (details.error_number == ENOENT) return names.Error(flag, path + " does not exist");
      return names.Error(flag, path + " cannot be opened: " + why);
    case Failure::kNotRegular:
      return names.Error(flag, path + " is not a regular file");
    case Failure::kTooLarge:
      return names.Error(flag, path + " is larger than " + std::to_string(kMaxFileBytes) + " bytes");
    default:
      return names.Error(flag, path + " cannot be read: " + why);
  }
}

std::string ToUpper(std::string s) {
  for (char& c : s) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  return s;
}

bool HasBlankOrControl(const std::string& s) {
  return std::any_of(s.begin(), s.end(), [](char c) {
    auto u = static_cast<unsigned char>(c);
    return u <= ' ' || u == 0x7f;
  });
}

// ---- files --------------------------------------------------------------------------------

Status CheckKeytab(const Names& names, const std::string& path) {
  Result<std::string> data = ReadNamedFile(names, "zk_sasl_keytab", path);
  if (!data.ok()) return data.status();
  // MIT keytab files start with 0x05 and the format version 0x01 or 0x02.
  if (data->size() < 2 || (*data)[0] != 0x05 || ((*data)[1] != 0x01 && (*data)[1] != 0x02)) {
    return names.Error("zk_sasl_keytab", path + " is not a Kerberos keytab (no keytab header)");
  }
  return Status::Ok();
}

Status CheckPasswordFile(const Names& names, const std::string& path) {
  Result<std::string> data = ReadNamedFile(names, "zk_sasl_password_file", path);
  if (!data.ok()) return data.status();
  std::string_view first(*data);
  first = first.substr(0, first.find('\n'));
  if (!first.empty() && first.back() == '\r') first.remove_suffix(1);
  if (first.empty()) return names.Error("zk_sasl_password_file", path + ": the first line is empty");
  return Status::Ok();
}

struct BioDeleter {
  void operator()(BIO* b) const { BIO_free(b); }
};
struct X509Deleter {
  void operator()(X509* x) const { X509_free(x); }
};
struct PkeyDeleter {
  void operator()(EVP_PKEY* k) const { EVP_PKEY_free(k); }
};
using BioPtr = std::unique_ptr<BIO, BioDeleter>;
using X509Ptr = std::unique_ptr<X509, X509Deleter>;
using PkeyPtr = std::unique_ptr<EVP_PKEY, PkeyDeleter>;

BioPtr MemoryBio(const std::string& data) {
  return BioPtr(BIO_new_mem_buf(data.data(), static_cast<int>(data.size())));
}

// The first certificate of a PEM text, or null.
X509Ptr FirstCertificate(const std::string& pem) {
  BioPtr bio = MemoryBio(pem);
  if (!bio) return nullptr;
  return X509Ptr(PEM_read_bio_X509(bio.get(), nullptr, nullptr, nullptr));
}

// Refuses to prompt: an encrypted key fails to load.
int NoPassphrase(char* /*buf*/, int /*size*/, int /*rwflag*/, void* /*u*/) { return -1; }

Status CheckTls(const Names& names, const ZkTlsOptions& tls) {
  for (auto [flag, path] : {std::pair{"zk_tls_ca", &tls.ca}, std::pair{"zk_tls_cert", &tls.cert},
                            std::pair{"zk_tls_key", &tls.key}}) {
    // zookeeper_init_ssl takes "ca,cert,key" and splits it at commas.
    if (path->find(',') != std::string::npos) {
      return names.Error(flag, *path + ": the ZooKeeper C client cannot use a path containing ','");
    }
  }
  Result<std::string> ca = ReadNamedFile(names, "zk_tls_ca", tls.ca);
  if (!ca.ok()) return ca.status();
  if (!FirstCertificate(*ca)) {
    return names.Error("zk_tls_ca", tls.ca + " holds no PEM certificate (-----BEGIN CERTIFICATE-----)");
  }
  Result<std::string> cert_pem = ReadNamedFile(names, "zk_tls_cert", tls.cert);
  if (!cert_pem.ok()) return cert_pem.status();
  X509Ptr cert = FirstCertificate(*cert_pem);
  if (!cert) {
    return names.Error("zk_tls_cert",
                       tls.cert + " holds no PEM certificate (-----BEGIN CERTIFICATE-----)");
  }
  Result<std::string> key_pem = ReadNamedFile(names, "zk_tls_key", tls.key);
  if (!key_pem.ok()) return key_pem.status();
  if (key_pem->find("ENCRYPTED") != std::string::npos) {
    return names.Error("zk_tls_key", tls.key + " is encrypted: latchd needs an unencrypted key "
                                               "(keep it readable by latchd only)");
  }
  BioPtr bio = MemoryBio(*key_pem);
  PkeyPtr key(bio ? PEM_read_bio_PrivateKey(bio.get(), nullptr, NoPassphrase, nullptr) : nullptr);
  if (!key) return names.Error("zk_tls_key", tls.key + " holds no PEM private key");
  if (X509_check_private_key(cert.get(), key.get()) != 1) {
    return names.Error("zk_tls_key",
                       tls.key + " is not the private key of the certificate " + tls.cert);
  }
  return Status::Ok();
}

// ---- SASL -----------------------------------------------------------------------------------

Result<ZkSaslOptions> ParseSasl(const Names& names, const RawZkSecurity& raw) {
  ZkSaslOptions sasl;
  const std::string mech = ToUpper(raw.sasl_mechanism);
  if (mech == "GSSAPI") {
    sasl.mechanism = SaslMechanism::kGssapi;
  } else if (mech == "DIGEST-MD5") {
    sasl.mechanism = SaslMechanism::kDigestMd5;
  } else if (!mech.empty()) {
    return names.Error("zk_sasl_mechanism",
                       "\"" + raw.sasl_mechanism + "\" is not GSSAPI or DIGEST-MD5");
  }
  sasl.service = raw.sasl_service;
  sasl.host = raw.sasl_host;
  sasl.user = raw.sasl_user;
  sasl.password_file = raw.sasl_password_file;
  sasl.password = raw.sasl_password_file.empty() ? raw.sasl_password_inline : "";
  sasl.keytab = raw.sasl_keytab;
  sasl.principal = raw.sasl_principal;

  struct Setting {
    const char* flag;
    const std::string* value;
    SaslMechanism only_for;  // kNone: both
  };
  const Setting settings[] = {
      {"zk_sasl_host", &raw.sasl_host, SaslMechanism::kNone},
      {"zk_sasl_user", &raw.sasl_user, SaslMechanism::kDigestMd5},
      {"zk_sasl_password_file", &raw.sasl_password_file, SaslMechanism::kDigestMd5},
      {"zk_sasl_password", &raw.sasl_password_inline, SaslMechanism::kDigestMd5},
      {"zk_sasl_keytab", &raw.sasl_keytab, SaslMechanism::kGssapi},
      {"zk_sasl_principal", &raw.sasl_principal, SaslMechanism::kGssapi},
  };
  for (const Setting& s : settings) {
    if (s.value->empty()) continue;
    if (!sasl.enabled()) {
      return names.Error(s.flag, "needs --zk_sasl_mechanism (" +
                                     std::string(s.only_for == SaslMechanism::kNone
                                                     ? "GSSAPI or DIGEST-MD5"
                                                     : SaslMechanismName(s.only_for)) + ")");
    }
    if (s.only_for != SaslMechanism::kNone && s.only_for != sasl.mechanism) {
      return names.Error(s.flag, std::string("is for --zk_sasl_mechanism=") +
                                     SaslMechanismName(s.only_for) + ", not " +
                                     SaslMechanismName(sasl.mechanism));
    }
  }
  if (!sasl.enabled() && !raw.sasl_service.empty() && raw.sasl_service != "zookeeper") {
    return names.Error("zk_sasl_service", "needs --zk_sasl_mechanism (GSSAPI or DIGEST-MD5)");
  }
  if (sasl.service.empty() || HasBlankOrControl(sasl.service) ||
      sasl.service.find_first_of("/@") != std::string::npos) {
    return names.Error("zk_sasl_service",
                       "\"" + sasl.service + "\" is not a service name like zookeeper");
  }
  if (HasBlankOrControl(sasl.host)) return names.Error("zk_sasl_host", "must not contain blanks");
  if (HasBlankOrControl(sasl.principal)) {
    return names.Error("zk_sasl_principal", "must not contain blanks");
  }
  if (HasBlankOrControl(sasl.user)) return names.Error("zk_sasl_user", "must not contain blanks");
  return sasl;
}

// The checks that need the mechanism's full settings (after a sasl: auth filled them in).
Status CheckSaslComplete(const Names& names, const ZkSaslOptions& sasl) {
  if (sasl.mechanism == SaslMechanism::kGssapi) {
    if (sasl.keytab.empty()) {
      return names.Error("zk_sasl_keytab", "is required with --zk_sasl_mechanism=GSSAPI (the "
                                           "client keytab latchd gets and renews its tickets with)");
    }
    return CheckKeytab(names, sasl.keytab);
  }
  if (sasl.mechanism == SaslMechanism::kDigestMd5) {
    if (sasl.user.empty()) {
      return names.Error("zk_sasl_user", "is required with --zk_sasl_mechanism=DIGEST-MD5");
    }
    if (!sasl.password_file.empty()) return CheckPasswordFile(names, sasl.password_file);
    if (sasl.password.empty()) {
      return names.Error("zk_sasl_password_file",
                         "is required with --zk_sasl_mechanism=DIGEST-MD5");
    }
  }
  return Status::Ok();
}

// ---- auth and ACL ---------------------------------------------------------------------------

// Checks the auth's scheme; a sasl: auth becomes part of `sasl` and is removed from *auth.
Status CheckAuth(const Names& names, std::optional<std::pair<std::string, std::string>>* auth,
                 const std::string& source, ZkClientFeatures features, ZkSaslOptions* sasl) {
  if (!auth->has_value()) return Status::Ok();
  const std::string scheme = (*auth)->first;
  const std::string& secret = (*auth)->second;
  auto error = [&](const std::string& what) { return Status::Error(OneLine(source + ": " + what)); };
  if (scheme == "digest") {
    size_t colon = secret.find(':');
    if (colon == std::string::npos || colon == 0) {
      return error("a digest auth must be digest:user:password");
    }
    return Status::Ok();
  }
  if (scheme == "sasl") {
    if (!features.sasl) {
      return error("a sasl: auth needs SASL, and this latchd's ZooKeeper C client is built "
                   "without it (Debian's libzookeeper-mt2; see scripts/build-zk-client.sh)");
    }
    if (!sasl->enabled()) {
      return error("sasl:" + secret + " needs the SASL settings: " + names.SaslHint());
    }
    // The id names who latchd is; fill in what the flags left open.
    if (sasl->mechanism == SaslMechanism::kGssapi && sasl->principal.empty()) {
      sasl->principal = secret;
    } else if (sasl->mechanism == SaslMechanism::kDigestMd5 && sasl->user.empty()) {
      sasl->user = secret;
    }
    auth->reset();
    return Status::Ok();
  }
  if (scheme == "x509") {
    return error("x509 ids come from the TLS client certificate (--zk_tls_cert), not from an auth");
  }
  if (scheme == "ip") {
    return error("ip ids come from the client's address, not from an auth");
  }
  return error("unknown scheme \"" + OneLine(scheme) + "\" (an auth is digest:user:password or "
               "sasl:<principal>)");
}

// Refuses an ACL none of whose entries can ever match this agent.
Status CheckAclCanMatch(const Names& names, const std::vector<ZkAclEntry>& acl,
                        const std::optional<std::pair<std::string, std::string>>& auth,
                        const ZkSecurityOptions& security) {
  if (acl.empty()) return Status::Ok();
  std::string digest_id;
  if (auth && auth->first == "digest") {
    Result<std::string> id = DigestIdFromCredentials(auth->second);
    if (id.ok()) digest_id = *id;
  }
  const bool sasl = security.sasl.enabled();
  const bool tls = security.tls.enabled();
  const bool authenticated = !digest_id.empty() || sasl || tls;
  bool has_auth_entry = false;
  for (const ZkAclEntry& e : acl) {
    if (e.scheme == "world" || e.scheme == "ip") return Status::Ok();
    if (e.scheme == "auth") {
      if (authenticated) return Status::Ok();
      has_auth_entry = true;
    } else if (e.scheme == "digest") {
      if (!digest_id.empty() && e.id == digest_id) return Status::Ok();
    } else if (e.scheme == "sasl") {
      if (sasl) return Status::Ok();
    } else if (e.scheme == "x509") {
      if (tls) return Status::Ok();
    }
  }
  if (has_auth_entry) {
    return names.Error("zk_acl", "auth: grants the creator's authenticated ids, and latchd has "
                                 "none: give --zk_auth_file (digest), SASL (--zk_sasl_mechanism) "
                                 "or a TLS client certificate (--zk_tls_cert)");
  }
  std::string me = digest_id.empty() ? "nothing" : "digest " + digest_id.substr(0, digest_id.find(':'));
  if (sasl) me = "SASL";
  if (tls) me = "a TLS certificate";
  std::vector<std::string> hints;
  for (const ZkAclEntry& e : acl) {
    if (e.scheme == "sasl" && !sasl) hints.push_back("sasl: entries need SASL (" + names.SaslHint() + ")");
    if (e.scheme == "x509" && !tls) hints.push_back("x509: entries need --zk_tls_cert");
    if (e.scheme == "digest") {
      hints.push_back(digest_id.empty()
                          ? "digest: entries need --zk_auth_file with digest:user:password"
                          : "digest: entries must equal `latchctl digest user:password` of the auth");
    }
  }
  std::sort(hints.begin(), hints.end());
  hints.erase(std::unique(hints.begin(), hints.end()), hints.end());
  std::string text = "no entry can ever match this agent (it authenticates with " + me +
                     "), so it could never write its own nodes";
  for (const std::string& h : hints) text += "; " + h;
  return names.Error("zk_acl", text);
}

}  // namespace

std::string ExpandHostInPrincipal(const std::string& principal, const std::string& host) {
  size_t pos = principal.find("_HOST");
  if (pos == std::string::npos) return principal;
  std::string lower = host;
  for (char& c : lower) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  std::string out = principal;
  out.replace(pos, 5, lower);
  return out;
}

std::string CanonicalHostName() {
  char name[256] = {};
  if (gethostname(name, sizeof name - 1) != 0) return "localhost";
  std::string out = name;
  addrinfo hints{};
  hints.ai_flags = AI_CANONNAME;
  addrinfo* res = nullptr;
  if (getaddrinfo(name, nullptr, &hints, &res) == 0 && res != nullptr) {
    if (res->ai_canonname != nullptr && res->ai_canonname[0] != '\0') out = res->ai_canonname;
    freeaddrinfo(res);
  }
  for (char& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

Result<ZkSecurityOptions> ValidateZkSecurity(const RawZkSecurity& raw,
                                             const std::vector<ZkAclEntry>& acl,
                                             std::optional<std::pair<std::string, std::string>>* auth,
                                             const std::string& auth_source,
                                             ZkClientFeatures features) {
  const Names names(raw);
  ZkSecurityOptions out;
  const bool any_sasl = !raw.sasl_mechanism.empty() || !raw.sasl_host.empty() ||
                        !raw.sasl_user.empty() || !raw.sasl_password_file.empty() ||
                        !raw.sasl_password_inline.empty() || !raw.sasl_keytab.empty() ||
                        !raw.sasl_principal.empty();
  const bool any_tls = !raw.tls_ca.empty() || !raw.tls_cert.empty() || !raw.tls_key.empty();
  if (any_sasl && !features.sasl) {
    return names.Error(!raw.sasl_mechanism.empty() ? "zk_sasl_mechanism"
                       : !raw.sasl_keytab.empty()  ? "zk_sasl_keytab"
                       : !raw.sasl_user.empty()    ? "zk_sasl_user"
                                                   : "zk_sasl_mechanism",
                       "this latchd's ZooKeeper C client is built without SASL (Debian's "
                       "libzookeeper-mt2; scripts/build-zk-client.sh builds one with it)");
  }
  if (any_tls && !features.tls) {
    return names.Error("zk_tls_ca", "this latchd's ZooKeeper C client is built without TLS "
                                    "(Debian's libzookeeper-mt2; scripts/build-zk-client.sh "
                                    "builds one with it)");
  }
  Result<ZkSaslOptions> sasl = ParseSasl(names, raw);
  if (!sasl.ok()) return sasl.status();
  out.sasl = *sasl;
  auto auth_origin = raw.origin.find("zk_auth");
  const std::string& source = auth_origin != raw.origin.end() ? auth_origin->second : auth_source;
  Status a = CheckAuth(names, auth, source, features, &out.sasl);
  if (!a.ok()) return a;
  if (out.sasl.principal.find("_HOST") != std::string::npos) {
    out.sasl.principal = ExpandHostInPrincipal(out.sasl.principal, CanonicalHostName());
  }
  Status complete = CheckSaslComplete(names, out.sasl);
  if (!complete.ok()) return complete;

  if (any_tls) {
    for (auto [flag, value] : {std::pair{"zk_tls_ca", &raw.tls_ca}, std::pair{"zk_tls_cert", &raw.tls_cert},
                               std::pair{"zk_tls_key", &raw.tls_key}}) {
      if (value->empty()) {
        return names.Error(flag, "is required with the other --zk_tls_* flags (--zk_tls_ca, "
                                 "--zk_tls_cert and --zk_tls_key go together)");
      }
    }
    out.tls = ZkTlsOptions{raw.tls_ca, raw.tls_cert, raw.tls_key};
    if (out.sasl.enabled()) {
      const std::string sasl_from = names("zk_sasl_mechanism");
      return names.Error("zk_tls_ca",
                         "TLS and SASL" +
                             (sasl_from == "--zk_sasl_mechanism" ? "" : " (" + sasl_from + ")") +
                             " cannot be combined: the ZooKeeper 3.8 C client has separate "
                             "entry points for them (no SASL over TLS); choose one");
    }
    Status t = CheckTls(names, out.tls);
    if (!t.ok()) return t;
  }
  Status m = CheckAclCanMatch(names, acl, *auth, out);
  if (!m.ok()) return m;
  return out;
}

}  // namespace latchd
