// Status / Result<T>: how library code reports failure.
//
// Library code never calls exit() and never prints-and-continues: it returns a Status (or a
// Result<T>) whose message says what went wrong, where (file, tensor, byte offset) and what was
// expected, so the CLI can show it to a user who can act on it. Broken internal invariants are
// not errors of this kind; they go through FLINT_CHECK, which aborts with file and line.
#pragma once

#include <cstdio>
#include <cstdlib>
#include <string>
#include <utility>
#include <optional>

#include <fmt/format.h>

namespace flint {

class [[nodiscard]] Status {
 public:
  Status() = default;  // ok
  static Status ok() { return {}; }
  static Status error(std::string message) { return Status(std::move(message)); }

  bool is_ok() const { return !failed_; }
  explicit operator bool() const { return is_ok(); }
  const std::string& message() const { return message_; }

  // Prepends context ("reading model.gguf: ") to an error; a no-op on success.
  Status with_context(const std::string& context) const {
    return failed_ ? Status(context + ": " + message_) : *this;
  }

 private:
  explicit Status(std::string message) : failed_(true), message_(std::move(message)) {}
  bool failed_ = false;
  std::string message_;
};

template <typename... Args>
Status error(fmt::format_string<Args...> format, Args&&... args) {
  return Status::error(fmt::format(format, std::forward<Args>(args)...));
}

template <typename T>
class [[nodiscard]] Result {
 public:
  Result(T value) : value_(std::move(value)) {}  // NOLINT: implicit by design
  Result(Status status) : status_(std::move(status)) {  // NOLINT: implicit by design
    if (status_.is_ok()) {
      std::fprintf(stderr, "flint: Result constructed from an ok Status\n");
      std::abort();
    }
  }

  bool is_ok() const { return value_.has_value(); }
  explicit operator bool() const { return is_ok(); }

  const Status& status() const { return status_; }
  T& value() & { return checked(); }
  const T& value() const& { return const_cast<Result*>(this)->checked(); }
  T&& value() && { return std::move(checked()); }
  T* operator->() { return &checked(); }
  const T* operator->() const { return &value(); }
  T& operator*() & { return checked(); }
  const T& operator*() const& { return value(); }
  T&& operator*() && { return std::move(checked()); }

 private:
  T& checked() {
    if (!value_) {
      std::fprintf(stderr, "flint: value() of a failed Result: %s\n", status_.message().c_str());
      std::abort();
    }
    return *value_;
  }
  std::optional<T> value_;
  Status status_;  // ok when value_ is set
};

}  // namespace flint

// Aborts with file and line: for invariants that only a bug in flint can break.
#define FLINT_CHECK(cond)                                                              \
  do {                                                                                 \
    if (!(cond)) {                                                                     \
      std::fprintf(stderr, "%s:%d: CHECK failed: %s\n", __FILE__, __LINE__, #cond);    \
      std::abort();                                                                    \
    }                                                                                  \
  } while (0)

// Propagates a failed Status out of the current function.
#define FLINT_RETURN_IF_ERROR(expr)        \
  do {                                     \
    ::flint::Status flint_status_ = (expr); \
    if (!flint_status_.is_ok()) return flint_status_; \
  } while (0)

#define FLINT_CONCAT_INNER(a, b) a##b
#define FLINT_CONCAT(a, b) FLINT_CONCAT_INNER(a, b)

// FLINT_ASSIGN_OR_RETURN(auto x, make_x()); returns the error Status if make_x() failed.
#define FLINT_ASSIGN_OR_RETURN(lhs, expr) \
  FLINT_ASSIGN_OR_RETURN_IMPL(FLINT_CONCAT(flint_result_, __LINE__), lhs, expr)
#define FLINT_ASSIGN_OR_RETURN_IMPL(tmp, lhs, expr) \
  auto tmp = (expr);                                \
  if (!tmp.is_ok()) return tmp.status();            \
  lhs = std::move(tmp).value()
