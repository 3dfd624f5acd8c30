#include "lib/zk/zk_security.h"

namespace latchd {

const char* SaslMechanismName(SaslMechanism mechanism) {
  switch (mechanism) {
    case SaslMechanism::kGssapi: return "GSSAPI";
    case SaslMechanism::kDigestMd5: return "DIGEST-MD5";
    case SaslMechanism::kNone: break;
  }
  return "";
}

std::string DescribeZkSecurity(const ZkSecurityOptions& options) {
  const ZkSaslOptions& sasl = options.sasl;
  if (sasl.enabled()) {
    std::string out = std::string("SASL ") + SaslMechanismName(sasl.mechanism) + " as ";
    if (sasl.mechanism == SaslMechanism::kGssapi) {
      out += sasl.principal.empty() ? "the keytab's first principal" : sasl.principal;
      out += " (keytab " + sasl.keytab;
    } else {
      out += sasl.user + " (password " +
             (sasl.password_file.empty() ? "from the configuration file" : "file " + sasl.password_file);
    }
    out += ", service " + sasl.service;
    if (!sasl.host.empty()) out += ", server name " + sasl.host;
    return out + ")";
  }
  if (options.tls.enabled()) {
    return "TLS (certificate " + options.tls.cert + ", CA " + options.tls.ca + ")";
  }
  return "no SASL or TLS";
}

}  // namespace latchd
