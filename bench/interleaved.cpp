// flint and llama.cpp in one process, generating (or processing prompts) in short alternated
// bursts, for machines whose memory speed changes faster than two separate benchmark runs (a VM
// whose reads switch between ~30 and ~60 GB/s every 10-30 s makes `flint bench` against
// `llama-bench` a comparison of two different minutes). Each round times a read test, a burst of
// one engine, a burst of the other (the order alternating by round) and the read test again, so
// every flint burst has a llama.cpp burst beside it at the same memory speed. The read test is
// flint bench's (planner::ReadMeter on flint's threads).
//
// Not part of the CMake build (it needs a llama.cpp build); bench/interleaved.sh compiles it.
//   interleaved MODEL.gguf [--burst N] [--rounds N] [--depth N] [--n-gen N] [--prompt N] [--threads N]
// Both engines: the same file, one sequence, tokens drawn at random (llama-bench's tg test), the
// context cleared and refilled with `depth` random tokens every n-gen tokens (tg128 @ dN). With
// --prompt N a burst is instead one prompt of N tokens after the depth's (pp512 @ dN).
// llama.cpp runs as llama-bench does (its thread pool, polling 50, flash attention auto); its
// pool is paused while flint runs.
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <random>
#include <string>
#include <vector>

#include "backend/cpu/kernels.h"
#include "ggml-backend.h"
#include "ggml-cpu.h"
#include "llama.h"
#include "planner/probe.h"
#include "runtime/engine.h"

namespace {

double now() { return std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch()).count(); }

struct Options {
  std::string model;
  int burst = 16, rounds = 40, depth = 0, n_gen = 128, prompt = 0, threads = 2;
};

bool parse(int argc, char** argv, Options* o) {
  if (argc < 2) return false;
  o->model = argv[1];
  for (int i = 2; i + 1 < argc; i += 2) {
    const std::string flag = argv[i];
    const int v = std::atoi(argv[i + 1]);
    if (flag == "--burst")
      o->burst = v;
    else if (flag == "--rounds")
      o->rounds = v;
    else if (flag == "--depth")
      o->depth = v;
    else if (flag == "--n-gen")
      o->n_gen = v;
    else if (flag == "--prompt")
      o->prompt = v;
    else if (flag == "--threads")
      o->threads = v;
    else
      return false;
  }
  return (argc % 2 == 0) && o->burst > 0 && o->rounds > 0 && o->depth >= 0 && o->n_gen > 0 && o->prompt >= 0 &&
         o->threads > 0;
}

// One engine's generation: refill() clears the context and processes the depth's prompt, burst()
// generates n tokens (refilling, untimed, whenever n_gen tokens follow the prompt) and returns t/s;
// prompt_burst() refills, then times one prompt of o.prompt random tokens.
class Llama {
 public:
  Llama(const Options& o, const std::vector<int32_t>& prompt, std::mt19937& rng) : o_(o), prompt_(prompt), rng_(rng) {
    llama_backend_init();
    llama_log_set([](ggml_log_level, const char*, void*) {}, nullptr);
    llama_model_params mp = llama_model_default_params();
    mp.n_gpu_layers = 0;
    model_ = llama_model_load_from_file(o.model.c_str(), mp);
    if (model_ == nullptr) fail("llama.cpp cannot load the model");
    llama_context_params cp = llama_context_default_params();
    cp.n_ctx = static_cast<uint32_t>(o.depth + std::max(o.n_gen, o.prompt) + 16);
    cp.n_batch = 2048;
    cp.n_ubatch = 512;
    cp.flash_attn_type = LLAMA_FLASH_ATTN_TYPE_AUTO;
    cp.no_perf = true;
    ctx_ = llama_init_from_model(model_, cp);
    if (ctx_ == nullptr) fail("llama.cpp cannot create a context");
    ggml_threadpool_params tpp = ggml_threadpool_params_default(o.threads);
    tpp.poll = 50;
    pool_ = ggml_threadpool_new(&tpp);
    llama_attach_threadpool(ctx_, pool_, nullptr);
    llama_set_n_threads(ctx_, o.threads, o.threads);
    n_vocab_ = llama_vocab_n_tokens(llama_model_get_vocab(model_));
  }
  ~Llama() {
    llama_free(ctx_);
    ggml_threadpool_free(pool_);
    llama_model_free(model_);
  }
  Llama(const Llama&) = delete;
  Llama& operator=(const Llama&) = delete;

