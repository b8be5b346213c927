// ThreadPool: a fixed set of workers that run parallel_for over an index range.
// Passed explicitly to whatever needs it (no global pool).
//
// A forward pass makes hundreds of parallel_for calls per token, so handing out a job must cost
// far less than a thread wake-up: workers spin on the job counter for a while (about a
// millisecond) after each job before they sleep on a condition variable.
//
// The caller never waits for a worker that has not started: a worker joins a job before it takes
// chunks, the caller closes the job once every chunk is handed out and waits only for the
// workers that joined. On a machine busy with other work (a descheduled worker, a CI neighbour)
// the caller finishes the job alone instead of stalling for a time slice at every call.
#pragma once

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <exception>
#include <functional>
#include <memory>
#include <mutex>
#include <thread>
#include <vector>

namespace flint {

class ThreadPool {
 public:
  // n_threads includes the calling thread; 0 means the number of hardware threads.
  explicit ThreadPool(int n_threads = 0);
  ~ThreadPool();
  ThreadPool(const ThreadPool&) = delete;
  ThreadPool& operator=(const ThreadPool&) = delete;

  int size() const { return static_cast<int>(workers_.size()) + 1; }

  // Calls fn(begin, end) on disjoint chunks covering [0, n); returns when all are done.
  // Chunks are handed out dynamically, `grain` indices at a time (at least 1). If fn throws,
  // the remaining chunks are skipped, every worker finishes, and the first exception is rethrown
  // on the calling thread. Not reentrant: fn must not call parallel_for on the same pool.
  void parallel_for(int64_t n, int64_t grain, const std::function<void(int64_t, int64_t)>& fn);
  // As parallel_for, but [0, n) is first cut into size() equal shares, one per thread: each
  // thread takes chunks from the front of its own share in order (so its chunks are one run of
  // indexes, end to end), then from the back of whichever share has the most left (a share whose
  // thread never joined is taken this way). Chunks are a quarter of what is left in their share,
  // at least min_grain, so no thread waits long for another's last one. A decode step's weight
  // rows are then read by each core as one stream, which the prefetchers keep ahead of, rather
  // than a new stream every chunk (as with chunks handed out from one counter: llama3-1b decoded
  // 2% faster this way). Above 2^31 indexes: as parallel_for with chunks of n / (8 * size()).
  void parallel_for_shares(int64_t n, int64_t min_grain, const std::function<void(int64_t, int64_t)>& fn);

 private:
  enum class Mode { kFixed, kShares };
  void run(int64_t n, int64_t grain, Mode mode, const std::function<void(int64_t, int64_t)>& fn);
  void worker_loop();
  // self: the thread's place in the job (the caller 0, workers 1.. in the order they joined).
  void run_chunks(int self);
  // A chunk of share i from its front (its thread) or its back (any other); false when it is empty.
  bool take(int i, bool front, int64_t* begin, int64_t* end);

  // state_: the job's generation (high 32 bits), closed (bit 31), workers joined (low 31 bits).
  static constexpr uint64_t kClosed = uint64_t{1} << 31;
  static constexpr uint64_t kJoinedMask = kClosed - 1;
  static uint32_t generation_of(uint64_t state) { return static_cast<uint32_t>(state >> 32); }

  std::vector<std::thread> workers_;
  // The job in flight: written by the caller before it publishes a new generation in state_
  // (release), read only by workers that joined it (acquire), which the caller waits for.
  const std::function<void(int64_t, int64_t)>* fn_ = nullptr;
  int64_t n_ = 0;
  int64_t grain_ = 1;
  Mode mode_ = Mode::kFixed;
  std::atomic<int64_t> next_{0};   // next index to hand out (kFixed)
  // kShares: share i's indexes left, [low 32 bits, high 32 bits), one cache line each.
  struct alignas(64) Share {
    std::atomic<uint64_t> range{0};
  };
  std::unique_ptr<Share[]> shares_;
  std::atomic<uint64_t> state_{0};
  std::atomic<int> left_{0};       // joined workers that are done with this job
  std::atomic<bool> stop_{false};
  // Sleeping workers and the first exception of the job.
  std::mutex mu_;
  std::condition_variable wake_;
  int sleepers_ = 0;
  std::exception_ptr error_;
};

}  // namespace flint
