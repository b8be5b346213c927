// Every CPU kernel family this machine can run (scalar always; AVX2, AVX-512 and AVX-512 with
// BF16 on x86, NEON+dotprod on Arm)
// against the reference: matmul for every weight type on random data, the activation
// quantizers, the exp used by softmax, and paged attention.
#include <bit>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <numeric>
#include <random>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "backend/cpu/activation.h"
#include "backend/cpu/attention.h"
#include "backend/cpu/kernels.h"
#include "backend/cpu/ops.h"
#include "backend/cpu/repack.h"
#include "core/half.h"
#include "quant/quant.h"

namespace flint::cpu {
namespace {

std::vector<const KernelSet*> families() {
  std::vector<const KernelSet*> out;
  for (Isa isa : {Isa::kScalar, Isa::kAvx2, Isa::kAvx512, Isa::kAvx512Bf16, Isa::kNeonDot}) {
    if (const KernelSet* k = kernels_for(isa)) out.push_back(k);
  }
  return out;
}

std::vector<float> gaussian(size_t n, uint32_t seed, float outlier_every = 0) {
  std::mt19937 rng(seed);
  std::normal_distribution<float> dist(0.0f, 1.0f);
  std::vector<float> v(n);
  for (size_t i = 0; i < n; ++i) {
    v[i] = dist(rng);
    if (outlier_every > 0 && i % static_cast<size_t>(outlier_every) == 7) v[i] *= 12.0f;
  }
  return v;
}

// sqrt(sum (a - b)^2 / sum b^2)
double normalized_error(const std::vector<float>& a, const std::vector<float>& b) {
  double num = 0, den = 0;
  for (size_t i = 0; i < a.size(); ++i) {
    num += (static_cast<double>(a[i]) - b[i]) * (static_cast<double>(a[i]) - b[i]);
    den += static_cast<double>(b[i]) * b[i];
  }
  return std::sqrt(num / std::max(den, 1e-30));
}

struct Matrix {
  std::vector<uint8_t> bytes;
  WeightMatrix w;
};

Matrix random_matrix(DType type, int64_t n_in, int64_t n_out, uint32_t seed) {
  Matrix m;
  const std::vector<float> f = gaussian(static_cast<size_t>(n_in * n_out), seed, 53);
  const uint64_t row = *dtype_row_bytes(type, static_cast<uint64_t>(n_in));
  m.bytes.resize(row * static_cast<uint64_t>(n_out));
  for (int64_t r = 0; r < n_out; ++r) {
    Status s = quant::quantize_row(type, f.data() + r * n_in, m.bytes.data() + r * row, n_in);
    EXPECT_TRUE(s.is_ok()) << s.message();
  }
  m.w = {.type = type, .data = m.bytes.data(), .n_in = n_in, .n_out = n_out, .row_bytes = row};
  return m;
}

constexpr DType kTypes[] = {DType::F32,  DType::F16,  DType::BF16, DType::Q4_0,   DType::Q4_1,
                            DType::Q5_0, DType::Q5_1, DType::Q8_0, DType::Q2_K,   DType::Q3_K,
                            DType::Q4_K, DType::Q5_K, DType::Q6_K, DType::IQ4_NL, DType::MXFP4};

class MatmulKernels : public ::testing::TestWithParam<DType> {};

TEST_P(MatmulKernels, EveryFamilyMatchesTheReference) {
  const DType type = GetParam();
  ASSERT_TRUE(matmul_supports(type));
  const bool k_quant = dtype_info(type).block_elems == 256;
  std::vector<int64_t> widths = {256, 768};
  if (!k_quant) {
    widths.push_back(160);  // a row shorter than a panel's 256 values at the end
    widths.push_back(288);  // 8 blocks and one more (the decode kernels' short last group)
  }
  if (dtype_info(type).block_elems == 1) widths.push_back(300);  // a last panel of 32 + 8 + 4
  // Q4_1 and Q5_1 pair with Q8_1, whose s = d * sum(q) llama.cpp stores as F16: the kernels keep
  // that rounding (it is what llama.cpp computes), the reference sums exact products.
  const double bound = type == DType::Q4_1 || type == DType::Q5_1 ? 3e-3 : 2e-6;
  ThreadPool pool(2);
  for (int64_t n_in : widths) {
    const Matrix m = random_matrix(type, n_in, 37, static_cast<uint32_t>(n_in) + 11);
    for (int64_t n_tok : {1, 3, 5, 17}) {  // direct path (<= 4 tokens) and the row-tile path
      const std::vector<float> x = gaussian(static_cast<size_t>(n_tok * n_in), 99 + static_cast<uint32_t>(n_tok), 41);
      std::vector<float> ref(static_cast<size_t>(n_tok * m.w.n_out));
      matmul_reference(pool, m.w, x.data(), ref.data(), n_tok);
      std::vector<float> scalar_y;
      for (const KernelSet* ks : families()) {
        std::vector<float> y(ref.size(), std::nanf(""));
        matmul(pool, *ks, m.w, x.data(), y.data(), n_tok);
        const double err = normalized_error(y, ref);
        EXPECT_LT(err, bound) << dtype_name(type) << " " << isa_name(ks->isa) << " n_in " << n_in
                             << " tokens " << n_tok;
        if (ks->isa == Isa::kScalar) {
          scalar_y = y;
        } else {
          EXPECT_LT(normalized_error(y, scalar_y), 2e-6) << isa_name(ks->isa) << " vs scalar";
        }
      }
    }
  }
}

// A token's result must not depend on how many tokens share the call (the fused few-token
// kernels and the row-tile path sum in the same order): otherwise a prompt run as one batch and
// the same prompt run token by token drift apart, and a near-tie in MoE routing flips.
TEST_P(MatmulKernels, ATokensRowIsTheSameAloneAndInABatch) {
  const DType type = GetParam();
  const bool k_quant = dtype_info(type).block_elems == 256;
  // 288: a 32-value row that ends in a short panel (and a short group of the decode kernels);
  // 16416: wider than the decode kernels prepare activations for on the stack (kPairsMaxIn)
  std::vector<int64_t> widths = {512, k_quant ? 768 : 288};
  if (!k_quant) widths.push_back(16416);
  if (!k_quant) widths.push_back(416);  // a full group of 8 blocks and a tail of 5
  if (dtype_info(type).block_elems == 1) widths.push_back(300);  // values past a multiple of 8
  // 29 rows on 2 threads: chunks of one row; 77 rows on 1: chunks of 9 rows and a short one, so
  // the kernels that take several rows together run, with rows left over
  for (const auto& [threads, n_out] : {std::pair{2, 29}, std::pair{1, 77}}) {
    ThreadPool pool(threads);
    for (int64_t n_in : widths) {
      const Matrix m = random_matrix(type, n_in, n_out, 3);
      for (int64_t n_tok : {2, 3, 4, 9}) {  // each few-token kernel, and the row-tile path
        const std::vector<float> x = gaussian(static_cast<size_t>(n_tok * n_in), 8, 41);
        for (const KernelSet* ks : families()) {
          std::vector<float> batch(static_cast<size_t>(n_tok * n_out));
          matmul(pool, *ks, m.w, x.data(), batch.data(), n_tok);
          for (int64_t t = 0; t < n_tok; ++t) {
            std::vector<float> one(static_cast<size_t>(n_out));
            matmul(pool, *ks, m.w, x.data() + t * n_in, one.data(), 1);
            for (int r = 0; r < n_out; ++r) {
              ASSERT_EQ(one[static_cast<size_t>(r)], batch[static_cast<size_t>(t * n_out + r)])
                  << isa_name(ks->isa) << " n_in " << n_in << " rows " << n_out << " batch " << n_tok
                  << " token " << t << " row " << r;
            }
          }
        }
      }
    }
  }
}

// Several products in one pass give what one matmul each gives, also when jobs share an input
// with different token counts (the shared quantized rows cover the most any of them asks); the
// second set is a decode step's (at most 4 tokens: the jobs' rows end to end, in chunks that run
// from one job into the next, an empty job among them).
TEST_P(MatmulKernels, ManyJobsGiveWhatEachGivesAlone) {
  const DType type = GetParam();
  ThreadPool pool(2);
  const Matrix a = random_matrix(type, 512, 21, 4), b = random_matrix(type, 512, 40, 6);
  const std::vector<float> x = gaussian(static_cast<size_t>(11 * 512), 12, 41);
  const std::vector<float> x2 = gaussian(static_cast<size_t>(6 * 512), 13, 41);
  struct Want {
    const WeightMatrix* w;
    const float* x;
    int64_t n;
  };
  const std::vector<std::vector<Want>> sets = {
      {{&a.w, x.data(), 2}, {&b.w, x.data(), 11}, {&a.w, x2.data(), 6}, {&b.w, x.data(), 0}, {&a.w, x.data(), 5}},
      {{&a.w, x.data(), 1}, {&b.w, x.data(), 4}, {&a.w, x2.data(), 0}, {&b.w, x2.data(), 3}, {&a.w, x.data(), 2}}};
  for (const std::vector<Want>& wants : sets) {
    for (const KernelSet* ks : families()) {
      std::vector<std::vector<float>> got(wants.size()), alone(wants.size());
      std::vector<MatmulJob> jobs;
      for (size_t i = 0; i < wants.size(); ++i) {
        got[i].assign(static_cast<size_t>(std::max<int64_t>(1, wants[i].n) * wants[i].w->n_out), -1.0f);
        alone[i] = got[i];
        jobs.push_back({.w = wants[i].w, .x = wants[i].x, .y = got[i].data(), .n_tokens = wants[i].n});
        matmul(pool, *ks, *wants[i].w, wants[i].x, alone[i].data(), wants[i].n);
      }
      matmul_many(pool, *ks, jobs);
      for (size_t i = 0; i < wants.size(); ++i) {
        for (size_t k = 0; k < got[i].size(); ++k) {
          ASSERT_EQ(got[i][k], alone[i][k]) << isa_name(ks->isa) << " job " << i << " at " << k;
        }
      }
    }
  }
}

// Two families on the same random products (23 rows of each width, each token count): check(n_in,
// n_tok, y of the first, y of the second).
template <class Check>
void compare_families(const KernelSet& first, const KernelSet& second, DType type, const std::vector<int64_t>& widths,
                      std::initializer_list<int64_t> tokens, Check check) {
  ThreadPool pool(2);
  for (int64_t n_in : widths) {
    const Matrix m = random_matrix(type, n_in, 23, 5);
    for (int64_t n_tok : tokens) {
      const std::vector<float> x = gaussian(static_cast<size_t>(n_tok * n_in), 17, 41);
      std::vector<float> a(static_cast<size_t>(n_tok * 23)), b(a.size());
      matmul(pool, first, m.w, x.data(), a.data(), n_tok);
      matmul(pool, second, m.w, x.data(), b.data(), n_tok);
      check(n_in, n_tok, a, b);
    }
  }
}

void expect_same_bits(int64_t n_in, int64_t n_tok, const std::vector<float>& a, const std::vector<float>& b) {
  for (size_t i = 0; i < a.size(); ++i) ASSERT_EQ(a[i], b[i]) << "n_in " << n_in << " tokens " << n_tok << " at " << i;
}

// The AVX-512 family computes the AVX2 family's integer sums with VNNI and folds them into the
// same lanes: the results are the same bits, so a model gives the same tokens on either CPU.
TEST_P(MatmulKernels, TheX86FamiliesAgreeBitForBit) {
  const KernelSet* avx2 = kernels_for(Isa::kAvx2);
  const KernelSet* avx512 = kernels_for(Isa::kAvx512);
  if (!avx2 || !avx512) GTEST_SKIP() << "this CPU lacks AVX2 or AVX-512 VNNI";
  const DType type = GetParam();
  const bool k_quant = dtype_info(type).block_elems == 256;
  std::vector<int64_t> widths = {768, k_quant ? 512 : 288};
  if (dtype_info(type).block_elems == 1) widths.push_back(300);  // the float kernels' tails
  compare_families(*avx2, *avx512, type, widths, {1, 4, 5, 13}, expect_same_bits);
}

// avx512bf16 is avx512 but for BF16 weights, which it multiplies with vdpbf16ps: the same bits
// for every other type, and for BF16 the same products added in another order.
TEST_P(MatmulKernels, TheBf16FamilyIsAvx512ButForBf16Weights) {
  const KernelSet* avx512 = kernels_for(Isa::kAvx512);
  const KernelSet* bf16 = kernels_for(Isa::kAvx512Bf16);
  if (!avx512 || !bf16) GTEST_SKIP() << "this CPU lacks AVX-512 VNNI or AVX512_BF16";
  const DType type = GetParam();
  const bool k_quant = dtype_info(type).block_elems == 256;
  // 4128: a BF16 prompt row in three spans of steps; 300: a short last step
  std::vector<int64_t> widths = {768, k_quant ? 512 : 288};
  if (dtype_info(type).block_elems == 1) widths.insert(widths.end(), {300, 4128});
  // 70 tokens: more than one packed block of 4128 values (60)
  compare_families(*avx512, *bf16, type, widths, {1, 4, 5, 13, 70},
                   [&](int64_t n_in, int64_t n_tok, const std::vector<float>& a, const std::vector<float>& b) {
                     if (type != DType::BF16) return expect_same_bits(n_in, n_tok, a, b);
                     EXPECT_LT(normalized_error(b, a), 1e-6) << "n_in " << n_in << " tokens " << n_tok;
                   });
}

INSTANTIATE_TEST_SUITE_P(AllTypes, MatmulKernels, ::testing::ValuesIn(kTypes),
                         [](const auto& info) { return std::string(dtype_name(info.param)); });

// Q4_K, Q6_K, Q4_0 and Q8_0 repacked into groups of 16 interleaved rows (repack.h) hold the
// same blocks: read back, row by row and group by group, it is the file's bytes.
struct Rows16Matrix {
  Matrix file;
  std::vector<uint8_t> packed;
  WeightMatrix w;
};
Rows16Matrix rows16_matrix(DType type, int64_t n_in, int64_t n_out, uint32_t seed) {
  Rows16Matrix m{random_matrix(type, n_in, n_out, seed), {}, {}};
  m.packed.resize(m.file.bytes.size());
  repack_rows16(type, n_in, m.file.bytes.data(), m.packed.data(), 0, n_out / kRows16Group);
  m.w = m.file.w;
  m.w.data = m.packed.data();
  m.w.layout = Layout::kRows16;
  return m;
}

TEST(Rows16Layout, RepackingKeepsEveryBlock) {
  EXPECT_TRUE(rows16_supported(DType::Q4_K, 512, 64, 32));
  EXPECT_FALSE(rows16_supported(DType::Q4_K, 512, 40, 40));    // not whole groups
  EXPECT_FALSE(rows16_supported(DType::Q4_K, 512, 64, 24));    // slices that cut a group
  EXPECT_FALSE(rows16_supported(DType::Q4_K, 65792, 64, 64));  // wider than the kernels take
  EXPECT_TRUE(rows16_supported(DType::Q6_K, 512, 64, 64));
  EXPECT_TRUE(rows16_supported(DType::Q4_0, 512, 64, 64));
  EXPECT_TRUE(rows16_supported(DType::Q8_0, 512, 64, 64));
  EXPECT_FALSE(rows16_supported(DType::Q4_0, 96, 64, 64));  // not whole 256-value super-blocks
  EXPECT_FALSE(rows16_supported(DType::Q5_K, 512, 64, 64));
  EXPECT_FALSE(rows16_supported(DType::Q4_1, 512, 64, 64));
  for (DType type : {DType::Q4_K, DType::Q6_K, DType::Q4_0, DType::Q8_0}) {
    const Rows16Matrix m = rows16_matrix(type, 768, 48, 21);
    EXPECT_NE(m.packed, m.file.bytes);
    std::vector<uint8_t> back(m.file.bytes.size());
    unpack_rows16(m.w, 0, 3, back.data());
    EXPECT_EQ(back, m.file.bytes) << dtype_name(type);
    std::vector<uint8_t> tmp(m.w.row_bytes);
    for (int64_t r : {0, 5, 16, 47}) {
      const uint8_t* row = file_row(m.w, r, tmp.data());
      EXPECT_EQ(0, std::memcmp(row, m.file.w.row(r), m.w.row_bytes)) << dtype_name(type) << " row " << r;
    }
    // a slice of whole groups (an expert's rows) starts where its first row did
    EXPECT_EQ(m.w.rows(16, 32).data, m.packed.data() + 16 * m.w.row_bytes);
  }
}

// Every family multiplies the interleaved rows (AVX-512 VNNI in its own kernel for 1-4 tokens,
// the others and prompts through the file's format) into the same bits as the file's rows, and
// the reference and the embedding lookup read them alike.
class Rows16 : public ::testing::TestWithParam<DType> {};

TEST_P(Rows16, EveryFamilyGivesTheFileOrdersBits) {
  const DType type = GetParam();
  // 65792: more super-blocks than the interleaved kernel's stack holds (it declines)
  for (const auto& [n_in, n_out] : {std::pair<int64_t, int64_t>{256, 16}, {2048, 48}, {768, 112}, {65792, 16}}) {
    const Rows16Matrix m = rows16_matrix(type, n_in, n_out, static_cast<uint32_t>(n_in + n_out));
    for (int threads : {1, 2}) {
      ThreadPool pool(threads);
      for (int64_t n_tok : {1, 2, 3, 4, 5, 17}) {
        if (n_in > 4096 && n_tok > 4) continue;
        const std::vector<float> x = gaussian(static_cast<size_t>(n_tok * n_in), 31 + static_cast<uint32_t>(n_tok), 41);
        for (const KernelSet* ks : families()) {
          std::vector<float> want(static_cast<size_t>(n_tok * n_out)), got(want.size(), std::nanf(""));
          matmul(pool, *ks, m.file.w, x.data(), want.data(), n_tok);
          matmul(pool, *ks, m.w, x.data(), got.data(), n_tok);
          for (size_t i = 0; i < want.size(); ++i) {
            ASSERT_EQ(got[i], want[i]) << dtype_name(type) << " " << isa_name(ks->isa) << " n_in " << n_in << " rows " << n_out << " threads "
                                       << threads << " tokens " << n_tok << " at " << i;
          }
        }
      }
    }
    // AVX-512 VNNI multiplies them itself (rows 5..n_out - 3: groups computed whole, stored in part)
    if (const KernelSet* ks = kernels_for(Isa::kAvx512); ks != nullptr && n_in <= 65536) {
      ASSERT_NE(ks->gemm_rows16, nullptr);
      const std::vector<float> x = gaussian(static_cast<size_t>(n_in), 3, 41);
      std::vector<ActQ8K> act_k(static_cast<size_t>(n_in / 256));
      std::vector<ActQ8B> act_b(static_cast<size_t>(n_in / 32));
      const bool k_quant = type == DType::Q4_K || type == DType::Q6_K;
      if (k_quant) ks->quantize_q8k(x.data(), act_k.data(), n_in); else ks->quantize_q8b(x.data(), act_b.data(), n_in);
      ThreadPool pool(1);
      std::vector<float> want(static_cast<size_t>(n_out));
      matmul(pool, *ks, m.file.w, x.data(), want.data(), 1);
      // Asking for lines ahead (into L2 or as a stream) changes nothing but timing, also where
      // they lie past the matrix.
      for (int prefetch : {0, 64, 6144, 65536}) for (bool stream : {false, true}) {
        std::vector<float> got(want.size(), -1.0f);
        const GemmArgs args{.type = type, .w = m.w.data, .w_row_bytes = m.w.row_bytes, .n_in = n_in,
                            .x = k_quant ? reinterpret_cast<const uint8_t*>(act_k.data()) : reinterpret_cast<const uint8_t*>(act_b.data()),
                            .x_row_bytes = k_quant ? sizeof(ActQ8K) * act_k.size() : sizeof(ActQ8B) * act_b.size(),
                            .n_tok = 1, .y = got.data(), .y_stride = n_out, .r0 = 5, .r1 = n_out - 3,
                            .rows16_prefetch = prefetch, .rows16_stream = stream};
        ASSERT_TRUE(ks->gemm_rows16(args));
        for (int64_t r = 0; r < n_out; ++r) {
          EXPECT_EQ(got[static_cast<size_t>(r)], r >= 5 && r < n_out - 3 ? want[static_cast<size_t>(r)] : -1.0f)
              << "row " << r << " prefetch " << prefetch << " stream " << stream;
        }
      }
    }
    if (n_in > 4096) continue;
    ThreadPool pool(2);
    const std::vector<float> x = gaussian(static_cast<size_t>(3 * n_in), 5, 41);
    std::vector<float> want(static_cast<size_t>(3 * n_out)), got(want.size());
    matmul_reference(pool, m.file.w, x.data(), want.data(), 3);
    matmul_reference(pool, m.w, x.data(), got.data(), 3);
    EXPECT_EQ(got, want);
    const std::vector<int32_t> ids = {0, static_cast<int32_t>(n_out - 1), 17 % static_cast<int32_t>(n_out)};
    std::vector<float> rows_want(3 * static_cast<size_t>(n_in)), rows_got(rows_want.size());
    ASSERT_TRUE(get_rows(m.file.w, ids, rows_want.data()).is_ok());
    ASSERT_TRUE(get_rows(m.w, ids, rows_got.data()).is_ok());
    EXPECT_EQ(rows_got, rows_want);
  }
}

// A MoE step's jobs: experts sliced from one interleaved stack, beside a file-order matrix whose
// rows do not come in sixteens (the chunks then cut inside groups, which the kernel computes
// whole and stores in part).
TEST_P(Rows16, ExpertSlicesInOnePassGiveWhatEachGivesAlone) {
  const DType type = GetParam();
  const Rows16Matrix stack = rows16_matrix(type, 512, 4 * 32, 8);  // 4 experts of 32 rows
  const Matrix odd = random_matrix(type, 512, 21, 9);
  const std::vector<float> x = gaussian(6 * 512, 10, 41);
  for (int64_t n_tok : {1, 3, 6}) {
    for (bool with_odd : {false, true}) {
      for (const KernelSet* ks : families()) {
        ThreadPool pool(2);
        std::vector<WeightMatrix> slices;
        for (int e : {2, 0, 3}) slices.push_back(stack.w.rows(32 * e, 32));
        if (with_odd) slices.push_back(odd.w);
        std::vector<std::vector<float>> got(slices.size()), alone(slices.size());
        std::vector<MatmulJob> jobs;
        for (size_t i = 0; i < slices.size(); ++i) {
          got[i].assign(static_cast<size_t>(n_tok * slices[i].n_out), -1.0f);
          alone[i] = got[i];
          WeightMatrix file_slice = slices[i];
          if (file_slice.layout == Layout::kRows16) {  // the same expert in the file's order
            file_slice = stack.file.w.rows((slices[i].data - stack.packed.data()) / static_cast<int64_t>(stack.w.row_bytes), 32);
          }
          matmul(pool, *ks, file_slice, x.data(), alone[i].data(), n_tok);
        }
        for (size_t i = 0; i < slices.size(); ++i) jobs.push_back({.w = &slices[i], .x = x.data(), .y = got[i].data(), .n_tokens = n_tok});
        matmul_many(pool, *ks, jobs);
        for (size_t i = 0; i < slices.size(); ++i) {
          ASSERT_EQ(got[i], alone[i]) << isa_name(ks->isa) << " tokens " << n_tok << " job " << i << " odd " << with_odd;
        }
      }
    }
  }
}

INSTANTIATE_TEST_SUITE_P(Interleaved, Rows16, ::testing::Values(DType::Q4_K, DType::Q6_K, DType::Q4_0, DType::Q8_0),
                         [](const auto& info) { return std::string(dtype_name(info.param)); });

// A quantized activation row must hold exactly llama.cpp's values: the reference (activation.h)
// gives them as floats.
TEST(ActivationQuantizers, EveryFamilyGivesLlamaCppsValues) {
  const std::vector<float> x = gaussian(1024, 5, 29);
  std::vector<float> want_k(x.size()), want_b(x.size());
  round_activations(DType::Q4_K, x.data(), want_k.data(), 1024);
  round_activations(DType::Q8_0, x.data(), want_b.data(), 1024);
  for (const KernelSet* ks : families()) {
    std::vector<ActQ8K> k(4);
    ks->quantize_q8k(x.data(), k.data(), 1024);
    std::vector<ActQ8B> b(32);
    ks->quantize_q8b(x.data(), b.data(), 1024);
    for (int i = 0; i < 1024; ++i) {
      ASSERT_EQ(k[i / 256].d * k[i / 256].q[i % 256], want_k[i]) << isa_name(ks->isa) << " Q8_K " << i;
      ASSERT_EQ(b[i / 32].d * b[i / 32].q[i % 32], want_b[i]) << isa_name(ks->isa) << " Q8_0 " << i;
    }
    for (int g = 0; g < 64; ++g) {
      const ActQ8K& blk = k[g / 16];
      const int want = std::accumulate(blk.q + 16 * (g % 16), blk.q + 16 * (g % 16) + 16, 0);
      ASSERT_EQ(blk.bsums[g % 16], want);
    }
    for (const ActQ8B& blk : b) ASSERT_EQ(blk.qsum, std::accumulate(blk.q, blk.q + 32, 0));
    // The value of largest magnitude sets the scale's sign; on a tie the first one does.
    std::vector<float> tie(256, 0.25f);
    tie[37] = -3.0f;
    tie[200] = 3.0f;
    ks->quantize_q8k(tie.data(), k.data(), 256);
    EXPECT_EQ(k[0].q[37], -127) << isa_name(ks->isa);
    EXPECT_EQ(k[0].q[200], 127) << isa_name(ks->isa);
    EXPECT_FLOAT_EQ(k[0].d, 3.0f / 127.0f) << isa_name(ks->isa);
    std::vector<float> zeros(256, 0.0f);
    ks->quantize_q8k(zeros.data(), k.data(), 256);
    EXPECT_EQ(k[0].d, 0.0f);
    EXPECT_EQ(k[0].bsums[3], 0);
  }
}

TEST(SiluKernel, EveryFamilyIsCloseToTheFormulaAndTheTailRoundsAlike) {
  const size_t n = 1003;  // not a multiple of any vector width
  std::vector<float> g(n), u(n);
  for (size_t i = 0; i < n; ++i) {
    g[i] = -95.0f + 190.0f * static_cast<float>(i) / (n - 1);
    u[i] = 0.5f + static_cast<float>(i % 7);
  }
  for (const KernelSet* ks : families()) {
    std::vector<float> y = g;
    ks->silu_mul(y.data(), u.data(), static_cast<int64_t>(n));
    for (size_t i = 0; i < n; ++i) {
      const double want = g[i] / (1.0 + std::exp(-static_cast<double>(g[i]))) * u[i];
      ASSERT_NEAR(y[i], want, 1e-6 * std::abs(want) + 1e-30) << isa_name(ks->isa) << " g " << g[i];
    }
    // an element gives the same bits wherever it falls in the call
    std::vector<float> one = {g[n - 1]};
    ks->silu_mul(one.data(), &u[n - 1], 1);
    EXPECT_EQ(one[0], y[n - 1]) << isa_name(ks->isa);
  }
}

TEST(RmsNorm, EachRowIsScaledByItsOwnRootMeanSquare) {
  // Rows of lengths that are and are not a multiple of the partial sums' eight, a row of
  // zeros (eps alone), and a row whose squares span ten orders of magnitude.
  for (const int64_t n : {1, 7, 8, 9, 128, 1003, 2048}) {
    const int64_t rows = 3;
    std::vector<float> x(static_cast<size_t>(rows * n)), w(static_cast<size_t>(n)), y(x.size());
    std::mt19937 rng(static_cast<uint32_t>(n));
    std::normal_distribution<float> nd;
    for (float& v : w) v = nd(rng);
    for (int64_t i = 0; i < n; ++i) {
      x[static_cast<size_t>(i)] = nd(rng);
      x[static_cast<size_t>(n + i)] = 0.0f;
      x[static_cast<size_t>(2 * n + i)] = (i % 2 ? 1e-5f : 1.0f) * nd(rng);
    }
    const float eps = 1e-6f;
    rms_norm(x.data(), w.data(), y.data(), rows, n, eps);
    for (int64_t r = 0; r < rows; ++r) {
      double ss = 0.0;
      for (int64_t i = 0; i < n; ++i) ss += static_cast<double>(x[static_cast<size_t>(r * n + i)]) * x[static_cast<size_t>(r * n + i)];
      const double scale = 1.0 / std::sqrt(ss / static_cast<double>(n) + eps);
      for (int64_t i = 0; i < n; ++i) {
        const size_t k = static_cast<size_t>(r * n + i);
        const double want = x[k] * scale * w[static_cast<size_t>(i)];
        ASSERT_NEAR(y[k], want, 1e-6 * std::abs(want) + 1e-30) << "n " << n << " row " << r << " i " << i;
      }
    }
    // a row gives the same bits alone as among others
    std::vector<float> one(static_cast<size_t>(n));
    rms_norm(x.data() + 2 * n, w.data(), one.data(), 1, n, eps);
    EXPECT_TRUE(std::equal(one.begin(), one.end(), y.begin() + 2 * n)) << "n " << n;
  }
}

TEST(ExpKernel, EveryFamilyIsWithinAFewUlpOfStdExp) {
  std::vector<float> x(1003);
  for (size_t i = 0; i < x.size(); ++i) x[i] = -100.0f + 100.0f * static_cast<float>(i) / 1002.0f;
  for (const KernelSet* ks : families()) {
    std::vector<float> y = x;
    const float sum = ks->exp_shift(y.data(), static_cast<int64_t>(y.size()), 0.5f);
    double want_sum = 0;
    for (size_t i = 0; i < x.size(); ++i) {
      const double want = std::exp(static_cast<double>(x[i] - 0.5f));
      want_sum += want;
      if (x[i] - 0.5f > -87.0f) {
        ASSERT_NEAR(y[i], want, 4e-7 * want) << isa_name(ks->isa) << " x " << x[i];
      } else {
        ASSERT_LE(y[i], 2e-38f);
      }
    }
    EXPECT_NEAR(sum, want_sum, 1e-6 * want_sum);
    // an element gives the same bits wherever it falls in the call (16-wide body, 8-wide, tail)
    for (size_t at : {size_t{5}, size_t{997}, size_t{1002}}) {
      float one = x[at];
      ks->exp_shift(&one, 1, 0.5f);
      ASSERT_EQ(std::bit_cast<uint32_t>(one), std::bit_cast<uint32_t>(y[at])) << isa_name(ks->isa) << " at " << at;
    }
  }
}

// The softmax's sum too: attention gives the same bits in the x86 families.
TEST(ExpKernel, TheX86FamiliesSumInTheSameOrder) {
  const KernelSet* avx2 = kernels_for(Isa::kAvx2);
  const KernelSet* avx512 = kernels_for(Isa::kAvx512);
  if (!avx2 || !avx512) GTEST_SKIP() << "this CPU lacks AVX2 or AVX-512 VNNI";
  for (int64_t n : {7, 16, 24, 128, 1003}) {
    const std::vector<float> x = gaussian(static_cast<size_t>(n), static_cast<uint32_t>(n));
    std::vector<float> a = x, b = x;
    const float sa = avx2->exp_shift(a.data(), n, 0.25f), sb = avx512->exp_shift(b.data(), n, 0.25f);
    ASSERT_EQ(std::bit_cast<uint32_t>(sa), std::bit_cast<uint32_t>(sb)) << "n " << n;
    for (int64_t i = 0; i < n; ++i) ASSERT_EQ(std::bit_cast<uint32_t>(a[i]), std::bit_cast<uint32_t>(b[i])) << "n " << n << " at " << i;
  }
}

// Six rows (four at once, then two alone) of n scores, ld apart: each row's largest, its
// exponentials and their sum are the bits exp_shift gives the row alone, and nothing past n of a
// row is written.
TEST(SoftmaxRowsKernel, EveryFamilyFindsTheLargestAndGivesEachRowItsOwnBits) {
  constexpr int64_t kRows = 6;
  for (int64_t n : {1, 7, 8, 15, 16, 17, 31, 32, 33, 128, 129}) {
    const int64_t ld = n + 5;
    std::vector<float> x = gaussian(static_cast<size_t>(kRows * ld), static_cast<uint32_t>(n));
    for (float& v : x) v = -std::abs(v) - 1.0f;  // all negative, so a zero from nowhere would show
    for (int64_t r = 0; r < kRows; ++r) x[static_cast<size_t>(r * ld + (r * 5) % n)] = -0.5f - 0.0625f * r;
    for (const KernelSet* ks : families()) {
      std::vector<float> y = x, m(kRows), l(kRows);
      ks->softmax_rows(y.data(), kRows, n, ld, m.data(), l.data());
      for (int64_t r = 0; r < kRows; ++r) {
        ASSERT_EQ(m[static_cast<size_t>(r)], -0.5f - 0.0625f * r) << isa_name(ks->isa) << " n " << n << " row " << r;
        std::vector<float> alone(x.begin() + r * ld, x.begin() + r * ld + n);
        const float sum = ks->exp_shift(alone.data(), n, m[static_cast<size_t>(r)]);
        ASSERT_EQ(std::bit_cast<uint32_t>(l[static_cast<size_t>(r)]), std::bit_cast<uint32_t>(sum))
            << isa_name(ks->isa) << " n " << n << " row " << r;
        for (int64_t i = 0; i < ld; ++i) {
          const float want = i < n ? alone[static_cast<size_t>(i)] : x[static_cast<size_t>(r * ld + i)];
          ASSERT_EQ(std::bit_cast<uint32_t>(y[static_cast<size_t>(r * ld + i)]), std::bit_cast<uint32_t>(want))
              << isa_name(ks->isa) << " n " << n << " row " << r << " at " << i;
        }
      }
    }
  }
}

// Attention over a paged cache whose blocks are out of order, against a float64 computation:
// the last n of n_pos positions attend causally.
void check_attention(const AttentionShape& shape, int32_t n_pos, int64_t n) {
  const int32_t kv_dim = shape.n_head_kv * shape.head_dim, block = 16;
  const int32_t n_blocks = (n_pos + block - 1) / block;
  std::vector<int32_t> table(static_cast<size_t>(n_blocks));
  for (int32_t b = 0; b < n_blocks; ++b) table[static_cast<size_t>(b)] = (b * 7 + 3) % n_blocks;  // a permutation (7 is coprime with the counts used)
  // Both layouts: a block's values right after its keys, and (the runtime's) every block's keys
  // in one region, every block's values in the next.
  for (auto [kv_type, split] : {std::pair{DType::F32, false}, {DType::F32, true}, {DType::F16, false}, {DType::F16, true}}) {
    const uint64_t eb = kv_type == DType::F16 ? 2 : 4;
    const uint64_t keys_bytes = static_cast<uint64_t>(block) * kv_dim * eb;
    std::vector<uint8_t> pool_bytes(2 * keys_bytes * table.size());
    const PagedKvLayer kv{.type = kv_type, .base = pool_bytes.data(), .block_stride = split ? keys_bytes : 2 * keys_bytes,
                          .values_offset = split ? keys_bytes * table.size() : keys_bytes, .block_size = block,
                          .kv_dim = kv_dim, .head_dim = shape.head_dim};
    std::vector<float> k = gaussian(static_cast<size_t>(n_pos) * kv_dim, 1);
    std::vector<float> v = gaussian(static_cast<size_t>(n_pos) * kv_dim, 2);
    kv_store(kv, table, 0, n_pos, k.data(), v.data());
    if (kv_type == DType::F16) {  // the reference sees what the cache keeps
      for (float& f : k) f = fp16_to_fp32(fp32_to_fp16(f));
      for (float& f : v) f = fp16_to_fp32(fp32_to_fp16(f));
    }
    const int64_t pos0 = n_pos - n;
    const std::vector<float> q = gaussian(static_cast<size_t>(n * shape.n_head * shape.head_dim), 3);
    std::vector<double> want(q.size());
    for (int64_t t = 0; t < n; ++t) {
      for (int32_t h = 0; h < shape.n_head; ++h) {
        const int32_t g = h / (shape.n_head / shape.n_head_kv);
        const float* qh = q.data() + (t * shape.n_head + h) * shape.head_dim;
        std::vector<double> s(static_cast<size_t>(pos0 + t + 1));
        double mx = -1e300;
        for (size_t j = 0; j < s.size(); ++j) {
          double d = 0;
          for (int32_t i = 0; i < shape.head_dim; ++i) d += static_cast<double>(qh[i]) * k[j * kv_dim + g * shape.head_dim + i];
          s[j] = d * shape.scale;
          mx = std::max(mx, s[j]);
        }
        double sum = 0;
        for (double& e : s) sum += (e = std::exp(e - mx));
        for (int32_t i = 0; i < shape.head_dim; ++i) {
          double o = 0;
          for (size_t j = 0; j < s.size(); ++j) o += s[j] / sum * v[j * kv_dim + g * shape.head_dim + i];
          want[(t * shape.n_head + h) * shape.head_dim + i] = o;
        }
      }
    }
    ThreadPool tp(2);
    std::vector<float> x86;  // the first x86 family's: the others give the same bits
    for (const KernelSet* ks : families()) {
      std::vector<float> out(q.size());
      attention(tp, *ks, kv, table, q.data(), static_cast<int32_t>(pos0), n, shape, out.data());
      for (size_t i = 0; i < out.size(); ++i) {
        ASSERT_NEAR(out[i], want[i], 2e-5) << isa_name(ks->isa) << " " << dtype_name(kv_type) << " heads "
                                           << shape.n_head << "/" << shape.n_head_kv << " d " << shape.head_dim
                                           << " n_pos " << n_pos << " n " << n << " at " << i;
      }
      if (ks->isa != Isa::kAvx2 && ks->isa != Isa::kAvx512 && ks->isa != Isa::kAvx512Bf16) continue;
      if (x86.empty()) {
        x86 = out;
      } else {
        for (size_t i = 0; i < out.size(); ++i) {
          ASSERT_EQ(std::bit_cast<uint32_t>(out[i]), std::bit_cast<uint32_t>(x86[i])) << isa_name(ks->isa) << " at " << i;
        }
      }
    }
  }
}

// Keys stored by column in blocks of 16 positions: every family forms a score in the KernelSet's
// order, so gives the scalar family's bits, for runs of one to three blocks (the AVX-512 family
// reads full blocks in pairs), partial last blocks, odd head sizes, and groups that are not a
// multiple of the vector kernels' four heads.
TEST(AttentionKernels, KeyScoresAreTheSameBitsInEveryFamily) {
  const KernelSet* scalar = kernels_for(Isa::kScalar);
  constexpr int32_t kBlock = 16, kMaxBlocks = 3;
  for (DType type : {DType::F32, DType::F16}) {
    const uint64_t eb = type == DType::F16 ? 2 : 4, stride = kBlock * eb;
    for (int32_t d : {64, 40, 35}) {
      const uint64_t head_keys = static_cast<uint64_t>(d) * stride;
      const std::vector<float> kf = gaussian(static_cast<size_t>(kMaxBlocks * kBlock * d), 7);
      for (auto [group, heads] : {std::pair{1, 1}, {4, 1}, {6, 1}, {4, 2}, {3, 2}}) {
        // KV head g's keys of block b: the same as head 0's (of position j, value i: kf[j * d + i]).
        // Blocks lie in reverse order, each head after a gap of NaNs that a head or block read at
        // the wrong place would bring into its scores.
        const uint64_t head_bytes = head_keys + 96, block_bytes = heads * head_bytes + 160;
        std::vector<uint8_t> pool(kMaxBlocks * block_bytes, 0xff);
        const uint8_t* blocks[kMaxBlocks];
        for (int32_t b = 0; b < kMaxBlocks; ++b) {
          uint8_t* base = pool.data() + (kMaxBlocks - 1 - b) * block_bytes + 64;
          blocks[b] = base;
          for (int32_t g = 0; g < heads; ++g) {
            for (int32_t i = 0; i < d; ++i) {
              for (int32_t j = 0; j < kBlock; ++j) {
                uint8_t* at = base + g * head_bytes + i * stride + j * eb;
                const float f = kf[static_cast<size_t>((b * kBlock + j) * d + i)];
                const uint16_t h = fp32_to_fp16(f);
                std::memcpy(at, type == DType::F16 ? static_cast<const void*>(&h) : &f, eb);
              }
            }
          }
        }
        const std::vector<float> q = gaussian(static_cast<size_t>(heads * group * d), 8);
        constexpr int64_t kLd = kMaxBlocks * kBlock + 4;
        for (int64_t n : {16, 11, 5, 32, 48, 43, 37, 27}) {
          const AttnKeys k{.blocks = blocks, .next = blocks, .block_size = kBlock, .stride = stride, .n = n, .d = d,
                           .group = group, .heads = heads, .head_bytes = head_bytes};
          auto run = [&](const KernelSet* ks) {
            std::vector<float> scores(static_cast<size_t>(heads * group * kLd), -1.0f);
            (type == DType::F16 ? ks->group_scores_f16 : ks->group_scores_f32)(k, q.data(), 0.125f, scores.data(), kLd);
            return scores;
          };
          const std::vector<float> want = run(scalar);
          for (int32_t h = 0; h < heads * group; ++h) {  // the scalar one against float64, and what lies past n untouched
            for (int64_t j = 0; j < kLd; ++j) {
              const float got = want[static_cast<size_t>(h * kLd + j)];
              if (j >= n) {
                ASSERT_EQ(got, -1.0f);
                continue;
              }
              double ref = 0;
              for (int32_t i = 0; i < d; ++i) {
                const float kv = kf[static_cast<size_t>(j * d + i)];
                ref += static_cast<double>(q[static_cast<size_t>(h * d + i)]) *
                       (type == DType::F16 ? fp16_to_fp32(fp32_to_fp16(kv)) : kv);
              }
              ASSERT_NEAR(got, 0.125 * ref, 1e-5 * d);
            }
          }
          for (const KernelSet* ks : families()) {
            const std::vector<float> got = run(ks);
            for (size_t i = 0; i < got.size(); ++i) {
              ASSERT_EQ(std::bit_cast<uint32_t>(got[i]), std::bit_cast<uint32_t>(want[i]))
                  << isa_name(ks->isa) << " " << dtype_name(type) << " d " << d << " group " << group << " heads " << heads
                  << " n " << n << " at " << i;
            }
          }
        }
      }
    }
  }
}

// Query heads per KV head from 1 to 8, head sizes on and off the fused kernels' multiple of 16,
// a prompt chunk and single decode steps at a depth that is not a multiple of the block size.
TEST(AttentionKernels, EveryFamilyMatchesAFloat64Reference) {
  check_attention({.n_head = 8, .n_head_kv = 2, .head_dim = 64, .scale = 0.125f}, 75, 6);
  check_attention({.n_head = 8, .n_head_kv = 2, .head_dim = 64, .scale = 0.125f}, 301, 1);
  check_attention({.n_head = 8, .n_head_kv = 1, .head_dim = 128, .scale = 0.088f}, 203, 1);
  check_attention({.n_head = 6, .n_head_kv = 2, .head_dim = 80, .scale = 0.11f}, 45, 3);
  check_attention({.n_head = 5, .n_head_kv = 1, .head_dim = 32, .scale = 0.17f}, 39, 2);
  check_attention({.n_head = 4, .n_head_kv = 4, .head_dim = 40, .scale = 0.15f}, 33, 2);
  // Deeper than a group of chunks (8 x 128 positions): a decode step and a batch.
  check_attention({.n_head = 4, .n_head_kv = 2, .head_dim = 32, .scale = 0.18f}, 2100, 1);
  check_attention({.n_head = 4, .n_head_kv = 2, .head_dim = 32, .scale = 0.18f}, 1100, 3);
}

// A token's attention is the same bits in a batch of tokens as alone, on one thread or several:
// a decode step folds each group of chunks where its last chunk was read (the shares of one to
// four threads cut the 10 chunks differently), a batch after every chunk is read, and both in
// the same order.
TEST(AttentionKernels, ATokenGivesTheSameBitsAloneOrInABatchOnAnyThreads) {
  const AttentionShape shape{.n_head = 12, .n_head_kv = 6, .head_dim = 32, .scale = 0.18f};
  const int32_t kv_dim = shape.n_head_kv * shape.head_dim, block = 16, n_pos = 1240;
  const int64_t n = 5, pos0 = n_pos - n, q_dim = static_cast<int64_t>(shape.n_head) * shape.head_dim;
  const int32_t n_blocks = (n_pos + block - 1) / block;
  std::vector<int32_t> table(static_cast<size_t>(n_blocks));
  for (int32_t b = 0; b < n_blocks; ++b) table[static_cast<size_t>(b)] = (b * 7 + 3) % n_blocks;
  const uint64_t keys_bytes = static_cast<uint64_t>(block) * kv_dim * 2;
  std::vector<uint8_t> pool_bytes(2 * keys_bytes * table.size());
  const PagedKvLayer kv{.type = DType::F16, .base = pool_bytes.data(), .block_stride = keys_bytes,
                        .values_offset = keys_bytes * table.size(), .block_size = block, .kv_dim = kv_dim,
                        .head_dim = shape.head_dim};
  const std::vector<float> k = gaussian(static_cast<size_t>(n_pos) * kv_dim, 4);
  const std::vector<float> v = gaussian(static_cast<size_t>(n_pos) * kv_dim, 5);
  kv_store(kv, table, 0, n_pos, k.data(), v.data());
  const std::vector<float> q = gaussian(static_cast<size_t>(n * q_dim), 6);
  for (const KernelSet* ks : families()) {
    std::vector<float> batch(q.size());
    {
      ThreadPool tp(2);
      attention(tp, *ks, kv, table, q.data(), static_cast<int32_t>(pos0), n, shape, batch.data());
    }
    for (int threads = 1; threads <= 4; ++threads) {
      ThreadPool tp(threads);
      for (int64_t t = 0; t < n; ++t) {
        std::vector<float> alone(static_cast<size_t>(q_dim));
        attention(tp, *ks, kv, table, q.data() + t * q_dim, static_cast<int32_t>(pos0 + t), 1, shape, alone.data());
        for (int64_t i = 0; i < q_dim; ++i) {
          ASSERT_EQ(std::bit_cast<uint32_t>(alone[static_cast<size_t>(i)]),
                    std::bit_cast<uint32_t>(batch[static_cast<size_t>(t * q_dim + i)]))
              << isa_name(ks->isa) << " threads " << threads << " token " << t << " at " << i;
        }
      }
    }
  }
}

TEST(CpuFeatures, TheBestFamilyIsAvailableAndNamed) {
  std::string names;
  for (const KernelSet* ks : families()) names += std::string(" ") + isa_name(ks->isa);
  std::printf("[ kernels  ] cpu: %s; families tested:%s\n", cpu_features().summary().c_str(), names.c_str());
  EXPECT_TRUE(isa_available(best_isa()));
  EXPECT_EQ(best_kernels().isa, best_isa());
  EXPECT_FALSE(cpu_features().summary().empty());
  ASSERT_NE(kernels_for(Isa::kScalar), nullptr);
}

}  // namespace
}  // namespace flint::cpu