  int n_vocab() const { return n_vocab_; }

  double burst() {
    ggml_threadpool_resume(pool_);
    double untimed = 0;
    const double t0 = now();
    for (int i = 0; i < o_.burst; ++i) {
      if (generated_ < 0 || generated_ >= o_.n_gen) untimed += refill();
      llama_token tok = static_cast<llama_token>(rng_() % n_vocab_);
      if (llama_decode(ctx_, llama_batch_get_one(&tok, 1)) != 0) fail("llama_decode failed");
      llama_synchronize(ctx_);
      ++generated_;
    }
    const double dt = now() - t0 - untimed;
    ggml_threadpool_pause(pool_);
    return o_.burst / dt;
  }

  double prompt_burst() {
    ggml_threadpool_resume(pool_);
    refill();
    std::vector<llama_token> p(static_cast<size_t>(o_.prompt));
    for (llama_token& t : p) t = static_cast<llama_token>(rng_() % n_vocab_);
    const double t0 = now();
    decode_all(p);
    const double dt = now() - t0;
    generated_ = -1;
    ggml_threadpool_pause(pool_);
    return o_.prompt / dt;
  }

 private:
  [[noreturn]] static void fail(const char* what) {
    std::fprintf(stderr, "interleaved: %s\n", what);
    std::exit(1);
  }
  double refill() {
    const double t0 = now();
    llama_memory_clear(llama_get_memory(ctx_), true);
    std::vector<int32_t> p = prompt_;
    decode_all(p);
    generated_ = 0;
    return now() - t0;
  }
  // A prompt in llama-bench's batches (n_batch = 2048 tokens).
  void decode_all(std::vector<llama_token>& p) {
    for (size_t i = 0; i < p.size(); i += 2048) {
      const auto n = static_cast<int32_t>(std::min<size_t>(2048, p.size() - i));
      if (llama_decode(ctx_, llama_batch_get_one(p.data() + i, n)) != 0) fail("llama_decode (prompt) failed");
    }
    llama_synchronize(ctx_);
  }
  const Options& o_;
  const std::vector<int32_t>& prompt_;
  std::mt19937& rng_;
  llama_model* model_ = nullptr;
  llama_context* ctx_ = nullptr;
  ggml_threadpool* pool_ = nullptr;
  int n_vocab_ = 0;
  int generated_ = -1;
};

class Flint {
 public:
  Flint(const Options& o, const std::vector<int32_t>& prompt, std::mt19937& rng, int n_vocab)
      : o_(o), prompt_(prompt), rng_(rng), n_vocab_(n_vocab) {
    auto loaded = flint::runtime::Engine::load({.model_path = o.model,
                                                .n_ctx = o.depth + std::max(o.n_gen, o.prompt) + 16,
                                                .n_seq = 1,
                                                .n_batch = 512,
                                                .n_threads = o.threads,
                                                .progress = false});
    if (!loaded) fail(loaded.status().message());
    engine_ = std::move(*loaded);
  }

  double burst() {
    double untimed = 0;
    const double t0 = now();
    for (int i = 0; i < o_.burst; ++i) {
      if (generated_ < 0 || generated_ >= o_.n_gen) untimed += refill();
      const auto tok = static_cast<int32_t>(rng_() % n_vocab_);
      const flint::runtime::DecodeRequest r{.seq = seq_, .tokens = {&tok, 1}};
      if (auto out = engine_->decode({&r, 1}); !out) fail(out.status().message());
      ++generated_;
    }
    return o_.burst / (now() - t0 - untimed);
  }

  flint::ThreadPool& pool() { return engine_->pool(); }

  double prompt_burst() {
    refill();
    std::vector<int32_t> p(static_cast<size_t>(o_.prompt));
    for (int32_t& t : p) t = static_cast<int32_t>(rng_() % n_vocab_);
    const double t0 = now();
    const flint::runtime::DecodeRequest r{.seq = seq_, .tokens = p};
    if (auto out = engine_->decode({&r, 1}); !out) fail(out.status().message());
    const double dt = now() - t0;
    generated_ = -1;
    return o_.prompt / dt;
  }

