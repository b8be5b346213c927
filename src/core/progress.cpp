#include "core/progress.h"

#include <unistd.h>

#include <algorithm>

#include <fmt/format.h>

namespace flint {

std::string format_bytes(uint64_t bytes) {
  constexpr const char* kUnits[] = {"B", "KiB", "MiB", "GiB", "TiB"};
  double value = static_cast<double>(bytes);
  int unit = 0;
  while (value >= 1024.0 && unit < 4) {
    value /= 1024.0;
    ++unit;
  }
  if (unit == 0) return fmt::format("{} B", bytes);
  return fmt::format("{:.2f} {}", value, kUnits[unit]);
}

std::string format_count(uint64_t n) {
  const double v = static_cast<double>(n);
  if (n >= 1000000000ull) return fmt::format("{:.2f} B", v / 1e9);
  if (n >= 1000000ull) return fmt::format("{:.2f} M", v / 1e6);
  if (n >= 1000ull) return fmt::format("{:.1f} K", v / 1e3);
  return fmt::format("{}", n);
}

Progress::Progress(std::string label, uint64_t total, bool enabled, std::FILE* out)
    : label_(std::move(label)),
      total_(total),
      enabled_(enabled),
      tty_(::isatty(::fileno(out)) != 0),
      out_(out),
      start_(std::chrono::steady_clock::now()),
      last_draw_(start_) {}

Progress::~Progress() { finish(); }

void Progress::advance(uint64_t amount, const std::string& detail) {
  if (!enabled_ || finished_) return;
  done_ = std::min(total_, done_ + amount);
  detail_ = detail;
  const auto now = std::chrono::steady_clock::now();
  // Redraw at most 10x a second on a terminal, every 5 s in a log.
  const auto interval = tty_ ? std::chrono::milliseconds(100) : std::chrono::milliseconds(5000);
  if (now - last_draw_ >= interval) {
    last_draw_ = now;
    draw(false);
  }
}

void Progress::finish() {
  if (!enabled_ || finished_) return;
  finished_ = true;
  done_ = total_;
  draw(true);
}

void Progress::draw(bool final_draw) {
  const double fraction = total_ == 0 ? 1.0 : static_cast<double>(done_) / static_cast<double>(total_);
  const double seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start_).count();
  std::string line;
  if (tty_) {
    constexpr int kWidth = 30;
    const int filled = static_cast<int>(fraction * kWidth);
    line = fmt::format("\r{} [{}{}] {:5.1f}% {:.1f}s {}", label_, std::string(filled, '#'),
                       std::string(kWidth - filled, '.'), 100.0 * fraction, seconds, detail_);
    line += "\033[K";  // clear the rest of the line
    if (final_draw) line += "\n";
  } else {
    line = fmt::format("{}: {:.1f}% ({:.1f}s){}{}\n", label_, 100.0 * fraction, seconds,
                       detail_.empty() ? "" : " ", detail_);
  }
  std::fputs(line.c_str(), out_);
  std::fflush(out_);
}

}  // namespace flint
