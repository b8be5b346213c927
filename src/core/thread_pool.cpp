#include "core/thread_pool.h"

#include <algorithm>
#include <chrono>
#include <utility>

namespace flint {
namespace {

inline void cpu_relax() {
#if defined(__x86_64__) || defined(__i386__)
  __builtin_ia32_pause();
#elif defined(__aarch64__)
  asm volatile("yield");
#endif
}

// How long a worker keeps polling for the next job before it sleeps.
constexpr auto kSpin = std::chrono::microseconds(1000);

}  // namespace

ThreadPool::ThreadPool(int n_threads) {
  if (n_threads <= 0) n_threads = static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
  for (int i = 1; i < n_threads; ++i) workers_.emplace_back([this] { worker_loop(); });
}

ThreadPool::~ThreadPool() {
  {
    std::lock_guard lock(mu_);
    stop_.store(true);
  }
  wake_.notify_all();
  for (std::thread& t : workers_) t.join();
}

void ThreadPool::run_chunks() {
  for (;;) {
    int64_t begin = 0, len = grain_;
    if (!guided_) {
      begin = next_.fetch_add(grain_, std::memory_order_relaxed);
      if (begin >= n_) return;
    } else {
      begin = next_.load(std::memory_order_relaxed);
      do {
        if (begin >= n_) return;
        len = std::max(grain_, (n_ - begin) / (2 * size()));
      } while (!next_.compare_exchange_weak(begin, begin + len, std::memory_order_relaxed));
    }
    try {
      (*fn_)(begin, std::min(n_, begin + len));
    } catch (...) {
      std::lock_guard lock(mu_);
      if (!error_) error_ = std::current_exception();
      next_.store(n_, std::memory_order_relaxed);  // hand out no more chunks
    }
  }
}

void ThreadPool::worker_loop() {
  uint32_t seen = 0;
  for (;;) {
    uint64_t s = state_.load(std::memory_order_acquire);
    if (generation_of(s) == seen && !stop_.load(std::memory_order_relaxed)) {
      const auto until = std::chrono::steady_clock::now() + kSpin;
      for (int i = 0; generation_of(s = state_.load(std::memory_order_acquire)) == seen; ++i) {
        if (stop_.load(std::memory_order_relaxed)) break;
        cpu_relax();
        if ((i & 1023) == 1023 && std::chrono::steady_clock::now() > until) {
          std::unique_lock lock(mu_);
          ++sleepers_;
          wake_.wait(lock, [&] {
            return generation_of(state_.load(std::memory_order_acquire)) != seen || stop_.load();
          });
          --sleepers_;
        }
      }
    }
    if (stop_.load()) return;
    // Join the newest job unless the caller has closed it already (then it needs no help).
    seen = generation_of(s);
    while (!(s & kClosed) &&
           !state_.compare_exchange_weak(s, s + 1, std::memory_order_acq_rel, std::memory_order_acquire)) {
      if (generation_of(s) != seen) break;  // a newer job: the loop above picks it up
    }
    if (generation_of(s) != seen || (s & kClosed)) continue;
    run_chunks();
    left_.fetch_add(1, std::memory_order_release);
  }
}

void ThreadPool::parallel_for(int64_t n, int64_t grain,
                              const std::function<void(int64_t, int64_t)>& fn) {
  run(n, grain, false, fn);
}

void ThreadPool::parallel_for_guided(int64_t n, int64_t min_grain,
                                     const std::function<void(int64_t, int64_t)>& fn) {
  run(n, min_grain, true, fn);
}

void ThreadPool::run(int64_t n, int64_t grain, bool guided, const std::function<void(int64_t, int64_t)>& fn) {
  if (n <= 0) return;
  grain = std::max<int64_t>(1, grain);
  if (workers_.empty() || n <= grain) {
    fn(0, n);
    return;
  }
  fn_ = &fn;
  n_ = n;
  grain_ = grain;
  guided_ = guided;
  error_ = nullptr;
  next_.store(0, std::memory_order_relaxed);
  left_.store(0, std::memory_order_relaxed);
  const uint32_t generation = generation_of(state_.load(std::memory_order_relaxed)) + 1;
  state_.store(static_cast<uint64_t>(generation) << 32, std::memory_order_release);
  {
    std::lock_guard lock(mu_);
    if (sleepers_ > 0) wake_.notify_all();
  }
  run_chunks();
  // Every index is handed out: close the job to latecomers, then wait for the workers that
  // joined (they may still be running their last chunk), so fn stays alive until they are done.
  const uint64_t s = state_.fetch_or(kClosed, std::memory_order_acq_rel);
  const int joined = static_cast<int>(s & kJoinedMask);
  for (uint32_t i = 1; left_.load(std::memory_order_acquire) != joined; ++i) {
    cpu_relax();
    if ((i & 1023) == 0) std::this_thread::yield();  // a joined worker may be off its core
  }
  fn_ = nullptr;
  if (error_) std::rethrow_exception(std::exchange(error_, nullptr));
}

}  // namespace flint
