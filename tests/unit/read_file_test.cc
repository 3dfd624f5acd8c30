#include "lib/util/read_file.h"

#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <string>

#include <gtest/gtest.h>

#include "tests/unit/temp_dir.h"

namespace latchd {
namespace {

using Failure = ReadFileDetails::Failure;

class ReadSmallFileTest : public testing::TempDirTest {};

TEST_F(ReadSmallFileTest, ReadsTheWholeFile) {
  std::string content = "first line\nsecond\0line\r\n";
  content += std::string(40000, 'x');  // more than one read(2)
  ReadFileDetails details;
  auto r = ReadSmallFile(Write("f", content, 0640), 1 << 20, &details);
  ASSERT_TRUE(r.ok()) << r.status().message();
  EXPECT_EQ(*r, content);
  EXPECT_EQ(details.failure, Failure::kNone);
  EXPECT_EQ(details.error_number, 0);
  EXPECT_TRUE(S_ISREG(details.mode));
  EXPECT_EQ(details.mode & 07777, 0640u);
}

TEST_F(ReadSmallFileTest, DetailsAreOptional) {
  auto r = ReadSmallFile(Write("f", "abc"), 3);
  ASSERT_TRUE(r.ok()) << r.status().message();
  EXPECT_EQ(*r, "abc");
}

TEST_F(ReadSmallFileTest, EmptyFile) {
  ReadFileDetails details;
  auto r = ReadSmallFile(Write("f", ""), 16, &details);
  ASSERT_TRUE(r.ok()) << r.status().message();
  EXPECT_EQ(*r, "");
  EXPECT_EQ(details.failure, Failure::kNone);
  // A limit of 0 still admits an empty file.
  r = ReadSmallFile(Write("f", ""), 0);
  ASSERT_TRUE(r.ok()) << r.status().message();
  EXPECT_EQ(*r, "");
}

TEST_F(ReadSmallFileTest, ExactlyMaxBytesIsFine) {
  for (size_t max : {size_t{1}, size_t{4096}, size_t{16384}, size_t{16385}, size_t{50000}}) {
    std::string content(max, 'a');
    auto r = ReadSmallFile(Write("f", content), max);
    ASSERT_TRUE(r.ok()) << max << ": " << r.status().message();
    EXPECT_EQ(r->size(), max);
  }
}

TEST_F(ReadSmallFileTest, OneByteMoreIsTooLarge) {
  for (size_t max : {size_t{0}, size_t{1}, size_t{4096}, size_t{16384}, size_t{50000}}) {
    std::string path = Write("f", std::string(max + 1, 'a'));
    ReadFileDetails details;
    auto r = ReadSmallFile(path, max, &details);
    ASSERT_FALSE(r.ok()) << max;
    EXPECT_EQ(r.status().message(), path + ": larger than " + std::to_string(max) + " bytes");
    EXPECT_EQ(details.failure, Failure::kTooLarge);
    EXPECT_EQ(details.error_number, 0);
    EXPECT_TRUE(S_ISREG(details.mode));
  }
}

TEST_F(ReadSmallFileTest, MissingFile) {
  std::string path = dir_ + "/nope";
  ReadFileDetails details;
  auto r = ReadSmallFile(path, 16, &details);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().message(), path + ": cannot open: No such file or directory");
  EXPECT_EQ(details.failure, Failure::kOpen);
  EXPECT_EQ(details.error_number, ENOENT);
  EXPECT_EQ(details.mode, 0u);
}

TEST_F(ReadSmallFileTest, UnreadableFile) {
  if (geteuid() == 0) GTEST_SKIP() << "root reads mode 000 files";
  std::string path = Write("f", "s3cret", 0000);
  ReadFileDetails details;
  auto r = ReadSmallFile(path, 16, &details);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().message(), path + ": cannot open: Permission denied");
  EXPECT_EQ(details.failure, Failure::kOpen);
  EXPECT_EQ(details.error_number, EACCES);
}

TEST_F(ReadSmallFileTest, DirectoryIsNotARegularFile) {
  ReadFileDetails details;
  auto r = ReadSmallFile(dir_, 16, &details);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().message(), dir_ + ": not a regular file");
  EXPECT_EQ(details.failure, Failure::kNotRegular);
  EXPECT_EQ(details.error_number, 0);
  EXPECT_TRUE(S_ISDIR(details.mode));
}

TEST_F(ReadSmallFileTest, FifoIsRefusedWithoutBlocking) {
  std::string path = dir_ + "/fifo";
  ASSERT_EQ(mkfifo(path.c_str(), 0600), 0);
  ReadFileDetails details;
  auto r = ReadSmallFile(path, 16, &details);  // would block forever without O_NONBLOCK
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().message(), path + ": not a regular file");
  EXPECT_EQ(details.failure, Failure::kNotRegular);
  EXPECT_TRUE(S_ISFIFO(details.mode));
}

TEST_F(ReadSmallFileTest, DetailsAreResetOnEachCall) {
  ReadFileDetails details;
  ASSERT_FALSE(ReadSmallFile(dir_ + "/nope", 16, &details).ok());
  ASSERT_TRUE(ReadSmallFile(Write("f", "x"), 16, &details).ok());
  EXPECT_EQ(details.failure, Failure::kNone);
  EXPECT_EQ(details.error_number, 0);
}

}  // namespace
}  // namespace latchd
