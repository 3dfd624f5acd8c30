#include "lib/util/strings.h"

#include <gtest/gtest.h>

#include "lib/util/session_id.h"

namespace latchd {
namespace {

TEST(StringsTest, TrimRemovesOnlyTheGivenBytesAtBothEnds) {
  EXPECT_EQ(Trim("  a b\t"), "a b");
  EXPECT_EQ(Trim(" \t "), "");
  EXPECT_EQ(Trim(""), "");
  EXPECT_EQ(Trim("x\r", " \t"), "x\r");
  EXPECT_EQ(Trim("\rx\r ", " \t\r"), "x");
}

TEST(StringsTest, TrimBlanksAndControlsRemovesEveryByteUpToSpace) {
  EXPECT_EQ(TrimBlanksAndControls("\x01\f a=b \x1f\n"), "a=b");
  EXPECT_EQ(TrimBlanksAndControls("\x7f"), "\x7f");
}

TEST(SessionIdTest, LowercaseHexWithPrefixAsZooKeeperPrintsIt) {
  EXPECT_EQ(SessionIdHex(0x10000179d760000), "0x10000179d760000");
  EXPECT_EQ(SessionIdHex(0), "0x0");
  EXPECT_EQ(SessionIdHex(-1), "0xffffffffffffffff");
}

}  // namespace
}  // namespace latchd
