#include "lib/api/atlas_properties.h"

#include <unistd.h>

#include <algorithm>
#include <cstdlib>
#include <fstream>
#include <set>
#include <string>
#include <vector>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "lib/api/zk_security_config.h"
#include "lib/zk/zk_security.h"
#include "tests/unit/temp_dir.h"

namespace latchd {
namespace {

using ::testing::AllOf;
using ::testing::Contains;
using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::Not;
using ::testing::Pair;
using ::testing::StartsWith;
using ::testing::UnorderedElementsAre;

// An atlas-application.properties written after Atlas's HA documentation:
// two servers, ZooKeeper ensemble, ACL and plain HTTP, among the unrelated
// settings a real file carries.
constexpr const char* kAtlasFile = R"(#
# Licensed to the Apache Software Foundation (ASF) ... (header trimmed)
#

#########  Graph Database Configs  #########
atlas.graph.storage.backend=hbase2
atlas.graph.storage.hbase.table=apache_atlas_janus
atlas.graph.storage.hostname=zk1.example.com,zk2.example.com,zk3.example.com
atlas.graph.index.search.backend=solr

#########  Notification Configs  #########
atlas.notification.embedded=false
atlas.kafka.zookeeper.connect=zk1.example.com:2181,zk2.example.com:2181,zk3.example.com:2181
atlas.kafka.bootstrap.servers=kafka1.example.com:9092

#########  Server Properties  #########
atlas.rest.address=http://atlas1.example.com:21000,http://atlas2.example.com:21000
atlas.enableTLS=false
atlas.server.http.port=21000

#########  High Availability Configuration  ########
atlas.server.ha.enabled=true
#### Enabled the configs below as per need if HA is enabled #####
atlas.server.ids=id1,id2
atlas.server.address.id1=10.255.255.1:21000
atlas.server.address.id2=127.0.0.1:21000
atlas.server.ha.zookeeper.connect=zk1.example.com:2181,\
                                  zk2.example.com:2181,\
                                  zk3.example.com:2181
atlas.server.ha.zookeeper.retry.sleeptime.ms=1000
atlas.server.ha.zookeeper.num.retries=3
atlas.server.ha.zookeeper.session.timeout.ms=20000
## if ACLs need to be set on the created nodes, uncomment these lines and set the values ##
atlas.server.ha.zookeeper.acl=digest:atlas:1Nv3swIo9GgH2mXPwu9xM7Jox18=
#atlas.server.ha.zookeeper.auth=digest:atlas:atlas-password

atlas.client.ha.retries=4
atlas.client.ha.sleep.interval.ms=5000
)";

std::map<std::string, std::string> Parse(const std::string& text) {
  auto r = ParseProperties(text);
  EXPECT_TRUE(r.ok()) << r.status().message();
  return r.ok() ? *r : std::map<std::string, std::string>{};
}

std::string ParseError(const std::string& text) {
  auto r = ParseProperties(text);
  EXPECT_FALSE(r.ok()) << "parsed: " << text;
  return r.status().message();
}

AtlasHaSettings Settings(const std::string& text) {
  auto r = ReadAtlasHaSettings(Parse(text));
  EXPECT_TRUE(r.ok()) << r.status().message();
  return r.ok() ? *r : AtlasHaSettings{};
}

// The error of ReadAtlasHaSettings for a file; it must be one line.
std::string SettingsError(const std::string& text) {
  auto r = ReadAtlasHaSettings(Parse(text));
  EXPECT_FALSE(r.ok()) << "accepted: " << text;
  EXPECT_EQ(r.status().message().find('\n'), std::string::npos) << r.status().message();
  return r.status().message();
}

// A minimal valid HA file plus `extra` lines (later lines win).
std::string HaFile(const std::string& extra = "") {
  return "atlas.server.ha.enabled=true\n"
         "atlas.server.ids=id1,id2\n"
         "atlas.server.address.id1=10.255.255.1:21000\n"
         "atlas.server.address.id2=127.0.0.1:21000\n"
         "atlas.server.ha.zookeeper.connect=zk1:2181\n"
         "atlas.enableTLS=false\n" +
         extra;
}

// ---------------------------------------------------------------------------
// ParseProperties

TEST(ParsePropertiesTest, SeparatorsAndBlanks) {
  EXPECT_THAT(Parse("a=1\nb: 2\nc 3\nd = 4\n  e\t:\t5\nf:=6\ng==7\nh\n"),
              ElementsAre(Pair("a", "1"), Pair("b", "2"), Pair("c", "3"), Pair("d", "4"),
                          Pair("e", "5"), Pair("f", "=6"), Pair("g", "=7"), Pair("h", "")));
}

TEST(ParsePropertiesTest, CommentsAndBlankLines) {
  EXPECT_THAT(Parse("# comment\n! also a comment\n   # indented comment\n\n \t \nk=v # not a comment\n"),
              ElementsAre(Pair("k", "v # not a comment")));
}

TEST(ParsePropertiesTest, ValueKeepsTrailingBlanksKeyDoesNot) {
  EXPECT_THAT(Parse("k = v  \n"), ElementsAre(Pair("k", "v  ")));
}

TEST(ParsePropertiesTest, LineEndings) {
  EXPECT_THAT(Parse("a=1\r\nb=2\rc=3\nd=4"),
              ElementsAre(Pair("a", "1"), Pair("b", "2"), Pair("c", "3"), Pair("d", "4")));
}

TEST(ParsePropertiesTest, Continuation) {
  EXPECT_THAT(Parse("list=a,\\\n    b,\\\r\n\tc\nnext=1\n"),
              ElementsAre(Pair("list", "a,b,c"), Pair("next", "1")));
  // An even number of backslashes is escaped backslashes, not a continuation.
  EXPECT_THAT(Parse("path=c:\\\\\\\\\nnext=1\n"),
              ElementsAre(Pair("next", "1"), Pair("path", "c:\\\\")));
  // A continued line starting with '#' is part of the value.
  EXPECT_THAT(Parse("k=a\\\n  #b\n"), ElementsAre(Pair("k", "a#b")));
  // A blank line ends the continuation.
  EXPECT_THAT(Parse("k=a\\\n   \nm=b\n"), ElementsAre(Pair("k", "a"), Pair("m", "b")));
  // A comment never continues.
  EXPECT_THAT(Parse("# comment \\\nk=v\n"), ElementsAre(Pair("k", "v")));
  // A continuation at the end of the text just ends.
  EXPECT_THAT(Parse("k=v\\"), ElementsAre(Pair("k", "v")));
}

TEST(ParsePropertiesTest, Escapes) {
  EXPECT_THAT(Parse("my\\ key=v\na\\=b=c\nc\\:d:e\nt=1\\t2\\n3\\r4\\f5\nq=\\q\\\\\n"),
              ElementsAre(Pair("a=b", "c"), Pair("c:d", "e"), Pair("my key", "v"),
                          Pair("q", "q\\"), Pair("t", "1\t2\n3\r4\f5")));
}

TEST(ParsePropertiesTest, UnicodeEscapes) {
  EXPECT_THAT(Parse("k=caf\\u00e9 \\u20AC \\uD83D\\uDE00\n\\u0041=x\n"),
              ElementsAre(Pair("A", "x"), Pair("k", "caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80")));
}

TEST(ParsePropertiesTest, MalformedUnicodeEscapesNameTheLine) {
  EXPECT_THAT(ParseError("a=1\nb=\\u12G4\n"), HasSubstr("line 2: malformed \\uXXXX escape"));
  EXPECT_THAT(ParseError("b=\\u12"), HasSubstr("line 1: malformed"));
  EXPECT_THAT(ParseError("a=1\n\nb=\\uD83D\n"), HasSubstr("line 3: \\uD83D is a high surrogate"));
  EXPECT_THAT(ParseError("b=\\uDE00"), HasSubstr("low surrogate"));
  // A continued line reports where the logical line started.
  EXPECT_THAT(ParseError("x=1\nb=a\\\n  \\uZZZZ\n"), HasSubstr("line 2:"));
}

TEST(ParsePropertiesTest, RepeatedKeyLastWins) {
  EXPECT_THAT(Parse("k=1\nk=2\n"), ElementsAre(Pair("k", "2")));
}

TEST(ParsePropertiesTest, EmptyText) {
  EXPECT_TRUE(Parse("").empty());
  EXPECT_TRUE(Parse("\n\n# only comments\n").empty());
}

TEST(ParsePropertiesTest, RealisticAtlasFile) {
  auto props = Parse(kAtlasFile);
  EXPECT_EQ(props["atlas.server.ids"], "id1,id2");
  EXPECT_EQ(props["atlas.server.ha.zookeeper.connect"],
            "zk1.example.com:2181,zk2.example.com:2181,zk3.example.com:2181");
  EXPECT_EQ(props.count("atlas.server.ha.zookeeper.auth"), 0u);
  EXPECT_EQ(props["atlas.client.ha.retries"], "4");
}

// ---------------------------------------------------------------------------
// ReadAtlasHaSettings

TEST(ReadAtlasHaSettingsTest, RealisticFile) {
  AtlasHaSettings s = Settings(kAtlasFile);
  EXPECT_TRUE(s.enabled);
  EXPECT_THAT(s.server_ids, ElementsAre("id1", "id2"));
  EXPECT_THAT(s.server_addresses,
              ElementsAre(Pair("id1", "10.255.255.1:21000"), Pair("id2", "127.0.0.1:21000")));
  EXPECT_EQ(s.zk_connect, "zk1.example.com:2181,zk2.example.com:2181,zk3.example.com:2181");
  EXPECT_FALSE(s.zk_connect_from_kafka);
  EXPECT_EQ(s.zk_root, "/apache_atlas");
  EXPECT_EQ(s.zk_session_timeout_ms, 20000);
  EXPECT_EQ(s.zk_num_retries, 3);
  EXPECT_EQ(s.zk_retry_sleep_ms, 1000);
  EXPECT_EQ(s.zk_acl, "digest:atlas:1Nv3swIo9GgH2mXPwu9xM7Jox18=");
  EXPECT_EQ(s.zk_auth, "");
  EXPECT_FALSE(s.tls);
  EXPECT_EQ(s.scheme(), "http");
  EXPECT_EQ(s.app_port, 21000);
}

TEST(ReadAtlasHaSettingsTest, DefaultsWithoutHa) {
  AtlasHaSettings s = Settings("atlas.graph.storage.backend=hbase2\n");
  EXPECT_FALSE(s.enabled);
  EXPECT_TRUE(s.server_ids.empty());
  EXPECT_EQ(s.zk_connect, "");
  EXPECT_EQ(s.zk_root, "/apache_atlas");
  EXPECT_EQ(s.zk_session_timeout_ms, 20000);
  EXPECT_EQ(s.zk_num_retries, 3);
  EXPECT_EQ(s.zk_retry_sleep_ms, 1000);
  // atlas.enableTLS unset: Atlas listens on the https port (21443) and so uses TLS.
  EXPECT_TRUE(s.tls);
  EXPECT_EQ(s.app_port, 21443);
}

TEST(ReadAtlasHaSettingsTest, ValuesAreTrimmedAndCaseInsensitiveBooleans) {
  AtlasHaSettings s = Settings(HaFile(
      "atlas.server.ha.enabled = TRUE  \n"
      "atlas.server.ids = id1 , id2 \n"
      "atlas.server.ha.zookeeper.zkroot=/atlas/prod  \n"
      "atlas.server.ha.zookeeper.session.timeout.ms=+30000\n"));
  EXPECT_TRUE(s.enabled);
  EXPECT_THAT(s.server_ids, ElementsAre("id1", "id2"));
  EXPECT_EQ(s.zk_root, "/atlas/prod");
  EXPECT_EQ(s.zk_session_timeout_ms, 30000);
}

TEST(ReadAtlasHaSettingsTest, TlsAndPortFollowAtlas) {
  AtlasHaSettings https = Settings(HaFile("atlas.enableTLS=true\natlas.server.https.port=31443\n"));
  EXPECT_TRUE(https.tls);
  EXPECT_EQ(https.scheme(), "https");
  EXPECT_EQ(https.app_port, 31443);
  AtlasHaSettings http = Settings(HaFile("atlas.enableTLS=False\natlas.server.http.port=31000\n"));
  EXPECT_FALSE(http.tls);
  EXPECT_EQ(http.app_port, 31000);
  // Atlas picks the port by comparing with exactly "true", TLS case-insensitively.
  AtlasHaSettings upper = Settings(HaFile("atlas.enableTLS=TRUE\n"));
  EXPECT_TRUE(upper.tls);
  EXPECT_EQ(upper.app_port, 21000);
  // Unset: the https port, TLS when it ends in 443.
  AtlasHaSettings unset = Settings(
      "atlas.server.https.port=21500\natlas.server.ha.zookeeper.connect=zk:2181\n");
  EXPECT_FALSE(unset.tls);
  EXPECT_EQ(unset.app_port, 21500);
}

TEST(ReadAtlasHaSettingsTest, ConnectFallsBackToKafkas) {
  AtlasHaSettings s = Settings(
      "atlas.server.ha.enabled=true\natlas.server.ids=a\natlas.server.address.a=h:1\n"
      "atlas.kafka.zookeeper.connect=zk1:2181,zk2:2181\n");
  EXPECT_EQ(s.zk_connect, "zk1:2181,zk2:2181");
  EXPECT_TRUE(s.zk_connect_from_kafka);
}

TEST(ReadAtlasHaSettingsTest, AcceptsIpv6AndNames) {
  AtlasHaSettings s = Settings(HaFile("atlas.server.address.id1=[::1]:21000\n"
                                      "atlas.server.address.id2=atlas2.example.com:21000\n"));
  EXPECT_EQ(s.server_addresses["id1"], "[::1]:21000");
  EXPECT_EQ(s.server_addresses["id2"], "atlas2.example.com:21000");
}

TEST(ReadAtlasHaSettingsTest, BooleanErrors) {
  EXPECT_EQ(SettingsError(HaFile("atlas.server.ha.enabled=yes\n")),
            "atlas.server.ha.enabled: \"yes\" is not true or false");
  EXPECT_EQ(SettingsError(HaFile("atlas.enableTLS=1\n")), "atlas.enableTLS: \"1\" is not true or false");
}

TEST(ReadAtlasHaSettingsTest, IdErrors) {
  EXPECT_EQ(SettingsError(HaFile("atlas.server.ids=\n")),
            "atlas.server.ids: is not set or empty, but atlas.server.ha.enabled is true");
  EXPECT_EQ(SettingsError("atlas.server.ha.enabled=true\natlas.server.ha.zookeeper.connect=z:1\n"),
            "atlas.server.ids: is not set or empty, but atlas.server.ha.enabled is true");
  EXPECT_EQ(SettingsError(HaFile("atlas.server.ids=id1,,id2\n")),
            "atlas.server.ids: \"id1,,id2\" has an empty id");
  EXPECT_EQ(SettingsError(HaFile("atlas.server.ids=id1,\n")),
            "atlas.server.ids: \"id1,\" has an empty id");
  EXPECT_EQ(SettingsError(HaFile("atlas.server.ids=id1, id2,id1\n")),
            "atlas.server.ids: \"id1, id2,id1\" lists \"id1\" twice");
  // Checked even with HA disabled.
  EXPECT_THAT(SettingsError("atlas.server.ids=a,a\n"), HasSubstr("twice"));
}

TEST(ReadAtlasHaSettingsTest, AddressErrors) {
  EXPECT_EQ(SettingsError(HaFile("atlas.server.ids=id1,id2,id3\n")),
            "atlas.server.address.id3: is not set, but atlas.server.ids lists \"id3\"");
  for (const char* bad : {"atlas1", "atlas1:", ":21000", "atlas1:0", "atlas1:65536", "atlas1:21x",
                          "::1:21000", "[::1:21000", "http://atlas1:21000", "a b:21000"}) {
    EXPECT_EQ(SettingsError(HaFile(std::string("atlas.server.address.id1=") + bad + "\n")),
              std::string("atlas.server.address.id1: \"") + bad +
                  "\" is not host:port (an IPv6 address as [addr]:port)");
  }
  // Without HA a missing address is fine, a bad one is not.
  EXPECT_TRUE(ReadAtlasHaSettings(Parse("atlas.server.ids=a\n")).ok());
  EXPECT_THAT(SettingsError("atlas.server.ids=a\natlas.server.address.a=nope\n"),
              HasSubstr("atlas.server.address.a: \"nope\""));
}

TEST(ReadAtlasHaSettingsTest, ZooKeeperErrors) {
  EXPECT_EQ(SettingsError("atlas.server.ha.enabled=true\natlas.server.ids=a\n"
                          "atlas.server.address.a=h:1\n"),
            "atlas.server.ha.zookeeper.connect: is not set (nor is atlas.kafka.zookeeper.connect), "
            "but atlas.server.ha.enabled is true");
  EXPECT_THAT(SettingsError(HaFile("atlas.server.ha.zookeeper.connect=\n")), HasSubstr("is empty"));
  EXPECT_EQ(SettingsError(HaFile("atlas.server.ha.zookeeper.connect=zk1\n")),
            "atlas.server.ha.zookeeper.connect: \"zk1\" is not host:port[,host:port...][/chroot]");
  EXPECT_THAT(SettingsError("atlas.kafka.zookeeper.connect=zk1:2181,\n"),
              HasSubstr("atlas.kafka.zookeeper.connect: \"zk1:2181,\" is not host:port"));
  for (const char* bad : {"apache_atlas", "/", "/a/", "/a//b", "/a/../b"}) {
    EXPECT_THAT(SettingsError(HaFile(std::string("atlas.server.ha.zookeeper.zkroot=") + bad + "\n")),
                HasSubstr(std::string("atlas.server.ha.zookeeper.zkroot: \"") + bad +
                          "\" is not an absolute znode path"));
  }
}

TEST(ReadAtlasHaSettingsTest, IntegerErrors) {
  EXPECT_EQ(SettingsError(HaFile("atlas.server.ha.zookeeper.session.timeout.ms=20s\n")),
            "atlas.server.ha.zookeeper.session.timeout.ms: \"20s\" is not an integer");
  EXPECT_EQ(SettingsError(HaFile("atlas.server.ha.zookeeper.session.timeout.ms=0\n")),
            "atlas.server.ha.zookeeper.session.timeout.ms: \"0\" is out of range 1..2147483647");
  EXPECT_EQ(SettingsError(HaFile("atlas.server.ha.zookeeper.num.retries=-1\n")),
            "atlas.server.ha.zookeeper.num.retries: \"-1\" is out of range 0..2147483647");
  EXPECT_EQ(SettingsError(HaFile("atlas.server.ha.zookeeper.retry.sleeptime.ms=99999999999\n")),
            "atlas.server.ha.zookeeper.retry.sleeptime.ms: \"99999999999\" is not an integer");
  EXPECT_EQ(SettingsError(HaFile("atlas.server.http.port=70000\n")),
            "atlas.server.http.port: \"70000\" is out of range 1..65535");
  EXPECT_EQ(SettingsError(HaFile("atlas.server.https.port=\n")),
            "atlas.server.https.port: \"\" is not an integer");
}

TEST(ReadAtlasHaSettingsTest, AuthErrorsNeverShowTheSecret) {
  std::string m = SettingsError(HaFile("atlas.server.ha.zookeeper.auth=supersecretvalue\n"));
  EXPECT_THAT(m, HasSubstr("atlas.server.ha.zookeeper.auth: is not scheme:auth"));
  EXPECT_THAT(m, Not(HasSubstr("supersecret")));
  m = SettingsError(HaFile("atlas.server.ha.zookeeper.auth=digest:${secret.password}\n"));
  EXPECT_THAT(m, HasSubstr("interpolation"));
  EXPECT_THAT(m, Not(HasSubstr("secret.password")));
  EXPECT_EQ(Settings(HaFile("atlas.server.ha.zookeeper.auth= digest:atlas:pw \n")).zk_auth,
            "digest:atlas:pw");
}

TEST(ReadAtlasHaSettingsTest, InterpolationIsRefused) {
  EXPECT_EQ(SettingsError(HaFile("atlas.server.address.id1=${atlas.host}:21000\n")),
            "atlas.server.address.id1: \"${atlas.host}:21000\" uses ${...} interpolation, which "
            "latchd does not expand: write the value itself");
  // Keys latchd does not read may use it.
  EXPECT_TRUE(ReadAtlasHaSettings(Parse(HaFile("atlas.home=${sys:atlas.home}\n"))).ok());
}

TEST(ReadAtlasHaSettingsTest, ErrorsStayOnOneLine) {
  std::string m = SettingsError(HaFile("atlas.server.ha.enabled=tr\\nue\n"));
  EXPECT_EQ(m, "atlas.server.ha.enabled: \"tr\\x0aue\" is not true or false");
  m = SettingsError(HaFile("atlas.server.ids=a,\\u0000\n"));
  EXPECT_THAT(m, HasSubstr("has an empty id"));
  // Ids end up in key names: those are escaped too.
  m = SettingsError(HaFile("atlas.server.ids=id1,a\\rb\n"));
  EXPECT_EQ(m, "atlas.server.address.a\\x0db: is not set, but atlas.server.ids lists \"a\\x0db\"");
  // Long values are cut.
  m = SettingsError(HaFile("atlas.server.address.id1=" + std::string(500, 'h') + "\n"));
  EXPECT_LT(m.size(), 300u);
}

// ---------------------------------------------------------------------------
// LocalAddresses and PickAtlasServerId

TEST(LocalAddressesTest, IncludesLoopback) {
  std::vector<std::string> local = LocalAddresses();
  EXPECT_THAT(local, Contains("127.0.0.1"));
  std::set<std::string> unique(local.begin(), local.end());
  EXPECT_EQ(unique.size(), local.size());
  for (const auto& a : local) EXPECT_EQ(a.find('%'), std::string::npos) << a;
}

TEST(PickAtlasServerIdTest, FirstLocalIdWithThePort) {
  AtlasHaSettings s = Settings(kAtlasFile);
  auto id = PickAtlasServerId(s, {"192.0.2.7", "127.0.0.1"}, 21000);
  ASSERT_TRUE(id.ok()) << id.status().message();
  EXPECT_EQ(*id, "id2");
  // Both local: the first in atlas.server.ids order.
  id = PickAtlasServerId(s, {"127.0.0.1", "10.255.255.1"}, 21000);
  ASSERT_TRUE(id.ok()) << id.status().message();
  EXPECT_EQ(*id, "id1");
}

TEST(PickAtlasServerIdTest, PortMustMatchUnlessZero) {
  AtlasHaSettings s = Settings(HaFile("atlas.server.address.id2=127.0.0.1:31000\n"));
  auto id = PickAtlasServerId(s, {"127.0.0.1"}, 21000);
  ASSERT_FALSE(id.ok());
  EXPECT_THAT(id.status().message(), HasSubstr("with port 21000"));
  EXPECT_THAT(id.status().message(), HasSubstr("\"id2\" at \"127.0.0.1:31000\": port is not 21000"));
  id = PickAtlasServerId(s, {"127.0.0.1"}, 0);
  ASSERT_TRUE(id.ok()) << id.status().message();
  EXPECT_EQ(*id, "id2");
}

TEST(PickAtlasServerIdTest, NamesAndIpv6) {
  AtlasHaSettings s = Settings(HaFile("atlas.server.address.id2=localhost:21000\n"));
  auto id = PickAtlasServerId(s, {"127.0.0.1"}, 21000);
  ASSERT_TRUE(id.ok()) << id.status().message();
  EXPECT_EQ(*id, "id2");

  AtlasHaSettings v6 = Settings(HaFile("atlas.server.address.id2=[::1]:21000\n"));
  id = PickAtlasServerId(v6, {"::1"}, 21000);
  ASSERT_TRUE(id.ok()) << id.status().message();
  EXPECT_EQ(*id, "id2");
  // Local addresses compare by value: scope suffixes and v4-mapped forms.
  id = PickAtlasServerId(s, {"fe80::1%eth0", "::ffff:127.0.0.1"}, 21000);
  ASSERT_TRUE(id.ok()) << id.status().message();
  EXPECT_EQ(*id, "id2");
}

TEST(PickAtlasServerIdTest, NoMatchExplainsEachId) {
  AtlasHaSettings s = Settings(HaFile("atlas.server.address.id2=no-such-host.invalid:21000\n"));
  auto id = PickAtlasServerId(s, {"127.0.0.1"}, 21000);
  ASSERT_FALSE(id.ok());
  const std::string m = id.status().message();
  EXPECT_THAT(m, HasSubstr("no id in atlas.server.ids has an address on this host with port 21000 "
                           "(local addresses: 127.0.0.1)"));
  EXPECT_THAT(m, HasSubstr("\"id1\" at \"10.255.255.1:21000\": 10.255.255.1 not on this host"));
  EXPECT_THAT(m, HasSubstr("\"id2\" at \"no-such-host.invalid:21000\": cannot resolve"));
  EXPECT_EQ(m.find('\n'), std::string::npos);
}

TEST(PickAtlasServerIdTest, HaDisabled) {
  AtlasHaSettings s = Settings(HaFile("atlas.server.ha.enabled=false\n"));
  auto id = PickAtlasServerId(s, {"127.0.0.1"}, 21000);
  ASSERT_FALSE(id.ok());
  EXPECT_THAT(id.status().message(), HasSubstr("atlas.server.ha.enabled is not true"));
}

TEST(PickAtlasServerIdTest, WithTheRealLocalAddresses) {
  AtlasHaSettings s = Settings(kAtlasFile);
  auto id = PickAtlasServerId(s, LocalAddresses(), s.app_port);
  ASSERT_TRUE(id.ok()) << id.status().message();
  EXPECT_EQ(*id, "id2");
}

// ---------------------------------------------------------------------------
// ApplyAtlasSettings / ApplyAtlasProperties

FlagIsExplicit Explicit(std::set<std::string> names) {
  return [names](const std::string& flag) { return names.count(flag) > 0; };
}

TEST(ApplyAtlasSettingsTest, FillsTheFlagsFromTheFile) {
  RawFlags flags;
  std::vector<std::string> notes;
  Status s = ApplyAtlasSettings(Settings(kAtlasFile), "atlas.properties", {"127.0.0.1"},
                                Explicit({}), &flags, &notes);
  ASSERT_TRUE(s.ok()) << s.message();
  EXPECT_EQ(flags.id, "id2");
  EXPECT_EQ(flags.advertise, "http://127.0.0.1:21000");
  EXPECT_EQ(flags.zk_connect, "zk1.example.com:2181,zk2.example.com:2181,zk3.example.com:2181");
  EXPECT_EQ(flags.zk_root, "/apache_atlas");
  EXPECT_EQ(flags.zk_session_timeout_ms, 20000);
  EXPECT_EQ(flags.zk_acl, "digest:atlas:1Nv3swIo9GgH2mXPwu9xM7Jox18=");
  EXPECT_EQ(flags.zk_auth_file, "");
  EXPECT_THAT(notes, Contains(HasSubstr("atlas.server.ha.zookeeper.num.retries in atlas.properties "
                                        "does not apply: latchd retries ZooKeeper forever")));
  EXPECT_THAT(notes, Contains(HasSubstr("atlas.server.ha.zookeeper.retry.sleeptime.ms")));
  EXPECT_THAT(notes, Contains(HasSubstr("--id=id2 from atlas.properties: "
                                        "atlas.server.address.id2=127.0.0.1:21000 is on this host")));
  // The result is a valid configuration once latchd has the credentials of the file's ACL
  // (without them no entry could match it: refused, issue 13).
  flags.socket_path.clear();
  EXPECT_THAT(ValidateFlags(flags).status().message(),
              StartsWith("atlas.server.ha.zookeeper.acl in atlas.properties: no entry can ever "
                         "match"));
  flags.zk_auth_inline = "digest:atlas:atlas-password";
  auto config = ValidateFlags(flags);
  ASSERT_TRUE(config.ok()) << config.status().message();
  EXPECT_EQ(config->session_timeout, std::chrono::milliseconds(20000));
}

TEST(ApplyAtlasSettingsTest, HttpsAdvertise) {
  RawFlags flags;
  Status s = ApplyAtlasSettings(
      Settings(HaFile("atlas.enableTLS=true\natlas.server.address.id2=127.0.0.1:21443\n")), "f",
      {"127.0.0.1"}, Explicit({}), &flags);
  ASSERT_TRUE(s.ok()) << s.message();
  EXPECT_EQ(flags.advertise, "https://127.0.0.1:21443");
}

TEST(ApplyAtlasSettingsTest, ExplicitFlagsWin) {
  RawFlags flags;
  flags.id = "host7";
  flags.advertise = "http://host7:21000";
  flags.zk_connect = "other:2181";
  flags.zk_root = "/latchd";
  flags.zk_session_timeout_ms = 8000;
  flags.zk_acl = "world:anyone";
  std::vector<std::string> notes;
  Status s = ApplyAtlasSettings(Settings(kAtlasFile), "f", {"127.0.0.1"},
                                Explicit({"id", "advertise", "zk_connect", "zk_root",
                                          "zk_session_timeout_ms", "zk_acl"}),
                                &flags, &notes);
  ASSERT_TRUE(s.ok()) << s.message();
  EXPECT_EQ(flags.id, "host7");
  EXPECT_EQ(flags.advertise, "http://host7:21000");
  EXPECT_EQ(flags.zk_connect, "other:2181");
  EXPECT_EQ(flags.zk_root, "/latchd");
  EXPECT_EQ(flags.zk_session_timeout_ms, 8000);
  EXPECT_EQ(flags.zk_acl, "world:anyone");
  EXPECT_THAT(notes, Contains(HasSubstr("--zk_root=\"/latchd\" given explicitly: "
                                        "atlas.server.ha.zookeeper.zkroot=\"/apache_atlas\"")));
  EXPECT_THAT(notes, Contains(HasSubstr("different latches")));
  EXPECT_THAT(notes, Contains(HasSubstr("--id=\"host7\" is not in atlas.server.ids")));
}

TEST(ApplyAtlasSettingsTest, ExplicitIdTakesItsAddress) {
  RawFlags flags;
  flags.id = "id1";
  Status s = ApplyAtlasSettings(Settings(kAtlasFile), "f", {}, Explicit({"id"}), &flags);
  ASSERT_TRUE(s.ok()) << s.message();
  EXPECT_EQ(flags.id, "id1");
  EXPECT_EQ(flags.advertise, "http://10.255.255.1:21000");
}

TEST(ApplyAtlasSettingsTest, ExplicitIdWithoutAddressNeedsAdvertise) {
  RawFlags flags;
  flags.id = "id9";
  Status s = ApplyAtlasSettings(Settings(kAtlasFile), "f", {}, Explicit({"id"}), &flags);
  EXPECT_EQ(s.message(), "f: atlas.server.address.id9 is not set: cannot derive --advertise; set "
                         "it or pass --advertise");
  flags.advertise = "http://id9:21000";
  s = ApplyAtlasSettings(Settings(kAtlasFile), "f", {}, Explicit({"id", "advertise"}), &flags);
  EXPECT_TRUE(s.ok()) << s.message();
}

TEST(ApplyAtlasSettingsTest, AuthInTheFileNeedsAnAuthFile) {
  AtlasHaSettings settings = Settings(HaFile("atlas.server.ha.zookeeper.auth=digest:atlas:pw123\n"));
  RawFlags flags;
  Status s = ApplyAtlasSettings(settings, "f", {"127.0.0.1"}, Explicit({}), &flags);
  ASSERT_TRUE(s.ok()) << s.message();
  EXPECT_EQ(flags.zk_auth_inline, "digest:atlas:pw123");
  auto config = ValidateFlags(flags);
  ASSERT_TRUE(config.ok()) << config.status().message();
  EXPECT_EQ(config->auth, std::make_pair(std::string("digest"), std::string("atlas:pw123")));
  flags = RawFlags();
  flags.zk_auth_file = "/etc/latchd/zk-auth";
  std::vector<std::string> notes;
  s = ApplyAtlasSettings(settings, "f", {"127.0.0.1"}, Explicit({"zk_auth_file"}), &flags, &notes);
  ASSERT_TRUE(s.ok()) << s.message();
  EXPECT_EQ(flags.zk_auth_file, "/etc/latchd/zk-auth");
  EXPECT_THAT(notes, Contains(HasSubstr("zookeeper.auth in f is not used: --zk_auth_file is given")));
  for (const auto& n : notes) EXPECT_THAT(n, Not(HasSubstr("pw123")));
}

TEST(ApplyAtlasSettingsTest, ValuesOutsideLatchdsRangesNameTheKey) {
  RawFlags flags;
  Status s = ApplyAtlasSettings(
      Settings(HaFile("atlas.server.ha.zookeeper.session.timeout.ms=500\n")), "f", {"127.0.0.1"},
      Explicit({}), &flags);
  EXPECT_EQ(s.message(), "f: atlas.server.ha.zookeeper.session.timeout.ms: 500 is outside latchd's "
                         "range 1000..600000");
  // An explicit flag makes the file's value irrelevant.
  s = ApplyAtlasSettings(Settings(HaFile("atlas.server.ha.zookeeper.session.timeout.ms=500\n")),
                         "f", {"127.0.0.1"}, Explicit({"zk_session_timeout_ms"}), &flags);
  EXPECT_TRUE(s.ok()) << s.message();

  RawFlags acl_flags;
  s = ApplyAtlasSettings(Settings(HaFile("atlas.server.ha.zookeeper.acl=foo:bar\n")), "f",
                         {"127.0.0.1"}, Explicit({}), &acl_flags);
  EXPECT_THAT(s.message(), HasSubstr("f: atlas.server.ha.zookeeper.acl: entry \"foo:bar\""));
  EXPECT_THAT(s.message(), Not(HasSubstr("--zk_acl")));

  RawFlags id_flags;
  s = ApplyAtlasSettings(Settings(HaFile("atlas.server.ids=id1,id2,bad/id\n"
                                         "atlas.server.address.bad/id=127.0.0.1:21000\n"
                                         "atlas.server.address.id2=10.255.255.2:21000\n")),
                         "f", {"127.0.0.1"}, Explicit({}), &id_flags);
  EXPECT_THAT(s.message(), HasSubstr("f: atlas.server.ids: \"bad/id\" cannot be a latchd id"));
}

TEST(ApplyAtlasSettingsTest, MissingConnect) {
  RawFlags flags;
  flags.id = "a";
  Status s = ApplyAtlasSettings(Settings("atlas.server.address.a=h:1\n"), "f", {},
                                Explicit({"id"}), &flags);
  EXPECT_EQ(s.message(), "f: atlas.server.ha.zookeeper.connect is not set: set it or pass --zk_connect");
}

TEST(ApplyAtlasSettingsTest, HaDisabledNeedsAnExplicitId) {
  AtlasHaSettings settings = Settings(HaFile("atlas.server.ha.enabled=false\n"));
  RawFlags flags;
  Status s = ApplyAtlasSettings(settings, "f", {"127.0.0.1"}, Explicit({}), &flags);
  EXPECT_THAT(s.message(), HasSubstr("f: atlas.server.ha.enabled is not true"));
  EXPECT_THAT(s.message(), HasSubstr("; or pass --id"));
  flags.id = "id2";
  std::vector<std::string> notes;
  s = ApplyAtlasSettings(settings, "f", {"127.0.0.1"}, Explicit({"id"}), &flags, &notes);
  ASSERT_TRUE(s.ok()) << s.message();
  EXPECT_EQ(flags.advertise, "http://127.0.0.1:21000");
  EXPECT_THAT(notes, Contains(HasSubstr("Atlas does not elect")));
}

// ---------------------------------------------------------------------------
// Atlas's JAAS keys for its ZooKeeper client -> the SASL settings

// Atlas's Kerberos settings for ZooKeeper, after Atlas's documentation (atlas.jaas.*) and the
// recommended ACL best practice (sasl: auth and ACL), with the KafkaClient section a
// Kerberized Atlas carries too.
std::string KerberizedFile(const std::string& keytab, const std::string& extra = "") {
  return HaFile("atlas.server.ha.zookeeper.acl=sasl:atlas@EXAMPLE.COM\n"
                "atlas.server.ha.zookeeper.auth=sasl:atlas@EXAMPLE.COM\n"
                "atlas.jaas.KafkaClient.loginModuleName=com.sun.security.auth.module.Krb5LoginModule\n"
                "atlas.jaas.KafkaClient.option.keyTab=/etc/security/keytabs/atlas.service.keytab\n"
                "atlas.jaas.KafkaClient.option.principal=atlas/_HOST@EXAMPLE.COM\n"
                "atlas.jaas.Client.loginModuleName = com.sun.security.auth.module.Krb5LoginModule\n"
                "atlas.jaas.Client.loginModuleControlFlag = required\n"
                "atlas.jaas.Client.option.useKeyTab = true\n"
                "atlas.jaas.Client.option.storeKey = true\n"
                "atlas.jaas.Client.option.keyTab = " + keytab + "\n"
                "atlas.jaas.Client.option.principal = atlas/_HOST@EXAMPLE.COM\n" + extra);
}

std::string DigestFile(const std::string& extra = "") {
  return HaFile("atlas.server.ha.zookeeper.acl=sasl:latchd\n"
                "atlas.jaas.Client.loginModuleName=org.apache.zookeeper.server.auth.DigestLoginModule\n"
                "atlas.jaas.Client.option.username=latchd\n"
                "atlas.jaas.Client.option.password=Pw-7x9q\n" + extra);
}

class AtlasJaasTest : public testing::TempDirTest {
 protected:
  void SetUp() override {
    TempDirTest::SetUp();
    keytab_ = Write("atlas.keytab", std::string("\x05\x02\x00\x00\x00\x30", 6) + "principal data");
  }
  // Applies `text` as the file "a.properties" with `explicit_flags` set in flags_ beforehand.
  Status Apply(const std::string& text, std::set<std::string> explicit_flags = {}) {
    notes_.clear();
    auto props = ParseProperties(text);
    EXPECT_TRUE(props.ok()) << props.status().message();
    auto settings = ReadAtlasHaSettings(*props);
    if (!settings.ok()) return settings.status();
    return ApplyAtlasSettings(*settings, "a.properties", {"127.0.0.1"}, Explicit(explicit_flags),
                              &flags_, &notes_);
  }
  std::string ValidateError() {
    flags_.socket_path.clear();
    auto config = ValidateFlags(flags_);
    EXPECT_FALSE(config.ok()) << "accepted";
    EXPECT_EQ(config.status().message().find('\n'), std::string::npos);
    return config.status().message();
  }
  std::vector<std::string> Warnings() const {
    std::vector<std::string> out;
    for (const std::string& n : notes_) {
      if (n.rfind("warning: ", 0) == 0) out.push_back(n);
    }
    return out;
  }

