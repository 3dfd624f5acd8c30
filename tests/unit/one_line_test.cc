#include "lib/util/one_line.h"

#include <gtest/gtest.h>

#include <string>

namespace latchd {
namespace {

TEST(OneLineTest, ControlCharactersBecomeHexEscapes) {
  EXPECT_EQ(OneLine(std::string("a\nb\r\t\x1f\x7f", 7)), "a\\x0ab\\x0d\\x09\\x1f\\x7f");
  EXPECT_EQ(OneLine(std::string("nul\0end", 7)), "nul\\x00end");
}

TEST(OneLineTest, EverythingElseIsUnchanged) {
  EXPECT_EQ(OneLine("plain \"quoted\" \\ caf\xC3\xA9 \xFF"), "plain \"quoted\" \\ caf\xC3\xA9 \xFF");
  EXPECT_EQ(OneLine(""), "");
}

}  // namespace
}  // namespace latchd
