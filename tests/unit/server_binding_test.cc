// The binding flags: what parses, and a one-line error naming the flag for
// everything that cannot work (the agent exits 2 with it).
#include "lib/api/server_binding.h"

#include <gtest/gtest.h>

#include <string>

namespace latchd {
namespace {

TEST(ParseHttpProbeUrlTest, TakesIpLiteralsAndLocalhost) {
  auto t = ParseHttpProbeUrl("http://127.0.0.1:21000/api/atlas/admin/status");
  ASSERT_TRUE(t.ok()) << t.status().message();
  EXPECT_EQ(t->host, "127.0.0.1");
  EXPECT_EQ(t->port, 21000);
  EXPECT_EQ(t->path, "/api/atlas/admin/status");
  auto v6 = ParseHttpProbeUrl("http://[::1]:8080/health?x=1");
  ASSERT_TRUE(v6.ok()) << v6.status().message();
  EXPECT_EQ(v6->host, "::1");
  EXPECT_EQ(v6->path, "/health?x=1");
  auto bare = ParseHttpProbeUrl("http://localhost");
  ASSERT_TRUE(bare.ok()) << bare.status().message();
  EXPECT_EQ(bare->port, 80);
  EXPECT_EQ(bare->path, "/");
}

TEST(ParseHttpProbeUrlTest, RefusesWhatTheProbeCannotReach) {
  for (const char* url : {"https://127.0.0.1/", "127.0.0.1:80/", "http://atlas.example.com/",
                          "http://127.0.0.1:0/", "http://127.0.0.1:99999/", "http://[::1/",
                          "http://127.0.0.1:8x/", ""}) {
    auto t = ParseHttpProbeUrl(url);
    ASSERT_FALSE(t.ok()) << url;
    EXPECT_NE(t.status().message().find("--health_url"), std::string::npos) << t.status().message();
    EXPECT_EQ(t.status().message().find('\n'), std::string::npos);
  }
}

Result<ServerHealthConfig> Validate(bool hold, int64_t hold_timeout, std::string url = "",
                                    std::string exec = "", int64_t interval = 1000,
                                    int64_t timeout = 1000, int64_t fall = 3, int64_t rise = 2) {
  return ValidateServerBinding(hold, hold_timeout, url, exec, interval, timeout, fall, rise);
}

void ExpectRefused(const Result<ServerHealthConfig>& r, const std::string& flag) {
  ASSERT_FALSE(r.ok()) << flag;
  EXPECT_NE(r.status().message().find("--" + flag), std::string::npos) << r.status().message();
}

TEST(ValidateServerBindingTest, DefaultsAndAWorkingBinding) {
  auto none = Validate(false, 0);
  ASSERT_TRUE(none.ok());
  EXPECT_FALSE(none->binding());
  auto c = Validate(true, 600, "http://127.0.0.1:1/h", "/bin/true", 200, 200, 2, 2);
  ASSERT_TRUE(c.ok()) << c.status().message();
  EXPECT_TRUE(c->binding());
  EXPECT_EQ(c->hold_timeout, std::chrono::milliseconds(600));
  EXPECT_EQ(c->fall, 2);
}

TEST(ValidateServerBindingTest, EachImpossibleSettingNamesItsFlag) {
  ExpectRefused(Validate(true, 50), "hold_timeout_ms");
  ExpectRefused(Validate(false, 600), "hold_timeout_ms");  // nothing could hold
  ExpectRefused(Validate(false, 0, "ftp://x/"), "health_url");
  ExpectRefused(Validate(false, 0, "", "true"), "health_exec");
  ExpectRefused(Validate(false, 0, "", "/etc/passwd"), "health_exec");
  ExpectRefused(Validate(false, 0, "", "/tmp"), "health_exec");  // a directory passes access(X_OK)
  ExpectRefused(Validate(false, 0, "", "", 10), "health_interval_ms");
  ExpectRefused(Validate(false, 0, "", "", 1000, 5), "health_timeout_ms");
  ExpectRefused(Validate(false, 0, "", "", 200, 300), "health_timeout_ms");
  ExpectRefused(Validate(false, 0, "", "", 1000, 1000, 0), "health_fall");
  ExpectRefused(Validate(false, 0, "", "", 1000, 1000, 3, 101), "health_rise");
}

}  // namespace
}  // namespace latchd
