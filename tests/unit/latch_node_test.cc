#include "lib/core/latch_node.h"

#include <gtest/gtest.h>

namespace latchd {
namespace {

TEST(LatchNodeTest, ParsesCuratorProtectedNames) {
  auto n = ParseLatchNode("_c_0f9e3c1a-1b2c-4d5e-8f90-a1b2c3d4e5f6-latch-0000000042");
  ASSERT_TRUE(n.has_value());
  EXPECT_EQ(n->uuid, "0f9e3c1a-1b2c-4d5e-8f90-a1b2c3d4e5f6");
  EXPECT_EQ(n->sequence, 42);
}

TEST(LatchNodeTest, UnprotectedNamesHaveNoUuid) {
  auto n = ParseLatchNode("latch-0000000007");
  ASSERT_TRUE(n.has_value());
  EXPECT_EQ(n->uuid, "");
  EXPECT_EQ(n->sequence, 7);
}

TEST(LatchNodeTest, ForeignNamesAreIgnored) {
  for (const char* bad : {"", "latch-", "latch-12", "latch-00000000001", "lock-0000000001",
                          "x/latch-0000000001", "latch-00000000a1", "garbage\x01\xff"}) {
    EXPECT_FALSE(ParseLatchNode(bad).has_value()) << bad;
  }
}

TEST(LatchNodeTest, SortsBySequenceNotByName) {
  auto nodes = SortLatchNodes({"_c_ffffffff-ffff-4fff-8fff-ffffffffffff-latch-0000000003",
                               "junk", "_c_00000000-0000-4000-8000-000000000000-latch-0000000010",
                               "_c_aaaaaaaa-aaaa-4aaa-8aaa-aaaaaaaaaaaa-latch-0000000001"});
  ASSERT_EQ(nodes.size(), 3u);
  EXPECT_EQ(nodes[0].sequence, 1);
  EXPECT_EQ(nodes[1].sequence, 3);
  EXPECT_EQ(nodes[2].sequence, 10);
}

TEST(LatchNodeTest, Paths) {
  EXPECT_EQ(LatchPath("/apache_atlas"), "/apache_atlas/leader_elector_path");
  EXPECT_EQ(ActiveServerInfoPath("/apache_atlas"), "/apache_atlas/active_server_info");
  EXPECT_EQ(PathPrefixes("/a/b/c"), (std::vector<std::string>{"/a", "/a/b", "/a/b/c"}));
  EXPECT_EQ(BaseName("/a/b/latch-0000000001"), "latch-0000000001");
}

}  // namespace
}  // namespace latchd
