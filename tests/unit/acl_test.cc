#include "lib/zk/acl.h"

#include <sys/stat.h>
#include <unistd.h>

#include <string>
#include <vector>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "tests/unit/temp_dir.h"

namespace latchd {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::Not;

// Obtained with ZooKeeper's own implementation on this machine:
//   java -cp /usr/share/java/zookeeper.jar:/usr/share/java/slf4j-nop.jar
//     org.apache.zookeeper.server.auth.DigestAuthenticationProvider super:secret
//   (one command line)
// printed "super:secret->super:lK75jTNcA+U9vtVEw5vB51mj/w4=" (and
// `printf %s super:secret | openssl sha1 -binary | base64` agrees).
constexpr const char* kSuperSecretDigestId = "super:lK75jTNcA+U9vtVEw5vB51mj/w4=";
// Same tool, argument "latchd:p:with:colons" (the password contains ':').
constexpr const char* kColonPasswordDigestId = "latchd:hoEygrv+o+wQA+XlhXae9YTmhB0=";
// Same tool, argument "atlas:atlas-password".
constexpr const char* kAtlasDigestId = "atlas:1Nv3swIo9GgH2mXPwu9xM7Jox18=";

ZkAclEntry Entry(std::string scheme, std::string id, int perms = kPermAll) {
  return ZkAclEntry{std::move(scheme), std::move(id), perms};
}

// ---------------------------------------------------------------------------
// ParseAclList

TEST(AclParseTest, EmptyTextGivesEmptyList) {
  auto r = ParseAclList("");
  ASSERT_TRUE(r.ok()) << r.status().message();
  EXPECT_TRUE(r->empty());
  auto blank = ParseAclList("  \t ");
  ASSERT_TRUE(blank.ok()) << blank.status().message();
  EXPECT_TRUE(blank->empty());
}

TEST(AclParseTest, AtlasExamples) {
  auto r = ParseAclList(std::string("digest:") + kAtlasDigestId);
  ASSERT_TRUE(r.ok()) << r.status().message();
  EXPECT_THAT(*r, ElementsAre(Entry("digest", kAtlasDigestId)));

  r = ParseAclList("ip:10.0.0.0/8");
  ASSERT_TRUE(r.ok()) << r.status().message();
  EXPECT_THAT(*r, ElementsAre(Entry("ip", "10.0.0.0/8")));

  r = ParseAclList("world:anyone");
  ASSERT_TRUE(r.ok()) << r.status().message();
  EXPECT_THAT(*r, ElementsAre(Entry("world", "anyone")));

  r = ParseAclList("sasl:atlas");
  ASSERT_TRUE(r.ok()) << r.status().message();
  EXPECT_THAT(*r, ElementsAre(Entry("sasl", "atlas")));
}

TEST(AclParseTest, ListSplitsAtFirstColonAndTrims) {
  auto r = ParseAclList(std::string(" digest:") + kSuperSecretDigestId +
                        " ,ip:192.168.1.7,  sasl:atlas/host@REALM , x509:CN=atlas,auth:\n");
  ASSERT_TRUE(r.ok()) << r.status().message();
  EXPECT_THAT(*r, ElementsAre(Entry("digest", kSuperSecretDigestId), Entry("ip", "192.168.1.7"),
                              Entry("sasl", "atlas/host@REALM"), Entry("x509", "CN=atlas"),
                              Entry("auth", "")));
  for (const ZkAclEntry& e : *r) EXPECT_EQ(e.perms, kPermAll);
}

TEST(AclParseTest, IpAddresses) {
  for (const char* good : {"ip:127.0.0.1", "ip:10.0.0.0/0", "ip:10.0.0.0/32", "ip:::1",
                           "ip:fe80::/10", "ip:2001:db8::1/128"}) {
    auto r = ParseAclList(good);
    EXPECT_TRUE(r.ok()) << good << ": " << r.status().message();
  }
  for (const char* bad : {"ip:10.0.0.0/33", "ip:10.0.0/8", "ip:300.1.1.1", "ip:host.example",
                          "ip:10.0.0.0/", "ip:10.0.0.0/x", "ip:::1/129", "ip:"}) {
    auto r = ParseAclList(bad);
    EXPECT_FALSE(r.ok()) << bad;
    EXPECT_THAT(r.status().message(), HasSubstr(std::string("\"") + bad + "\"")) << bad;
  }
}

TEST(AclParseTest, RejectsEntryWithoutColon) {
  auto r = ParseAclList("foo");
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().message(), "--zk_acl: entry \"foo\" is not scheme:id");
  r = ParseAclList("world:anyone, foo");
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().message(), "--zk_acl: entry \"foo\" is not scheme:id");
  r = ParseAclList(":anyone");
  EXPECT_FALSE(r.ok());
}