  std::string keytab_;
  RawFlags flags_;
  std::vector<std::string> notes_;
};

TEST_F(AtlasJaasTest, KerberosClientSectionBecomesGssapi) {
  Status s = Apply(KerberizedFile(keytab_));
  ASSERT_TRUE(s.ok()) << s.message();
  const RawZkSecurity& z = flags_.zk_security;
  EXPECT_EQ(z.sasl_mechanism, "GSSAPI");
  EXPECT_EQ(z.sasl_keytab, keytab_);
  EXPECT_EQ(z.sasl_principal, "atlas/_HOST@EXAMPLE.COM");
  EXPECT_EQ(z.sasl_service, "zookeeper");
  EXPECT_EQ(z.origin.at("zk_sasl_keytab"), "atlas.jaas.Client.option.keyTab in a.properties");
  EXPECT_EQ(flags_.zk_acl, "sasl:atlas@EXAMPLE.COM");
  EXPECT_EQ(flags_.zk_auth_inline, "sasl:atlas@EXAMPLE.COM");
  EXPECT_THAT(notes_, Contains("ZooKeeper SASL GSSAPI from atlas.jaas.Client.* in a.properties"));
  EXPECT_THAT(notes_, Contains(HasSubstr("atlas.server.ha.zookeeper.auth in a.properties is a "
                                         "sasl: auth, no addauth scheme")));
  EXPECT_THAT(notes_, Not(Contains(HasSubstr("ZooKeeper auth from"))));

  flags_.socket_path.clear();
  auto config = ValidateFlags(flags_);
  ASSERT_TRUE(config.ok()) << config.status().message();
  EXPECT_EQ(config->zk_security.sasl.mechanism, SaslMechanism::kGssapi);
  EXPECT_EQ(config->zk_security.sasl.keytab, keytab_);
  // _HOST is this host's name, as Atlas's SecurityUtil.getServerPrincipal makes it.
  EXPECT_EQ(config->zk_security.sasl.principal, "atlas/" + CanonicalHostName() + "@EXAMPLE.COM");
  EXPECT_FALSE(config->auth.has_value()) << "a sasl: auth is never sent with addauth";
  ASSERT_EQ(config->acl.size(), 1u);
  EXPECT_EQ(config->acl[0].scheme, "sasl");
}

TEST_F(AtlasJaasTest, NumberedEntryAndServiceName) {
  Status s = Apply(HaFile("atlas.jaas.Client.0.loginModuleName=com.sun.security.auth.module.Krb5LoginModule\n"
                          "atlas.jaas.Client.0.option.useKeyTab=TRUE\n"
                          "atlas.jaas.Client.0.option.keyTab=" + keytab_ + "\n"
                          "atlas.jaas.Client.0.option.serviceName=zk\n"));
  ASSERT_TRUE(s.ok()) << s.message();
  EXPECT_EQ(flags_.zk_security.sasl_mechanism, "GSSAPI");
  EXPECT_EQ(flags_.zk_security.sasl_keytab, keytab_);
  EXPECT_EQ(flags_.zk_security.sasl_principal, "") << "none: the keytab's first";
  EXPECT_EQ(flags_.zk_security.sasl_service, "zk");
  EXPECT_THAT(notes_, Contains(HasSubstr("atlas.jaas.Client.0.option.serviceName in a.properties: "
                                         "latchd uses the service \"zk\"; Atlas's ZooKeeper client "
                                         "does not read this option")));
  // Two login modules: latchd cannot follow a stack.
  EXPECT_EQ(Apply(HaFile("atlas.jaas.Client.0.loginModuleName=a.B\n"
                         "atlas.jaas.Client.1.loginModuleName=c.D\n")).message(),
            "atlas.jaas.Client: has 2 login modules (atlas.jaas.Client.0.*, atlas.jaas.Client.1.*): "
            "latchd can follow only one");
}

TEST_F(AtlasJaasTest, DigestClientSectionBecomesDigestMd5WithTheInlinePassword) {
  Status s = Apply(DigestFile());
  ASSERT_TRUE(s.ok()) << s.message();
  const RawZkSecurity& z = flags_.zk_security;
  EXPECT_EQ(z.sasl_mechanism, "DIGEST-MD5");
  EXPECT_EQ(z.sasl_user, "latchd");
  EXPECT_EQ(z.sasl_password_inline, "Pw-7x9q");
  EXPECT_EQ(z.sasl_password_file, "");
  EXPECT_THAT(notes_, Contains(HasSubstr("DIGEST-MD5 password from atlas.jaas.Client.option.password "
                                         "in a.properties (kept in memory only")));
  for (const std::string& n : notes_) EXPECT_THAT(n, Not(HasSubstr("Pw-7x9q")));
  flags_.socket_path.clear();
  auto config = ValidateFlags(flags_);
  ASSERT_TRUE(config.ok()) << config.status().message();
  EXPECT_EQ(config->zk_security.sasl.password, "Pw-7x9q");
  EXPECT_THAT(DescribeZkSecurity(config->zk_security),
              AllOf(HasSubstr("DIGEST-MD5 as latchd"), Not(HasSubstr("Pw-7x9q"))));

  // The user may come from a sasl: auth instead.
  flags_ = RawFlags();
  s = Apply(HaFile("atlas.server.ha.zookeeper.auth=sasl:latchd\n"
                   "atlas.jaas.Client.loginModuleName=org.apache.zookeeper.server.auth.DigestLoginModule\n"
                   "atlas.jaas.Client.option.password=Pw-7x9q\n"));
  ASSERT_TRUE(s.ok()) << s.message();
  flags_.socket_path.clear();
  config = ValidateFlags(flags_);
  ASSERT_TRUE(config.ok()) << config.status().message();
  EXPECT_EQ(config->zk_security.sasl.user, "latchd");

  // Neither a username nor a sasl: auth naming one (the auth file holds a digest auth): the
  // refusal names the key.
  flags_ = RawFlags();
  flags_.zk_auth_file = Write("zk.auth", "digest:atlas:Pw-7x9q\n");
  s = Apply(HaFile("atlas.jaas.Client.loginModuleName=org.apache.zookeeper.server.auth.DigestLoginModule\n"
                   "atlas.jaas.Client.option.password=Pw-7x9q\n"),
            {"zk_auth_file"});
  ASSERT_TRUE(s.ok()) << s.message();
  EXPECT_EQ(ValidateError(), "atlas.jaas.Client.option.username in a.properties: is required with "
                             "--zk_sasl_mechanism=DIGEST-MD5");
}

TEST_F(AtlasJaasTest, ExplicitFlagsWinOverTheJaasSection) {
  // The systemd unit reads the keytab from a credential: --zk_sasl_keytab is given, the
  // principal still comes from the file (and useKeyTab does not matter any more).
  flags_.zk_security.sasl_keytab = keytab_;
  Status s = Apply(KerberizedFile("/etc/security/keytabs/atlas.service.keytab",
                                  "atlas.jaas.Client.option.useKeyTab=false\n"),
                   {"zk_sasl_keytab"});
  ASSERT_TRUE(s.ok()) << s.message();
  EXPECT_EQ(flags_.zk_security.sasl_keytab, keytab_);
  EXPECT_EQ(flags_.zk_security.sasl_principal, "atlas/_HOST@EXAMPLE.COM");
  EXPECT_EQ(flags_.zk_security.origin.count("zk_sasl_keytab"), 0u);
  EXPECT_THAT(notes_, Contains(HasSubstr("--zk_sasl_keytab=\"" + keytab_ + "\" given explicitly: "
                                         "atlas.jaas.Client.option.keyTab=\"/etc/security/keytabs/"
                                         "atlas.service.keytab\" in a.properties is not used")));

  // A password file wins over the inline password.
  flags_ = RawFlags();
  flags_.zk_security.sasl_password_file = "/etc/latchd/zk-password";
  s = Apply(DigestFile(), {"zk_sasl_password_file"});
  ASSERT_TRUE(s.ok()) << s.message();
  EXPECT_EQ(flags_.zk_security.sasl_password_inline, "");
  EXPECT_THAT(notes_, Contains("atlas.jaas.Client.option.password in a.properties is not used: "
                               "--zk_sasl_password_file is given"));

  // The other mechanism given explicitly: the section is not used at all.
  flags_ = RawFlags();
  flags_.zk_security.sasl_mechanism = "digest-md5";
  s = Apply(KerberizedFile(keytab_), {"zk_sasl_mechanism"});
  ASSERT_TRUE(s.ok()) << s.message();
  EXPECT_EQ(flags_.zk_security.sasl_keytab, "");
  EXPECT_EQ(flags_.zk_security.sasl_principal, "");
  EXPECT_THAT(notes_, Contains("atlas.jaas.Client.* in a.properties (GSSAPI) is not used: "
                               "--zk_sasl_mechanism=\"digest-md5\" is given"));
}

TEST_F(AtlasJaasTest, RefusalsNameTheKey) {
  EXPECT_EQ(Apply(HaFile("atlas.jaas.Client.loginModuleName=com.example.OtherLoginModule\n")).message(),
            "a.properties: atlas.jaas.Client.loginModuleName: \"com.example.OtherLoginModule\" is "
            "not a login module latchd can follow for ZooKeeper "
            "(com.sun.security.auth.module.Krb5LoginModule for Kerberos, "
            "org.apache.zookeeper.server.auth.DigestLoginModule for DIGEST-MD5); or pass "
            "--zk_sasl_mechanism");
  EXPECT_EQ(Apply(HaFile("atlas.jaas.Client.loginModuleName=com.sun.security.auth.module.Krb5LoginModule\n"
                         "atlas.jaas.Client.option.useKeyTab=true\n")).message(),
            "a.properties: atlas.jaas.Client.option.keyTab is not set: latchd needs the client "
            "keytab; set it or pass --zk_sasl_keytab");
  EXPECT_THAT(Apply(KerberizedFile(keytab_, "atlas.jaas.Client.option.useKeyTab=false\n")).message(),
              StartsWith("a.properties: atlas.jaas.Client.option.useKeyTab is false: "
                         "Krb5LoginModule then ignores atlas.jaas.Client.option.keyTab, and latchd "
                         "authenticates from a keytab only (no ticket cache)"));
  EXPECT_THAT(Apply(HaFile("atlas.jaas.Client.loginModuleName=com.sun.security.auth.module.Krb5LoginModule\n"
                           "atlas.jaas.Client.option.keyTab=" + keytab_ + "\n")).message(),
              StartsWith("a.properties: atlas.jaas.Client.option.useKeyTab is not set: "));
  EXPECT_EQ(Apply(KerberizedFile(keytab_, "atlas.jaas.Client.option.useKeyTab=yes\n")).message(),
            "atlas.jaas.Client.option.useKeyTab: \"yes\" is not true or false");
  EXPECT_THAT(Apply(KerberizedFile("${KEYTAB_DIR}/atlas.keytab")).message(),
              HasSubstr("atlas.jaas.Client.option.keyTab: \"${KEYTAB_DIR}/atlas.keytab\" uses "
                        "${...} interpolation"));
  EXPECT_EQ(Apply(HaFile("atlas.jaas.Client.loginModuleName=org.apache.zookeeper.server.auth.DigestLoginModule\n"
                         "atlas.jaas.Client.option.password=Pw-7x9q\n")).message(),
            "a.properties: atlas.jaas.Client.option.username is not set: the DIGEST-MD5 user; set "
            "it or pass --zk_sasl_user");
  EXPECT_EQ(Apply(HaFile("atlas.jaas.Client.loginModuleName=org.apache.zookeeper.server.auth.DigestLoginModule\n"
                         "atlas.jaas.Client.option.username=latchd\n")).message(),
            "a.properties: atlas.jaas.Client.option.password is not set: the DIGEST-MD5 password; "
            "set it or pass --zk_sasl_password_file");
  std::string m = Apply(DigestFile("atlas.jaas.Client.option.password=${Pw-7x9q}\n")).message();
  EXPECT_EQ(m, "atlas.jaas.Client.option.password: the value uses ${...} interpolation, which "
               "latchd does not expand: write the value itself");
}

// The Kerberized file as the issue found it: a sasl: auth and ACL, but no JAAS section.
TEST_F(AtlasJaasTest, ASaslAuthWithoutTheJaasSectionIsRefusedSayingWhatIsMissing) {
  Status s = Apply(HaFile("atlas.server.ha.zookeeper.acl=sasl:atlas@EXAMPLE.COM\n"
                          "atlas.server.ha.zookeeper.auth=sasl:atlas@EXAMPLE.COM\n"));
  ASSERT_TRUE(s.ok()) << s.message();
  EXPECT_THAT(notes_, Not(Contains(HasSubstr("ZooKeeper auth from"))));
  EXPECT_THAT(ValidateError(),
              StartsWith("atlas.server.ha.zookeeper.auth in a.properties: sasl:atlas@EXAMPLE.COM "
                         "needs the SASL settings: atlas.jaas.Client.* in a.properties "
                         "(loginModuleName=com.sun.security.auth.module.Krb5LoginModule with "
                         "option.useKeyTab=true, option.keyTab and option.principal, or "
                         "org.apache.zookeeper.server.auth.DigestLoginModule with option.username "
                         "and option.password); or --zk_sasl_mechanism=GSSAPI"));
  // Only the ACL: it could never match.
  flags_ = RawFlags();
  ASSERT_TRUE(Apply(HaFile("atlas.server.ha.zookeeper.acl=sasl:atlas@EXAMPLE.COM\n")).ok());
  EXPECT_THAT(ValidateError(),
              AllOf(StartsWith("atlas.server.ha.zookeeper.acl in a.properties: no entry can ever "
                               "match this agent (it authenticates with nothing)"),
                    HasSubstr("sasl: entries need SASL (atlas.jaas.Client.* in a.properties")));
}

TEST_F(AtlasJaasTest, MissingFilesAndBadAuthsNameTheKeyAndTheFile) {
  ASSERT_TRUE(Apply(KerberizedFile(dir_ + "/missing.keytab")).ok());
  EXPECT_EQ(ValidateError(), "atlas.jaas.Client.option.keyTab in a.properties: " + dir_ +
                                 "/missing.keytab does not exist");
  flags_ = RawFlags();
  ASSERT_TRUE(Apply(HaFile("atlas.server.ha.zookeeper.auth=digets:atlas:Pw-7x9q\n")).ok());
  std::string m = ValidateError();
  EXPECT_EQ(m, "atlas.server.ha.zookeeper.auth in a.properties: unknown scheme \"digets\" (an "
               "auth is digest:user:password or sasl:<principal>)");
  // SASL from the file and TLS flags: the 3.8 C client has no SASL over TLS.
  flags_ = RawFlags();
  flags_.zk_security.tls_ca = flags_.zk_security.tls_cert = flags_.zk_security.tls_key = keytab_;
  ASSERT_TRUE(Apply(KerberizedFile(keytab_)).ok());
  EXPECT_THAT(ValidateError(), StartsWith("--zk_tls_ca: TLS and SASL (atlas.jaas.Client."
                                          "loginModuleName in a.properties) cannot be combined"));
}

TEST_F(AtlasJaasTest, KeysLatchdDoesNotFollowAreNamedInOneWarningEachWithoutTheirValues) {
  Status s = Apply(KerberizedFile(keytab_,
                                  "atlas.jaas.Client.option.useTicketCache=Secret-1\n"
                                  "atlas.jaas.Client.option.debug=Secret-2\n"
                                  "atlas.jaas.Client.option.password=Secret-3\n"
                                  "atlas.jaas.Client.7.option.keyTab=Secret-4\n"
                                  "atlas.jaas.KafkaClient.option.password=Secret-5\n"
                                  "zookeeper.ssl.keyStore.password=Secret-6\n"
                                  "zookeeper.client.secure=true\n"
                                  "zookeeper.sasl.client.username=Secret-7\n"
                                  "atlas.kafka.ssl.keystore.password=not-zookeeper\n"));
  ASSERT_TRUE(s.ok()) << s.message();
  const std::vector<std::string> warnings = Warnings();
  auto warned = [&](const std::string& key) {
    return std::count_if(warnings.begin(), warnings.end(), [&](const std::string& w) {
      return w.rfind("warning: " + key + " in a.properties is not used: ", 0) == 0;
    });
  };
  for (const char* key : {"atlas.jaas.Client.option.useTicketCache", "atlas.jaas.Client.option.debug",
                          "atlas.jaas.Client.option.password", "atlas.jaas.Client.7.option.keyTab",
                          "atlas.jaas.KafkaClient.loginModuleName",
                          "atlas.jaas.KafkaClient.option.keyTab",
                          "atlas.jaas.KafkaClient.option.principal",
                          "atlas.jaas.KafkaClient.option.password", "zookeeper.ssl.keyStore.password",
                          "zookeeper.client.secure", "zookeeper.sasl.client.username"}) {
    EXPECT_EQ(warned(key), 1) << key;
  }
  EXPECT_EQ(warnings.size(), 11u) << ::testing::PrintToString(warnings);
  EXPECT_THAT(warnings, Contains(HasSubstr("useTicketCache in a.properties is not used: latchd "
                                           "gets its tickets from the keytab")));
  EXPECT_THAT(warnings, Contains(HasSubstr("option.password in a.properties is not used: not an "
                                           "option of Krb5LoginModule")));
  EXPECT_THAT(warnings, Contains(HasSubstr("atlas.jaas.Client.7.option.keyTab in a.properties is "
                                           "not used: its JAAS entry has no "
                                           "atlas.jaas.Client.7.loginModuleName")));
  EXPECT_THAT(warnings, Contains(HasSubstr("zookeeper.ssl.keyStore.password in a.properties is not "
                                           "used: a ZooKeeper Java client TLS setting")));
  for (const std::string& n : notes_) {
    EXPECT_THAT(n, Not(HasSubstr("Secret-"))) << n;
    EXPECT_EQ(n.find('\n'), std::string::npos);
  }
}

class ApplyAtlasPropertiesTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/atlas_properties_test.XXXXXX";
    ASSERT_NE(mkdtemp(tmpl), nullptr);
    dir_ = tmpl;
  }
  void TearDown() override { std::system(("rm -rf " + dir_).c_str()); }
  std::string Write(const std::string& text) {
    std::string path = dir_ + "/atlas-application.properties";
    std::ofstream(path) << text;
    return path;
  }
  std::string dir_;
};

