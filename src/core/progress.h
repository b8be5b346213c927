// Progress: a one-line progress bar on a terminal (stderr), plain periodic lines otherwise.
#pragma once

#include <chrono>
#include <cstdint>
#include <cstdio>
#include <string>

namespace flint {

class Progress {
 public:
  // `total` is in `unit`s (e.g. bytes); `enabled` false makes every call a no-op.
  Progress(std::string label, uint64_t total, bool enabled = true, std::FILE* out = stderr);
  ~Progress();  // finishes the line
  Progress(const Progress&) = delete;
  Progress& operator=(const Progress&) = delete;

  void advance(uint64_t amount, const std::string& detail = {});
  void finish();

 private:
  void draw(bool final_draw);
  std::string label_;
  uint64_t total_;
  uint64_t done_ = 0;
  bool enabled_;
  bool tty_;
  bool finished_ = false;
  std::FILE* out_;
  std::string detail_;
  std::chrono::steady_clock::time_point start_;
  std::chrono::steady_clock::time_point last_draw_;
};

// "1.23 GiB", "512.0 KiB", "17 B".
std::string format_bytes(uint64_t bytes);
// "1.24 B", "818.6 K", "512": counts such as parameters.
std::string format_count(uint64_t n);

}  // namespace flint