TEST(AclParseTest, RejectsBadEntries) {
  struct Case {
    const char* text;
    const char* names;
  };
  for (const Case& c : std::vector<Case>{
           {"kerberos:atlas", "\"kerberos\""},
           {"world:everyone", "\"world:everyone\""},
           {"digest:atlas", "\"digest:atlas\""},
           {"digest:atlas:secret", "\"digest:atlas:secret\""},
           {"digest::lK75jTNcA+U9vtVEw5vB51mj/w4=", "digest::"},
           {"digest:atlas:lK75jTNcA+U9vtVEw5vB51mj/w4", "\"digest:atlas:lK75"},
           {"digest:atlas:lK75jTNcA+U9vtVEw5vB51mj/w4==", "\"digest:atlas:lK75"},
           {"digest:atlas:lK75jTNcA+U9vtVEw5vB51mj/w*=", "\"digest:atlas:lK75"},
           {"sasl:", "\"sasl:\""},
           {"x509:", "\"x509:\""},
           {"world:anyone,,ip:1.2.3.4", "empty entry"},
           {"world:anyone,", "empty entry"},
       }) {
    auto r = ParseAclList(c.text);
    ASSERT_FALSE(r.ok()) << c.text;
    EXPECT_THAT(r.status().message(), HasSubstr(c.names)) << c.text;
    EXPECT_THAT(r.status().message(), HasSubstr("--zk_acl:")) << c.text;
    EXPECT_EQ(r.status().message().find('\n'), std::string::npos) << c.text;
  }
}

// ---------------------------------------------------------------------------
// AclForCreate

TEST(AclForCreateTest, EmptyIsOpen) {
  EXPECT_THAT(AclForCreate({}), ElementsAre(Entry("world", "anyone", kPermAll)));
}

TEST(AclForCreateTest, AddsWorldRead) {
  auto configured = ParseAclList(std::string("digest:") + kAtlasDigestId + ",ip:10.0.0.0/8");
  ASSERT_TRUE(configured.ok());
  EXPECT_THAT(AclForCreate(*configured),
              ElementsAre(Entry("digest", kAtlasDigestId, kPermAll),
                          Entry("ip", "10.0.0.0/8", kPermAll),
                          Entry("world", "anyone", kPermRead)));
}

TEST(AclForCreateTest, KeepsConfiguredWorldWithAllPerms) {
  std::vector<ZkAclEntry> configured = {Entry("sasl", "atlas", kPermRead),
                                        Entry("world", "anyone", kPermRead)};
  EXPECT_THAT(AclForCreate(configured),
              ElementsAre(Entry("sasl", "atlas", kPermAll), Entry("world", "anyone", kPermAll)));
}

// ---------------------------------------------------------------------------
// ParseAuth / ReadAuthFile

TEST(AuthParseTest, SplitsAtFirstColonAndTrims) {
  auto r = ParseAuth("digest:atlas:pa:ss\n");
  ASSERT_TRUE(r.ok()) << r.status().message();
  EXPECT_EQ(r->first, "digest");
  EXPECT_EQ(r->second, "atlas:pa:ss");
  r = ParseAuth("  digest:u:p \r\n");
  ASSERT_TRUE(r.ok()) << r.status().message();
  EXPECT_EQ(r->second, "u:p");
}

TEST(AuthParseTest, RejectsMalformedWithoutEchoingIt) {
  for (const char* bad : {"", "digest", "digest:", ":secretpw", "  \n"}) {
    auto r = ParseAuth(bad);
    ASSERT_FALSE(r.ok()) << bad;
    EXPECT_THAT(r.status().message(), Not(HasSubstr("secretpw")));
  }
  auto r = ParseAuth("digestsecretpw");
  ASSERT_FALSE(r.ok());
  EXPECT_THAT(r.status().message(), Not(HasSubstr("secretpw")));
}

class AuthFileTest : public testing::TempDirTest {};

TEST_F(AuthFileTest, ReadsOneLine) {
  auto r = ReadAuthFile(Write("auth", "digest:atlas:s3cret-pw\n"));
  ASSERT_TRUE(r.ok()) << r.status().message();
  EXPECT_EQ(r->first, "digest");
  EXPECT_EQ(r->second, "atlas:s3cret-pw");
  // No trailing newline, trailing blank lines.
  r = ReadAuthFile(Write("auth2", "digest:atlas:pw"));
  ASSERT_TRUE(r.ok()) << r.status().message();
  EXPECT_EQ(r->second, "atlas:pw");
  r = ReadAuthFile(Write("auth3", "digest:atlas:pw\n\n  \n"));
  ASSERT_TRUE(r.ok()) << r.status().message();
  EXPECT_EQ(r->second, "atlas:pw");
}

