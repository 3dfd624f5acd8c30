#include "lib/api/zk_security_config.h"

#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>

#include "lib/api/agent_config.h"
#include "lib/zk/acl.h"
#include "tests/unit/temp_dir.h"

namespace latchd {
namespace {

using ::testing::AllOf;
using ::testing::HasSubstr;
using ::testing::Not;
using ::testing::StartsWith;

using Auth = std::optional<std::pair<std::string, std::string>>;
constexpr ZkClientFeatures kBoth{true, true};
constexpr ZkClientFeatures kNeither{false, false};

// A self-signed certificate and its key, PEM.
struct Pem {
  std::string cert;
  std::string key;
};

std::string BioText(BIO* bio) {
  char* data = nullptr;
  long n = BIO_get_mem_data(bio, &data);
  return std::string(data, static_cast<size_t>(n));
}

Pem MakeSelfSigned(const char* cn) {
  EVP_PKEY* key = EVP_EC_gen("P-256");
  X509* x = X509_new();
  X509_set_version(x, 2);
  ASN1_INTEGER_set(X509_get_serialNumber(x), 1);
  X509_gmtime_adj(X509_getm_notBefore(x), 0);
  X509_gmtime_adj(X509_getm_notAfter(x), 3600);
  X509_set_pubkey(x, key);
  X509_NAME* name = X509_get_subject_name(x);
  X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC, reinterpret_cast<const unsigned char*>(cn),
                             -1, -1, 0);
  X509_set_issuer_name(x, name);
  X509_sign(x, key, EVP_sha256());
  BIO* cert_bio = BIO_new(BIO_s_mem());
  BIO* key_bio = BIO_new(BIO_s_mem());
  PEM_write_bio_X509(cert_bio, x);
  PEM_write_bio_PrivateKey(key_bio, key, nullptr, nullptr, 0, nullptr, nullptr);
  Pem out{BioText(cert_bio), BioText(key_bio)};
  BIO_free(cert_bio);
  BIO_free(key_bio);
  X509_free(x);
  EVP_PKEY_free(key);
  return out;
}

class ZkSecurityConfigTest : public testing::TempDirTest {
 protected:
  void SetUp() override {
    TempDirTest::SetUp();
    keytab_ = Write("latchd.keytab", std::string("\x05\x02\x00\x00\x00\x30", 6) + "principal data");
    password_file_ = Write("password", "s3cret\n");
    Pem pem = MakeSelfSigned("latchd-client");
    ca_ = Write("ca.pem", pem.cert);
    cert_ = Write("client.pem", pem.cert);
    key_ = Write("client.key", pem.key);
  }

  // Validates with an ACL text and an auth ("scheme:secret" or empty).
  Result<ZkSecurityOptions> Validate(const RawZkSecurity& raw, const std::string& acl = "",
                                     const std::string& auth = "",
                                     ZkClientFeatures features = kBoth) {
    auto parsed_acl = ParseAclList(acl);
    EXPECT_TRUE(parsed_acl.ok()) << parsed_acl.status().message();
    auth_.reset();
    if (!auth.empty()) {
      auto a = ParseAuth(auth);
      EXPECT_TRUE(a.ok()) << auth;
      auth_ = *a;
    }
    return ValidateZkSecurity(raw, *parsed_acl, &auth_, "--zk_auth_file", features);
  }

  RawZkSecurity Gssapi() {
    RawZkSecurity raw;
    raw.sasl_mechanism = "GSSAPI";
    raw.sasl_keytab = keytab_;
    raw.sasl_principal = "atlas/h1.example.com@EXAMPLE.COM";
    return raw;
  }
  RawZkSecurity Digest() {
    RawZkSecurity raw;
    raw.sasl_mechanism = "DIGEST-MD5";
    raw.sasl_user = "latchd";
    raw.sasl_password_file = password_file_;
    return raw;
  }
  RawZkSecurity Tls() {
    RawZkSecurity raw;
    raw.tls_ca = ca_;
    raw.tls_cert = cert_;
    raw.tls_key = key_;
    return raw;
  }
  static std::string Error(const Result<ZkSecurityOptions>& r) {
    return r.ok() ? std::string("<ok>") : r.status().message();
  }