 private:
  [[noreturn]] static void fail(const std::string& what) {
    std::fprintf(stderr, "interleaved: flint: %s\n", what.c_str());
    std::exit(1);
  }
  double refill() {
    const double t0 = now();
    if (seq_ >= 0) engine_->remove_sequence(seq_);
    auto seq = engine_->add_sequence();
    if (!seq) fail(seq.status().message());
    seq_ = *seq;
    if (!prompt_.empty()) {
      const flint::runtime::DecodeRequest r{.seq = seq_, .tokens = prompt_};
      if (auto out = engine_->decode({&r, 1}); !out) fail(out.status().message());
    }
    generated_ = 0;
    return now() - t0;
  }
  const Options& o_;
  const std::vector<int32_t>& prompt_;
  std::mt19937& rng_;
  int n_vocab_;
  std::unique_ptr<flint::runtime::Engine> engine_;
  int32_t seq_ = -1;
  int generated_ = -1;
};

// The q-quantile of v (0.5: the median), nearest rank.
double quantile(std::vector<double> v, double q) {
  std::sort(v.begin(), v.end());
  return v.empty() ? 0.0 : v[static_cast<size_t>(q * static_cast<double>(v.size() - 1) + 0.5)];
}
double median(const std::vector<double>& v) { return quantile(v, 0.5); }

struct Round {
  double read, flint, llama;
};

void summary(const char* name, const std::vector<Round>& rounds) {
  std::vector<double> read, f, l, x;
  for (const Round& r : rounds) {
    read.push_back(r.read);
    f.push_back(r.flint);
    l.push_back(r.llama);
    x.push_back(r.flint / r.llama);
  }
  std::printf(
      "%-13s rounds %3zu  read %5.1f GB/s  flint %7.2f t/s  llama.cpp %7.2f t/s  flint/llama.cpp %.3f (quartiles %.3f "
      "%.3f)\n",
      name, rounds.size(), median(read), median(f), median(l), median(x), quantile(x, 0.25), quantile(x, 0.75));
}

}  // namespace

int main(int argc, char** argv) {
  Options o;
  if (!parse(argc, argv, &o)) {
    std::fprintf(
        stderr,
        "usage: interleaved MODEL.gguf [--burst N] [--rounds N] [--depth N] [--n-gen N] [--prompt N] [--threads N]\n");
    return 2;
  }
  std::mt19937 rng(1);
  std::vector<int32_t> prompt;  // filled once the vocabulary is known; both engines hold a reference
  Llama llama(o, prompt, rng);
  prompt.resize(static_cast<size_t>(o.depth));
  for (int32_t& t : prompt) t = static_cast<int32_t>(rng() % llama.n_vocab());
  Flint flint(o, prompt, rng, llama.n_vocab());
  // flint bench's read test (the probe's buffer size), on flint's threads, best of two passes
  auto meter = flint::planner::ReadMeter::create(flint::planner::read_test_bytes(), o.threads);
  if (!meter) {
    std::fprintf(stderr, "interleaved: read test: %s\n", meter.status().message().c_str());
    return 1;
  }
  auto read_gbps = [&] { return meter->measure(flint.pool(), flint::cpu::best_kernels(), 2); };
  auto run_flint = [&] { return o.prompt > 0 ? flint.prompt_burst() : flint.burst(); };
  auto run_llama = [&] { return o.prompt > 0 ? llama.prompt_burst() : llama.burst(); };
  run_llama();  // warm-up: first touches of the weights, the refills
  run_flint();

  std::vector<Round> rounds;
  for (int r = 0; r < o.rounds; ++r) {
    const double b0 = read_gbps();
    double f, l;
    if (r % 2 == 0) {
      f = run_flint();
      l = run_llama();
    } else {
      l = run_llama();
      f = run_flint();
    }
    const double b1 = read_gbps();
    rounds.push_back({std::min(b0, b1), f, l});
    std::printf("round %3d  read %5.1f %5.1f GB/s  flint %7.2f t/s  llama.cpp %7.2f t/s  x %.3f\n", r, b0, b1, f, l,
                f / l);
    std::fflush(stdout);
  }
  // Rounds split at the median read speed: on a machine whose memory has two speeds, the halves
  // are roughly the two regimes (roughly: the speed can change within a round; the ratio of each
  // round stands, its two bursts being adjacent and their order alternating).
  std::vector<Round> sorted = rounds;
  std::sort(sorted.begin(), sorted.end(), [](const Round& a, const Round& b) { return a.read < b.read; });
  const auto half = static_cast<std::ptrdiff_t>(sorted.size() / 2);
  summary("all", rounds);
  summary("slower reads", {sorted.begin(), sorted.begin() + half});
  summary("faster reads", {sorted.begin() + half, sorted.end()});
}
