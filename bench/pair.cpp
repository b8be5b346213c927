// Two GGUF files in two flint engines in one process, decoding the same tokens in alternated
// bursts: the decode speed of B against A with the noise of a shared machine paired away. For
// what a file's bytes change (two quantizations of a model, the same file once cached in 4 KiB
// and once in 2 MiB pages, a copy on another disk), where two separate `flint bench` runs land in
// different memory minutes (a VM whose reads switch between ~30 and ~60 GB/s every 10-30 s).
//
// Not part of the CMake build; bench/pair.sh compiles it against build/src's libraries.
//   pair A.gguf B.gguf [--rounds 30] [--burst 16] [--depth 0] [--threads 2] [--repack-a 1] [--repack-b 1]
// (--repack-a 0: engine A reads every weight from the mapping, as `--no-repack`; with the same
// file twice that pairs the repacked weights against the file's layout.)
// Each round: the same `burst` random tokens (a fresh draw per round) decoded one at a time by
// each engine from the same state (`depth` random tokens already in the context, kept), the order
// flipping every round. Prints every round's B/A speed ratio, then their median and quartiles and
// the ratio of the total times. Two copies of one file in the same page state give a median
// within ~1% of 1.000 here: differences under ~2% need several runs.
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <memory>
#include <random>
#include <string>
#include <vector>

#include "runtime/engine.h"

namespace {

double now() { return std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch()).count(); }

struct Options {
  std::string a, b;
  int rounds = 30, burst = 16, depth = 0, threads = 2;
  bool repack_a = true, repack_b = true;
};

bool parse(int argc, char** argv, Options* o) {
  if (argc < 3) return false;
  o->a = argv[1];
  o->b = argv[2];
  for (int i = 3; i + 1 < argc; i += 2) {
    const std::string flag = argv[i];
    const int v = std::atoi(argv[i + 1]);
    if (flag == "--rounds" && v > 0) {
      o->rounds = v;
    } else if (flag == "--burst" && v > 0) {
      o->burst = v;
    } else if (flag == "--depth" && v >= 0) {
      o->depth = v;
    } else if (flag == "--threads" && v >= 0) {
      o->threads = v;
    } else if ((flag == "--repack-a" || flag == "--repack-b") && (v == 0 || v == 1)) {
      (flag == "--repack-a" ? o->repack_a : o->repack_b) = v == 1;
    } else {
      return false;
    }
  }
  return (argc - 3) % 2 == 0;
}

[[noreturn]] void fail(const std::string& what) {
  std::fprintf(stderr, "pair: %s\n", what.c_str());
  std::exit(1);
}

// One engine with one sequence; fill() puts the context in it, burst() decodes tokens after it
// and returns the seconds they took, then drops them again.
class Side {
 public:
  Side(const std::string& path, bool repack, const Options& o) : depth_(o.depth) {
    // one sequence, flint's default batch: the depth's tokens go in as one prompt
    auto loaded = flint::runtime::Engine::load({.model_path = path, .n_ctx = o.depth + o.burst + 16,
                                                .n_threads = o.threads, .progress = false, .repack = repack});
    if (!loaded) fail(loaded.status().message());
    engine_ = std::move(*loaded);
    auto seq = engine_->add_sequence();
    if (!seq) fail(seq.status().message());
    seq_ = *seq;
  }

  void fill(const std::vector<int32_t>& prompt) {
    if (prompt.empty()) return;
    const flint::runtime::DecodeRequest r{.seq = seq_, .tokens = prompt};
    if (auto out = engine_->decode({&r, 1}); !out) fail(out.status().message());
  }

  int n_vocab() const { return static_cast<int>(engine_->spec().n_vocab); }

  double burst(const std::vector<int32_t>& tokens) {
    const double t0 = now();
    for (const int32_t& tok : tokens) {
      const flint::runtime::DecodeRequest r{.seq = seq_, .tokens = {&tok, 1}};
      if (auto out = engine_->decode({&r, 1}); !out) fail(out.status().message());
    }
    const double dt = now() - t0;
    engine_->truncate_sequence(seq_, depth_);
    return dt;
  }

 private:
  std::unique_ptr<flint::runtime::Engine> engine_;
  int32_t seq_ = -1;
  int32_t depth_ = 0;
};

double quantile(std::vector<double> v, double q) {
  std::sort(v.begin(), v.end());
  return v.empty() ? 0.0 : v[static_cast<size_t>(q * static_cast<double>(v.size() - 1) + 0.5)];
}

}  // namespace

int main(int argc, char** argv) {
  Options o;
  if (!parse(argc, argv, &o)) {
    std::fprintf(stderr, "usage: pair A.gguf B.gguf [--rounds N] [--burst N] [--depth N] [--threads N] "
                         "[--repack-a 0|1] [--repack-b 0|1]\n");
    return 2;
  }
  std::mt19937 rng(1);
  Side a(o.a, o.repack_a, o), b(o.b, o.repack_b, o);
  if (b.n_vocab() != a.n_vocab()) fail("the two files have different vocabularies: their tokens differ");
  // The context before the bursts: the same random tokens in both.
  std::vector<int32_t> prompt(static_cast<size_t>(o.depth));
  for (int32_t& t : prompt) t = static_cast<int32_t>(rng() % static_cast<uint32_t>(a.n_vocab()));
  a.fill(prompt);
  b.fill(prompt);

  std::vector<int32_t> tokens(static_cast<size_t>(o.burst));
  auto draw = [&] {
    for (int32_t& t : tokens) t = static_cast<int32_t>(rng() % static_cast<uint32_t>(a.n_vocab()));
  };
  draw();
  a.burst(tokens);  // warm-up: the first touches, the thread pools
  b.burst(tokens);
  std::vector<double> ratio;
  double ta = 0, tb = 0;
  for (int r = 0; r < o.rounds; ++r) {
    draw();
    double sa = 0, sb = 0;
    if (r % 2 == 0) {
      sa = a.burst(tokens);
      sb = b.burst(tokens);
    } else {
      sb = b.burst(tokens);
      sa = a.burst(tokens);
    }
    ta += sa;
    tb += sb;
    ratio.push_back(sa / sb);
    std::printf("round %3d  A %7.2f t/s  B %7.2f t/s  B/A %.3f\n", r, o.burst / sa, o.burst / sb, sa / sb);
    std::fflush(stdout);
  }
  std::printf("B/A decode speed: median %.4f (quartiles %.4f %.4f), total %.4f; A %.2f t/s, B %.2f t/s\n",
              quantile(ratio, 0.5), quantile(ratio, 0.25), quantile(ratio, 0.75), ta / tb,
              o.burst * o.rounds / ta, o.burst * o.rounds / tb);
}