  std::string keytab_, password_file_, ca_, cert_, key_;
  Auth auth_;
};

TEST_F(ZkSecurityConfigTest, NothingConfiguredIsFine) {
  auto r = Validate(RawZkSecurity{});
  ASSERT_TRUE(r.ok()) << r.status().message();
  EXPECT_FALSE(r->sasl.enabled());
  EXPECT_FALSE(r->tls.enabled());
  EXPECT_EQ(DescribeZkSecurity(*r), "no SASL or TLS");
}

TEST_F(ZkSecurityConfigTest, GssapiWithKeytabAndPrincipal) {
  auto r = Validate(Gssapi(), "sasl:atlas");
  ASSERT_TRUE(r.ok()) << r.status().message();
  EXPECT_EQ(r->sasl.mechanism, SaslMechanism::kGssapi);
  EXPECT_EQ(r->sasl.principal, "atlas/h1.example.com@EXAMPLE.COM");
  EXPECT_EQ(r->sasl.service, "zookeeper");
  EXPECT_THAT(DescribeZkSecurity(*r), HasSubstr("GSSAPI as atlas/h1.example.com@EXAMPLE.COM"));
}

TEST_F(ZkSecurityConfigTest, MechanismNamesAreCaseInsensitiveAndChecked) {
  RawZkSecurity raw = Gssapi();
  raw.sasl_mechanism = "gssapi";
  EXPECT_TRUE(Validate(raw).ok());
  raw.sasl_mechanism = "KERBEROS";
  EXPECT_EQ(Error(Validate(raw)), "--zk_sasl_mechanism: \"KERBEROS\" is not GSSAPI or DIGEST-MD5");
}

TEST_F(ZkSecurityConfigTest, GssapiNeedsAReadableKeytab) {
  RawZkSecurity raw = Gssapi();
  raw.sasl_keytab.clear();
  EXPECT_THAT(Error(Validate(raw)), StartsWith("--zk_sasl_keytab: is required"));
  raw.sasl_keytab = dir_ + "/missing.keytab";
  EXPECT_EQ(Error(Validate(raw)), "--zk_sasl_keytab: " + dir_ + "/missing.keytab does not exist");
  raw.sasl_keytab = Write("text.keytab", "not a keytab");
  EXPECT_THAT(Error(Validate(raw)), HasSubstr("is not a Kerberos keytab"));
  raw.sasl_keytab = dir_;
  EXPECT_THAT(Error(Validate(raw)), HasSubstr("is not a regular file"));
}

TEST_F(ZkSecurityConfigTest, DigestNeedsUserAndPassword) {
  RawZkSecurity raw = Digest();
  auto ok = Validate(raw, "sasl:latchd");
  ASSERT_TRUE(ok.ok()) << ok.status().message();
  EXPECT_EQ(ok->sasl.user, "latchd");
  raw.sasl_user.clear();
  EXPECT_THAT(Error(Validate(raw)), StartsWith("--zk_sasl_user: is required"));
  raw = Digest();
  raw.sasl_password_file.clear();
  EXPECT_THAT(Error(Validate(raw)), StartsWith("--zk_sasl_password_file: is required"));
  raw.sasl_password_file = dir_ + "/nope";
  EXPECT_THAT(Error(Validate(raw)), StartsWith("--zk_sasl_password_file: " + dir_ + "/nope does not exist"));
  raw.sasl_password_file = Write("blank", "\nsecond line\n");
  EXPECT_THAT(Error(Validate(raw)), HasSubstr("the first line is empty"));
  // A password from a configuration file (Atlas's JAAS option) does instead of a file.
  raw.sasl_password_file.clear();
  raw.sasl_password_inline = "from-atlas";
  auto inline_ok = Validate(raw);
  ASSERT_TRUE(inline_ok.ok()) << inline_ok.status().message();
  EXPECT_EQ(inline_ok->sasl.password, "from-atlas");
  EXPECT_THAT(DescribeZkSecurity(*inline_ok), Not(HasSubstr("from-atlas")));
}

TEST_F(ZkSecurityConfigTest, SettingsOfTheOtherMechanismOrOfNoneAreRefused) {
  RawZkSecurity raw = Digest();
  raw.sasl_keytab = keytab_;
  EXPECT_EQ(Error(Validate(raw)),
            "--zk_sasl_keytab: is for --zk_sasl_mechanism=GSSAPI, not DIGEST-MD5");
  raw = Gssapi();
  raw.sasl_user = "latchd";
  EXPECT_EQ(Error(Validate(raw)), "--zk_sasl_user: is for --zk_sasl_mechanism=DIGEST-MD5, not GSSAPI");
  raw = RawZkSecurity{};
  raw.sasl_keytab = keytab_;
  EXPECT_EQ(Error(Validate(raw)), "--zk_sasl_keytab: needs --zk_sasl_mechanism (GSSAPI)");
  raw = RawZkSecurity{};
  raw.sasl_service = "zk";
  EXPECT_THAT(Error(Validate(raw)), StartsWith("--zk_sasl_service: needs --zk_sasl_mechanism"));
}

TEST_F(ZkSecurityConfigTest, ABuildWithoutSaslOrTlsRefusesThem) {
  EXPECT_THAT(Error(Validate(Gssapi(), "", "", kNeither)),
              StartsWith("--zk_sasl_mechanism: this latchd's ZooKeeper C client is built without SASL"));
  EXPECT_THAT(Error(Validate(Tls(), "", "", kNeither)),
              StartsWith("--zk_tls_ca: this latchd's ZooKeeper C client is built without TLS"));
  EXPECT_THAT(Error(Validate(RawZkSecurity{}, "", "sasl:atlas@EXAMPLE.COM", kNeither)),
              StartsWith("--zk_auth_file: a sasl: auth needs SASL, and this latchd's ZooKeeper C "
                         "client is built without it"));
}

TEST_F(ZkSecurityConfigTest, TlsNeedsAllThreeMatchingPemFiles) {
  auto ok = Validate(Tls(), "x509:CN=latchd-client");
  ASSERT_TRUE(ok.ok()) << ok.status().message();
  EXPECT_TRUE(ok->tls.enabled());

  RawZkSecurity raw = Tls();
  raw.tls_key.clear();
  EXPECT_THAT(Error(Validate(raw)), StartsWith("--zk_tls_key: is required with the other --zk_tls_*"));
  raw = Tls();
  raw.tls_cert = dir_ + "/missing.pem";
  EXPECT_EQ(Error(Validate(raw)), "--zk_tls_cert: " + dir_ + "/missing.pem does not exist");
  raw = Tls();
  raw.tls_ca = Write("not.pem", "hello");
  EXPECT_THAT(Error(Validate(raw)), StartsWith("--zk_tls_ca: " + raw.tls_ca + " holds no PEM certificate"));
  raw = Tls();
  raw.tls_key = Write("other.key", MakeSelfSigned("other").key);
  EXPECT_THAT(Error(Validate(raw)), HasSubstr("is not the private key of the certificate"));
  raw = Tls();
  raw.tls_key = Write("enc.key", "-----BEGIN ENCRYPTED PRIVATE KEY-----\nAAAA\n-----END ENCRYPTED PRIVATE KEY-----\n");
  EXPECT_THAT(Error(Validate(raw)), HasSubstr("is encrypted"));
  raw = Tls();
  raw.tls_ca = Write("a,b.pem", MakeSelfSigned("ca").cert);
  EXPECT_THAT(Error(Validate(raw)), HasSubstr("cannot use a path containing ','"));
}

TEST_F(ZkSecurityConfigTest, SaslOverTlsIsRefusedPlainly) {
  RawZkSecurity raw = Digest();
  RawZkSecurity tls = Tls();
  raw.tls_ca = tls.tls_ca;
  raw.tls_cert = tls.tls_cert;
  raw.tls_key = tls.tls_key;
  EXPECT_THAT(Error(Validate(raw)),
              StartsWith("--zk_tls_ca: TLS and SASL cannot be combined: the ZooKeeper 3.8 C client"));
}

// Issue 13: auth schemes that can never work.
TEST_F(ZkSecurityConfigTest, AuthSchemesOtherThanDigestAndSaslAreRefused) {
  EXPECT_EQ(Error(Validate(RawZkSecurity{}, "", "digets:atlas:secret")),
            "--zk_auth_file: unknown scheme \"digets\" (an auth is digest:user:password or "
            "sasl:<principal>)");
  EXPECT_THAT(Error(Validate(RawZkSecurity{}, "", "x509:CN=me")),
              HasSubstr("x509 ids come from the TLS client certificate"));
  EXPECT_THAT(Error(Validate(RawZkSecurity{}, "", "ip:10.0.0.1")),
              HasSubstr("ip ids come from the client's address"));
  EXPECT_EQ(Error(Validate(RawZkSecurity{}, "", "digest:atlas")),
            "--zk_auth_file: a digest auth must be digest:user:password");
  EXPECT_TRUE(Validate(RawZkSecurity{}, "", "digest:atlas:secret").ok());
}

TEST_F(ZkSecurityConfigTest, SaslAuthNeedsTheSaslSettingsAndBecomesThem) {
  EXPECT_THAT(Error(Validate(RawZkSecurity{}, "sasl:atlas@EXAMPLE.COM", "sasl:atlas@EXAMPLE.COM")),
              StartsWith("--zk_auth_file: sasl:atlas@EXAMPLE.COM needs the SASL settings: "
                         "--zk_sasl_mechanism=GSSAPI with --zk_sasl_keytab"));
  RawZkSecurity raw = Gssapi();
  raw.sasl_principal.clear();
  auto r = Validate(raw, "sasl:atlas@EXAMPLE.COM", "sasl:atlas@EXAMPLE.COM");
  ASSERT_TRUE(r.ok()) << r.status().message();
  EXPECT_EQ(r->sasl.principal, "atlas@EXAMPLE.COM");
  EXPECT_FALSE(auth_.has_value()) << "a sasl: auth is not sent with addauth";
  raw = Digest();
  raw.sasl_user.clear();
  r = Validate(raw, "sasl:latchd", "sasl:latchd");
  ASSERT_TRUE(r.ok()) << r.status().message();
  EXPECT_EQ(r->sasl.user, "latchd");
}

// Issue 13: ACLs no entry of which can match the agent.
TEST_F(ZkSecurityConfigTest, AclThatCanNeverMatchIsRefused) {
  EXPECT_THAT(Error(Validate(RawZkSecurity{}, "auth:")),
              StartsWith("--zk_acl: auth: grants the creator's authenticated ids, and latchd has none"));
  EXPECT_TRUE(Validate(RawZkSecurity{}, "auth:", "digest:atlas:secret").ok());
  EXPECT_TRUE(Validate(Gssapi(), "auth:").ok());
  EXPECT_TRUE(Validate(Tls(), "auth:").ok());

  EXPECT_THAT(Error(Validate(RawZkSecurity{}, "sasl:atlas@EXAMPLE.COM")),
              AllOf(StartsWith("--zk_acl: no entry can ever match this agent (it authenticates with "
                               "nothing)"),
                    HasSubstr("sasl: entries need SASL")));
  EXPECT_THAT(Error(Validate(RawZkSecurity{}, "x509:CN=latchd")), HasSubstr("x509: entries need --zk_tls_cert"));

  const std::string right = DigestId("atlas", "secret");
  const std::string wrong = DigestId("atlas", "other");
  EXPECT_TRUE(Validate(RawZkSecurity{}, "digest:" + right, "digest:atlas:secret").ok());
  EXPECT_THAT(Error(Validate(RawZkSecurity{}, "digest:" + wrong, "digest:atlas:secret")),
              AllOf(HasSubstr("it authenticates with digest atlas"),
                    HasSubstr("must equal `latchctl digest user:password` of the auth")));
  // One entry that can match is enough; world and ip always may.
  EXPECT_TRUE(Validate(RawZkSecurity{}, "sasl:atlas,digest:" + right, "digest:atlas:secret").ok());
  EXPECT_TRUE(Validate(RawZkSecurity{}, "sasl:atlas,world:anyone").ok());
  EXPECT_TRUE(Validate(RawZkSecurity{}, "sasl:atlas,ip:127.0.0.1").ok());
}

TEST_F(ZkSecurityConfigTest, ValidateFlagsRefusesAnAuthAclWithoutCredentials) {
  RawFlags f;
  f.id = "a1";
  f.zk_connect = "127.0.0.1:2181";
  f.zk_acl = "auth:";
  auto r = ValidateFlags(f);
  ASSERT_FALSE(r.ok());
  EXPECT_THAT(r.status().message(), StartsWith("--zk_acl: auth: grants"));
  f.zk_acl = "";
  f.zk_auth_file = Write("zk.auth", "digets:atlas:secret\n");
  r = ValidateFlags(f);
  ASSERT_FALSE(r.ok());
  EXPECT_THAT(r.status().message(), StartsWith("--zk_auth_file: unknown scheme \"digets\""));
  f.zk_auth_file.clear();
  f.zk_security = Digest();
  f.zk_acl = "sasl:latchd";
  r = ValidateFlags(f);
  ASSERT_TRUE(r.ok()) << r.status().message();
  EXPECT_EQ(r->zk_security.sasl.mechanism, SaslMechanism::kDigestMd5);
}

// Values from a configuration file (Atlas's JAAS keys) are named by their origin.
TEST_F(ZkSecurityConfigTest, MessagesNameTheOriginOfValuesNotGivenAsFlags) {
  RawZkSecurity raw = Gssapi();
  raw.sasl_keytab = dir_ + "/missing.keytab";
  raw.origin["zk_sasl_keytab"] = "atlas.jaas.Client.option.keyTab in a.properties";
  EXPECT_EQ(Error(Validate(raw)), "atlas.jaas.Client.option.keyTab in a.properties: " + dir_ +
                                      "/missing.keytab does not exist");
  raw.sasl_keytab = Write("text.keytab", "not a keytab");
  EXPECT_THAT(Error(Validate(raw)),
              StartsWith("atlas.jaas.Client.option.keyTab in a.properties: " + raw.sasl_keytab +
                         " is not a Kerberos keytab"));

  // The ACL's and the auth's origins.
  RawZkSecurity none;
  none.origin["zk_acl"] = "atlas.server.ha.zookeeper.acl in a.properties";
  none.origin["zk_auth"] = "atlas.server.ha.zookeeper.auth in a.properties";
  none.sasl_hint = "atlas.jaas.Client.* in a.properties";
  EXPECT_THAT(Error(Validate(none, "sasl:atlas@EXAMPLE.COM")),
              AllOf(StartsWith("atlas.server.ha.zookeeper.acl in a.properties: no entry can ever "
                               "match this agent"),
                    HasSubstr("sasl: entries need SASL (atlas.jaas.Client.* in a.properties; or "
                              "--zk_sasl_mechanism=GSSAPI")));
  EXPECT_THAT(Error(Validate(none, "", "sasl:atlas@EXAMPLE.COM")),
              StartsWith("atlas.server.ha.zookeeper.auth in a.properties: sasl:atlas@EXAMPLE.COM "
                         "needs the SASL settings: atlas.jaas.Client.* in a.properties; or "
                         "--zk_sasl_mechanism=GSSAPI with --zk_sasl_keytab"));
  EXPECT_EQ(Error(Validate(none, "", "digets:atlas:secret")),
            "atlas.server.ha.zookeeper.auth in a.properties: unknown scheme \"digets\" (an auth "
            "is digest:user:password or sasl:<principal>)");

  // SASL from the file and TLS flags: refused, saying where the SASL came from.
  RawZkSecurity both = Tls();
  both.sasl_mechanism = "GSSAPI";
  both.sasl_keytab = keytab_;
  both.origin["zk_sasl_mechanism"] = "atlas.jaas.Client.loginModuleName in a.properties";
  EXPECT_THAT(Error(Validate(both)),
              StartsWith("--zk_tls_ca: TLS and SASL (atlas.jaas.Client.loginModuleName in "
                         "a.properties) cannot be combined: the ZooKeeper 3.8 C client"));
}

TEST_F(ZkSecurityConfigTest, AnInlinePasswordIsForDigestMd5OnlyAndTheFileWins) {
  RawZkSecurity raw = Gssapi();
  raw.sasl_password_inline = "s3cret-inline";
  raw.origin["zk_sasl_password"] = "atlas.jaas.Client.option.password in a.properties";
  EXPECT_EQ(Error(Validate(raw)), "atlas.jaas.Client.option.password in a.properties: is for "
                                  "--zk_sasl_mechanism=DIGEST-MD5, not GSSAPI");
  raw = RawZkSecurity{};
  raw.sasl_password_inline = "s3cret-inline";
  EXPECT_EQ(Error(Validate(raw)), "the DIGEST-MD5 password from the configuration file: needs "
                                  "--zk_sasl_mechanism (DIGEST-MD5)");
  EXPECT_THAT(Error(Validate(raw, "", "", kNeither)), HasSubstr("built without SASL"));
  raw = Digest();  // with --zk_sasl_password_file
  raw.sasl_password_inline = "s3cret-inline";
  auto r = Validate(raw);
  ASSERT_TRUE(r.ok()) << r.status().message();
  EXPECT_EQ(r->sasl.password, "") << "--zk_sasl_password_file wins";
  EXPECT_EQ(r->sasl.password_file, password_file_);
}

TEST(ExpandHostInPrincipalTest, ReplacesHostWithTheLowerCaseName) {
  EXPECT_EQ(ExpandHostInPrincipal("atlas/_HOST@EXAMPLE.COM", "H1.Example.com"),
            "atlas/h1.example.com@EXAMPLE.COM");
  EXPECT_EQ(ExpandHostInPrincipal("atlas@EXAMPLE.COM", "h1"), "atlas@EXAMPLE.COM");
  EXPECT_FALSE(CanonicalHostName().empty());
}

}  // namespace
}  // namespace latchd
