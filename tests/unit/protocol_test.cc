// The socket's request lines: what a client may send and the errors it gets.
#include "lib/api/protocol.h"

#include <gtest/gtest.h>

#include <string>

namespace latchd {
namespace {

TEST(ProtocolTest, EveryCommandParses) {
  struct Case {
    const char* line;
    Command command;
  } cases[] = {
      {"status", Command::kStatus},         {"watch", Command::kWatch},
      {"yield", Command::kYield},           {"leader", Command::kLeader},
      {"participants", Command::kParticipants}, {"help", Command::kHelp},
      {"  status\t \r", Command::kStatus},  // blanks and a CR around it
  };
  for (const Case& c : cases) {
    auto r = ParseRequestLine(c.line);
    ASSERT_TRUE(r.ok()) << c.line << ": " << r.status().message();
    EXPECT_EQ(r->command, c.command) << c.line;
    EXPECT_EQ(ParseRequestLine(std::string(CommandName(c.command))).value().command, c.command);
  }
}

TEST(ProtocolTest, AckTakesOnePositiveEpoch) {
  auto r = ParseRequestLine("ack  4294967301 ");
  ASSERT_TRUE(r.ok()) << r.status().message();
  EXPECT_EQ(r->command, Command::kAck);
  EXPECT_EQ(r->epoch, 4294967301);
  for (const char* bad : {"ack", "ack 0", "ack -5", "ack 12x", "ack 1 2", "ack 99999999999999999999"}) {
    auto e = ParseRequestLine(bad);
    ASSERT_FALSE(e.ok()) << bad;
    EXPECT_NE(e.status().message().find("ack"), std::string::npos) << e.status().message();
  }
}

TEST(ProtocolTest, BadLinesNameWhatIsWrong) {
  struct Case {
    std::string line;
    const char* message_part;
  } cases[] = {
      {"", "empty request"},
      {"   ", "empty request"},
      {"status now", "\"status\" takes no argument"},
      {"watch a b c", "\"watch\" takes no argument"},
      {"frobnicate", "unknown command \"frobnicate\""},
      {"STATUS", "unknown command"},
      {std::string("sta\0tus", 7), "control or binary"},
      {"status\x7f", "control or binary"},
  };
  for (const Case& c : cases) {
    auto r = ParseRequestLine(c.line);
    ASSERT_FALSE(r.ok()) << c.line;
    EXPECT_NE(r.status().message().find(c.message_part), std::string::npos)
        << "line '" << c.line << "': " << r.status().message();
  }
}

TEST(ProtocolTest, EveryCommandOfTheTableParsesByItsNameAndIsInTheHelp) {
  for (const CommandSpec& spec : kCommands) {
    std::string line(spec.name);
    if (spec.args == CommandArgs::kEpoch) line += " 7";
    auto r = ParseRequestLine(line);
    ASSERT_TRUE(r.ok()) << line << ": " << r.status().message();
    EXPECT_EQ(r->command, spec.command);
    EXPECT_NE(ProtocolHelp().find(std::string(spec.usage) + ": " + std::string(spec.help)),
              std::string::npos)
        << spec.name;
    EXPECT_EQ(spec.usage.substr(0, spec.name.size()), spec.name) << "usage starts with the word";
  }
}

TEST(ProtocolTest, ErrorLineIsOneJsonObject) {
  EXPECT_EQ(ErrorLine("bad \"x\"\n"), "{\"error\":\"bad \\\"x\\\"\\n\"}");
}

}  // namespace
}  // namespace latchd