TEST_F(AuthFileTest, GroupReadableFileWarnsButWorks) {
  auto r = ReadAuthFile(Write("auth", "digest:atlas:pw\n", 0644));
  ASSERT_TRUE(r.ok()) << r.status().message();
  EXPECT_EQ(r->second, "atlas:pw");
}

TEST_F(AuthFileTest, MissingFile) {
  std::string path = dir_ + "/nope";
  auto r = ReadAuthFile(path);
  ASSERT_FALSE(r.ok());
  EXPECT_THAT(r.status().message(), HasSubstr(path));
  EXPECT_THAT(r.status().message(), HasSubstr("does not exist"));
}

TEST_F(AuthFileTest, UnreadableFile) {
  if (geteuid() == 0) GTEST_SKIP() << "root reads mode 000 files";
  std::string path = Write("auth", "digest:atlas:s3cret-pw\n", 0000);
  auto r = ReadAuthFile(path);
  ASSERT_FALSE(r.ok());
  EXPECT_THAT(r.status().message(), HasSubstr(path));
  EXPECT_THAT(r.status().message(), Not(HasSubstr("s3cret-pw")));
}

TEST_F(AuthFileTest, EmptyFile) {
  for (const char* content : {"", "\n", "  \n\n"}) {
    std::string path = Write("auth", content);
    auto r = ReadAuthFile(path);
    ASSERT_FALSE(r.ok());
    EXPECT_THAT(r.status().message(), HasSubstr(path));
    EXPECT_THAT(r.status().message(), HasSubstr("empty"));
  }
}

TEST_F(AuthFileTest, MalformedNeverShowsSecret) {
  for (const char* content : {"s3cret-pw\n", "digest:\n", ":s3cret-pw\n",
                              "digest:atlas:s3cret-pw\ndigest:other:s3cret-pw\n"}) {
    std::string path = Write("auth", content);
    auto r = ReadAuthFile(path);
    ASSERT_FALSE(r.ok()) << content;
    EXPECT_THAT(r.status().message(), HasSubstr(path));
    EXPECT_THAT(r.status().message(), HasSubstr("malformed"));
    EXPECT_THAT(r.status().message(), Not(HasSubstr("s3cret-pw")));
  }
}

TEST_F(AuthFileTest, DirectoryIsAnError) {
  auto r = ReadAuthFile(dir_);
  ASSERT_FALSE(r.ok());
  EXPECT_THAT(r.status().message(), HasSubstr(dir_));
}

TEST_F(AuthFileTest, ReadErrorMessages) {
  std::string missing = dir_ + "/nope";
  auto r = ReadAuthFile(missing);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().message(), "auth file \"" + missing + "\" does not exist");
  r = ReadAuthFile(dir_);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().message(), "auth file \"" + dir_ + "\" is not a regular file");
  std::string big = Write("big", "digest:atlas:" + std::string(64 * 1024, 'p'));
  r = ReadAuthFile(big);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().message(),
            "auth file \"" + big + "\" is malformed: larger than 65536 bytes");
}

// ---------------------------------------------------------------------------
// DigestId

TEST(DigestIdTest, MatchesZooKeeperJavaImplementation) {
  EXPECT_EQ(DigestId("super", "secret"), kSuperSecretDigestId);
  EXPECT_EQ(DigestId("atlas", "atlas-password"), kAtlasDigestId);
  EXPECT_EQ(DigestId("latchd", "p:with:colons"), kColonPasswordDigestId);
}

TEST(DigestIdTest, FromCredentials) {
  auto r = DigestIdFromCredentials("super:secret");
  ASSERT_TRUE(r.ok()) << r.status().message();
  EXPECT_EQ(*r, kSuperSecretDigestId);
  r = DigestIdFromCredentials("latchd:p:with:colons");
  ASSERT_TRUE(r.ok()) << r.status().message();
  EXPECT_EQ(*r, kColonPasswordDigestId);
}

TEST(DigestIdTest, FromCredentialsErrorsHideThePassword) {
  auto r = DigestIdFromCredentials("supersecretpw");
  ASSERT_FALSE(r.ok());
  EXPECT_THAT(r.status().message(), Not(HasSubstr("secretpw")));
  r = DigestIdFromCredentials(":secretpw");
  ASSERT_FALSE(r.ok());
  EXPECT_THAT(r.status().message(), Not(HasSubstr("secretpw")));
}

TEST(DigestIdTest, ResultParsesAsDigestAcl) {
  auto r = ParseAclList("digest:" + DigestId("u", "p"));
  EXPECT_TRUE(r.ok()) << r.status().message();
}

}  // namespace
}  // namespace latchd
