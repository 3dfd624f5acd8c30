// latchctl's command table against the agent's: every socket command is
// offered by latchctl or listed as deliberately left out.
#include <gtest/gtest.h>

#include <set>
#include <string>

#include "agent/latchctl/cli_args.h"

namespace latchd {
namespace {

using latchctl::kCliCommandCount;
using latchctl::kCliCommands;
using latchctl::kNotInLatchctl;
using latchctl::kNotInLatchctlCount;

TEST(LatchctlCommandsTest, EverySocketCommandIsOfferedOrLeftOutWithAReason) {
  for (const CommandSpec& spec : kCommands) {
    int sent_by = 0, left_out = 0;
    for (size_t i = 0; i < kCliCommandCount; ++i) sent_by += kCliCommands[i].sends == spec.command;
    for (size_t i = 0; i < kNotInLatchctlCount; ++i) {
      if (kNotInLatchctl[i].command == spec.command) {
        ++left_out;
        EXPECT_GT(std::string(kNotInLatchctl[i].why).size(), 10u);
      }
    }
    EXPECT_TRUE(sent_by > 0 || left_out > 0) << "socket command \"" << spec.name
                                             << "\" is neither in latchctl nor in kNotInLatchctl";
    EXPECT_FALSE(sent_by > 0 && left_out > 0) << spec.name << " is both";
  }
}

TEST(LatchctlCommandsTest, UsageAndHelpListEveryCommandOnce) {
  std::set<std::string> names;
  for (size_t i = 0; i < kCliCommandCount; ++i) {
    const auto& c = kCliCommands[i];
    EXPECT_TRUE(names.insert(c.name).second) << c.name;
    EXPECT_NE(latchctl::UsageLine().find(std::string(c.name) + c.args), std::string::npos) << c.name;
    EXPECT_NE(latchctl::HelpText().find("  " + std::string(c.name) + c.args), std::string::npos)
        << c.name;
    EXPECT_EQ(latchctl::FindCliCommand(c.name), &c);
  }
  EXPECT_EQ(latchctl::FindCliCommand("frobnicate"), nullptr);
}

}  // namespace
}  // namespace latchd