TEST_F(ApplyAtlasPropertiesTest, ReadsTheFile) {
  std::string path = Write(kAtlasFile);
  RawFlags flags;
  std::vector<std::string> notes;
  Status s = ApplyAtlasProperties(path, Explicit({}), &flags, &notes);
  ASSERT_TRUE(s.ok()) << s.message();
  EXPECT_EQ(flags.id, "id2");  // 127.0.0.1 is local on every host
  EXPECT_EQ(flags.advertise, "http://127.0.0.1:21000");
  EXPECT_EQ(flags.zk_root, "/apache_atlas");
  EXPECT_FALSE(notes.empty());
}

TEST_F(ApplyAtlasPropertiesTest, ErrorsNameTheFlagAndThePath) {
  RawFlags flags;
  Status s = ApplyAtlasProperties(dir_ + "/missing.properties", Explicit({}), &flags);
  EXPECT_EQ(s.message(), "--atlas_properties: " + dir_ +
                             "/missing.properties: cannot open: No such file or directory");
  s = ApplyAtlasProperties(dir_, Explicit({}), &flags);
  EXPECT_EQ(s.message(), "--atlas_properties: " + dir_ + ": not a regular file");
  std::string big = Write("# " + std::string(4 * 1024 * 1024, 'x'));
  s = ApplyAtlasProperties(big, Explicit({}), &flags);
  EXPECT_EQ(s.message(), "--atlas_properties: " + big + ": larger than 4194304 bytes");
  std::string path = Write("a=1\natlas.server.ids=\\uXYZW\n");
  s = ApplyAtlasProperties(path, Explicit({}), &flags);
  EXPECT_EQ(s.message(), "--atlas_properties: " + path +
                             ": line 2: malformed \\uXXXX escape \"\\\\uXYZW\"");
  path = Write(HaFile("atlas.server.ha.enabled=maybe\n"));
  s = ApplyAtlasProperties(path, Explicit({}), &flags);
  EXPECT_EQ(s.message(), "--atlas_properties: " + path +
                             ": atlas.server.ha.enabled: \"maybe\" is not true or false");
}

}  // namespace
}  // namespace latchd
