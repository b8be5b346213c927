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

uint64_t pack(int64_t begin, int64_t end) { return static_cast<uint64_t>(begin) | (static_cast<uint64_t>(end) << 32); }
int64_t low(uint64_t r) { return static_cast<int64_t>(r & 0xFFFFFFFFu); }
int64_t high(uint64_t r) { return static_cast<int64_t>(r >> 32); }

}  // namespace

ThreadPool::ThreadPool(int n_threads) {
  if (n_threads <= 0) n_threads = static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
  shares_ = std::make_unique<Share[]>(static_cast<size_t>(n_threads));
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

bool ThreadPool::take(int i, bool front, int64_t* begin, int64_t* end) {
  std::atomic<uint64_t>& range = shares_[static_cast<size_t>(i)].range;
  uint64_t r = range.load(std::memory_order_relaxed);
  for (;;) {
    const int64_t b = low(r), e = high(r);
    if (b >= e) return false;
    const int64_t len = std::max(grain_, (e - b) / 4);
    const int64_t cut = front ? std::min(e, b + len) : std::max(b, e - len);
    if (range.compare_exchange_weak(r, front ? pack(cut, e) : pack(b, cut), std::memory_order_relaxed)) {
      *begin = front ? b : cut;
      *end = front ? cut : e;
      return true;
    }
  }
}

void ThreadPool::run_chunks(int self) {
  if (mode_ == Mode::kShares) {
    int64_t begin = 0, end = 0;
    for (;;) {
      bool got = self < size() && take(self, true, &begin, &end);
      while (!got) {  // the share with the most left, from its back
        int victim = -1;
        int64_t most = 0;
        for (int i = 0; i < size(); ++i) {
          const uint64_t r = shares_[static_cast<size_t>(i)].range.load(std::memory_order_relaxed);
          if (high(r) - low(r) > most) {
            most = high(r) - low(r);
            victim = i;
          }
        }
        if (victim < 0) return;
        got = take(victim, false, &begin, &end);
      }
      try {
        (*fn_)(begin, end);
      } catch (...) {
        std::lock_guard lock(mu_);
        if (!error_) error_ = std::current_exception();
        for (int i = 0; i < size(); ++i) shares_[static_cast<size_t>(i)].range.store(0, std::memory_order_relaxed);
      }
    }
  }
  for (;;) {
    const int64_t begin = next_.fetch_add(grain_, std::memory_order_relaxed);
    if (begin >= n_) return;
    try {
      (*fn_)(begin, std::min(n_, begin + grain_));
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
    run_chunks(static_cast<int>(s & kJoinedMask) + 1);
    left_.fetch_add(1, std::memory_order_release);
  }
}

void ThreadPool::parallel_for(int64_t n, int64_t grain,
                              const std::function<void(int64_t, int64_t)>& fn) {
  run(n, grain, Mode::kFixed, fn);
}

void ThreadPool::parallel_for_shares(int64_t n, int64_t min_grain, const std::function<void(int64_t, int64_t)>& fn) {
  if (n >= (int64_t{1} << 31)) {
    run(n, std::max(min_grain, n / (8 * size())), Mode::kFixed, fn);
    return;
  }
  run(n, min_grain, Mode::kShares, fn);
}

void ThreadPool::run(int64_t n, int64_t grain, Mode mode, const std::function<void(int64_t, int64_t)>& fn) {
  if (n <= 0) return;
  grain = std::max<int64_t>(1, grain);
  if (workers_.empty() || n <= grain) {
    fn(0, n);
    return;
  }
  fn_ = &fn;
  n_ = n;
  grain_ = grain;
  mode_ = mode;
  error_ = nullptr;
  next_.store(0, std::memory_order_relaxed);
  if (mode == Mode::kShares) {
    const int parts = size();
    for (int i = 0; i < parts; ++i) {
      shares_[static_cast<size_t>(i)].range.store(pack(n * i / parts, n * (i + 1) / parts), std::memory_order_relaxed);
    }
  }
  left_.store(0, std::memory_order_relaxed);
  const uint32_t generation = generation_of(state_.load(std::memory_order_relaxed)) + 1;
  state_.store(static_cast<uint64_t>(generation) << 32, std::memory_order_release);
  {
    std::lock_guard lock(mu_);
    if (sleepers_ > 0) wake_.notify_all();
  }
  run_chunks(0);
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
