// Runs the flint binary as a user would (through the shell), for the end-to-end tests.
#pragma once

#include <sys/wait.h>

#include <array>
#include <cstdio>
#include <string>

#include <gtest/gtest.h>

namespace flint {

struct Output {
  int exit_code;
  std::string out;  // stdout and stderr together
};

// `env`: assignments put before the command ("FLINT_CACHE_DIR=/tmp/x"); with stdout_only the
// output holds stdout alone (stderr, where progress goes, is dropped): for --json.
inline Output run_flint(const std::string& args, const std::string& env = "", bool stdout_only = false) {
  const std::string cmd = env + (env.empty() ? "" : " ") + std::string(FLINT_BIN) + " " + args +
                          (stdout_only ? " 2>/dev/null" : " 2>&1");
  std::FILE* p = ::popen(cmd.c_str(), "r");
  EXPECT_NE(p, nullptr);
  Output o{-1, {}};
  std::array<char, 4096> buf;
  size_t n;
  while ((n = std::fread(buf.data(), 1, buf.size(), p)) > 0) o.out.append(buf.data(), n);
  const int status = ::pclose(p);
  o.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  return o;
}

}  // namespace flint
