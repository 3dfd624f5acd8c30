// A test fixture with a fresh directory of its own for files the test writes.
// SetUp makes it with mkdtemp under $TMPDIR (or /tmp) and fails the test if it
// cannot; TearDown removes it and everything below it, ignoring errors.
// Thread-safety: like any fixture, used by the test's own thread.
#ifndef LATCHD_TESTS_UNIT_TEMP_DIR_H_
#define LATCHD_TESTS_UNIT_TEMP_DIR_H_

#include <sys/stat.h>
#include <sys/types.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <string>
#include <system_error>

#include <gtest/gtest.h>

namespace latchd::testing {

class TempDirTest : public ::testing::Test {
 protected:
  void SetUp() override {
    const char* tmp = std::getenv("TMPDIR");
    std::string templ = std::string(tmp != nullptr && *tmp != '\0' ? tmp : "/tmp") +
                        "/latchd-unit-test-XXXXXX";
    ASSERT_NE(mkdtemp(templ.data()), nullptr);
    dir_ = templ;
  }
  void TearDown() override {
    std::error_code ec;
    std::filesystem::remove_all(dir_, ec);
  }
  // Writes `content` (bytes as given) to dir_/name, replacing any such file,
  // and gives it `mode`. Returns the path.
  std::string Write(const std::string& name, const std::string& content, mode_t mode = 0600) {
    std::string path = dir_ + "/" + name;
    std::ofstream(path, std::ios::binary | std::ios::trunc) << content;
    chmod(path.c_str(), mode);
    return path;
  }

  std::string dir_;  // absolute; empty if SetUp failed
};

}  // namespace latchd::testing

#endif  // LATCHD_TESTS_UNIT_TEMP_DIR_H_
