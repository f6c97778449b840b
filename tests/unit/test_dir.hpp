// A directory of its own for each unit test: under the system's temp dir, named after the
// prefix, the process and the running test (so parallel ctest runs and repeated tests never
// share one), emptied before the test uses it. The fixture removes it in TearDown.
#pragma once

#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <string>
#include <string_view>

namespace estate::testing {

inline std::filesystem::path fresh_test_dir(std::string_view prefix) {
  const auto* info = ::testing::UnitTest::GetInstance()->current_test_info();
  auto dir = std::filesystem::temp_directory_path() /
             (std::string(prefix) + "-" + std::to_string(::getpid()) + "-" +
              (info ? std::string(info->test_suite_name()) + "." + info->name() : "no-test"));
  std::filesystem::remove_all(dir);
  return dir;
}

}  // namespace estate::testing
