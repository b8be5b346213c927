#include <algorithm>
#include <atomic>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <mutex>
#include <numeric>
#include <stdexcept>

#include <gtest/gtest.h>

#include "core/dtype.h"
#include "core/half.h"
#include "core/mapped_file.h"
#include "core/page_memory.h"
#include "core/status.h"
#include "core/thread_pool.h"

namespace flint {
namespace {

TEST(DType, TableMatchesGgmlSizes) {
  EXPECT_EQ(dtype_info(DType::Q4_K).block_bytes, 144u);
  EXPECT_EQ(dtype_info(DType::Q6_K).block_bytes, 210u);
  EXPECT_EQ(dtype_info(DType::MXFP4).block_bytes, 17u);
  EXPECT_EQ(*dtype_row_bytes(DType::Q8_0, 64), 68u);
  EXPECT_FALSE(dtype_row_bytes(DType::Q8_0, 40).has_value());
  EXPECT_FALSE(dtype_info(4u).has_value());   // removed Q4_2
  EXPECT_FALSE(dtype_info(99u).has_value());
  EXPECT_EQ(dtype_from_name("Q4_K"), DType::Q4_K);
  EXPECT_EQ(dtype_from_name("bf16"), DType::BF16);
  EXPECT_FALSE(dtype_from_name("q4_k_m").has_value());
  EXPECT_DOUBLE_EQ(dtype_bits_per_weight(DType::Q4_K), 4.5);
}

TEST(Half, Fp16RoundTripsEveryHalf) {
  for (uint32_t h = 0; h < 65536; ++h) {
    const float f = fp16_to_fp32(static_cast<uint16_t>(h));
    if (std::isnan(f)) continue;
    EXPECT_EQ(fp32_to_fp16(f), h) << h;
  }
  EXPECT_EQ(fp32_to_fp16(1.0f), 0x3C00);
  EXPECT_EQ(fp32_to_fp16(65520.0f), 0x7C00);  // rounds to inf
  EXPECT_EQ(fp32_to_fp16(1.0f + 0x1.0p-11f), 0x3C00);  // a tie rounds to even
}

TEST(Half, Bf16RoundsToNearestEven) {
  EXPECT_EQ(fp32_to_bf16(1.0f), 0x3F80);
  EXPECT_EQ(fp32_to_bf16(std::bit_cast<float>(0x3F808000u)), 0x3F80);  // tie -> even
  EXPECT_EQ(fp32_to_bf16(std::bit_cast<float>(0x3F818000u)), 0x3F82);  // tie -> even (up)
  EXPECT_EQ(bf16_to_fp32(0x4000), 2.0f);
  EXPECT_TRUE(std::isnan(bf16_to_fp32(fp32_to_bf16(NAN))));
}

TEST(Status, ResultCarriesValueOrError) {
  Result<int> ok = 3;
  EXPECT_TRUE(ok.is_ok());
  EXPECT_EQ(*ok, 3);
  Result<int> bad = error("no {} here", "value");
  EXPECT_FALSE(bad.is_ok());
  EXPECT_EQ(bad.status().with_context("ctx").message(), "ctx: no value here");
}

// /proc/<pid>/smaps as Linux writes it: the FilePmdMapped of every mapping that overlaps the
// range counts (a mapping ends on a page boundary past a file's last byte), others do not, and
// paths with dashes and spaces are not mistaken for a mapping's header.
TEST(MappedFile, SmapsPmdBytesCountsTheMappingsInTheRange) {
  const std::string smaps =
      "7f0000000000-7f0000400000 r--s 00000000 fe:00 12 /models/a-b model.gguf\n"
      "Size:               4096 kB\n"
      "FilePmdMapped:      2048 kB\n"
      "VmFlags: rd mr me ms hg\n"
      "7f0000400000-7f0000a01000 r--s 00400000 fe:00 12 /models/a-b model.gguf\n"
      "FilePmdMapped:      4096 kB\n"
      "7f1000000000-7f1000200000 r--s 00000000 fe:00 13 /other-file\n"
      "FilePmdMapped:      2048 kB\n";
  // the file's 0xa00123 bytes from 0x7f0000000000: both of its mappings, not the other file
  EXPECT_EQ(smaps_pmd_bytes(smaps, 0x7f0000000000, 0x7f0000a00123), (2048u + 4096u) * 1024);
  EXPECT_EQ(smaps_pmd_bytes(smaps, 0x7f0000000000, 0x7f0000400000), 2048u * 1024);
  EXPECT_EQ(smaps_pmd_bytes(smaps, 0x7f2000000000, 0x7f2000001000), 0u);
  EXPECT_EQ(smaps_pmd_bytes("", 0, 1), 0u);
  EXPECT_EQ(smaps_pmd_bytes("garbage-line without numbers\nFilePmdMapped: 9 kB\n", 0, ~uintptr_t{0}), 0u);
}

TEST(MappedFile, HugePageBytesOfAMappingAreAtMostItsSize) {
  const std::filesystem::path path = std::filesystem::temp_directory_path() / "flint_mapped_file_test.bin";
  {
    std::ofstream out(path, std::ios::binary);
    const std::string block(1 << 16, 'x');
    for (int i = 0; i < 5; ++i) out << block;
  }
  auto f = MappedFile::open(path.string());
  ASSERT_TRUE(f.is_ok()) << f.status().message();
  const std::optional<uint64_t> huge = f->huge_page_bytes();
#ifdef __linux__
  ASSERT_TRUE(huge.has_value());  // /proc/self/smaps is there
#endif
  if (huge) {
    EXPECT_LE(*huge, f->size());
  }
  std::filesystem::remove(path);
}

// The KV cache's memory: zeroed, writable to its last byte, owned by one object at a time.
TEST(PageMemory, ZeroedWritableAndMovable) {
  const uint64_t bytes = (5u << 20) + 123;  // more than two huge pages, not a page multiple
  auto m = PageMemory::allocate(bytes);
  ASSERT_TRUE(m.is_ok()) << m.status().message();
  ASSERT_EQ(m->size(), bytes);
  uint8_t* p = m->data();
  EXPECT_EQ(p[0], 0);
  EXPECT_EQ(p[bytes - 1], 0);
  p[0] = 7;
  p[bytes - 1] = 9;
  PageMemory moved = std::move(*m);
  EXPECT_EQ(m->data(), nullptr);
  EXPECT_EQ(m->size(), 0u);
  ASSERT_EQ(moved.data(), p);
  EXPECT_EQ(moved.data()[0], 7);
  EXPECT_EQ(moved.data()[bytes - 1], 9);

  const auto empty = PageMemory::allocate(0);
  ASSERT_FALSE(empty.is_ok());
  EXPECT_NE(empty.status().message().find("empty"), std::string::npos);
  const auto huge = PageMemory::allocate(1ull << 60);
  ASSERT_FALSE(huge.is_ok());
  EXPECT_NE(huge.status().message().find("1152921504606846976 bytes"), std::string::npos) << huge.status().message();
}

TEST(ThreadPool, CoversTheRangeExactlyOnce) {
  ThreadPool pool(3);
  for (int64_t n : {0, 1, 7, 1000}) {
    std::vector<std::atomic<int>> hits(static_cast<size_t>(n));
    pool.parallel_for(n, 3, [&](int64_t b, int64_t e) {
      for (int64_t i = b; i < e; ++i) hits[static_cast<size_t>(i)]++;
    });
    for (auto& h : hits) EXPECT_EQ(h.load(), 1);
  }
}

// Shares: the range exactly once, in chunks of at most a quarter of a share, none below the
// minimum but a share's last.
TEST(ThreadPool, SharesCoverTheRangeOnce) {
  ThreadPool pool(3);
  for (int64_t n : {0, 1, 7, 1000, 100000}) {
    std::vector<std::atomic<int>> hits(static_cast<size_t>(n));
    std::mutex mu;
    std::vector<std::pair<int64_t, int64_t>> chunks;
    pool.parallel_for_shares(n, 4, [&](int64_t b, int64_t e) {
      for (int64_t i = b; i < e; ++i) hits[static_cast<size_t>(i)]++;
      std::lock_guard lock(mu);
      chunks.emplace_back(b, e);
    });
    for (auto& h : hits) EXPECT_EQ(h.load(), 1);
    int short_chunks = 0;
    for (const auto& [b, e] : chunks) short_chunks += e - b < 4 ? 1 : 0;
    EXPECT_LE(short_chunks, 3) << "n " << n;
    if (n == 1000) {  // no chunk over a quarter of its share (83 of 333; less if the share was taken from)
      for (const auto& [b, e] : chunks) EXPECT_LE(e - b, 83) << "chunk at " << b;
    }
  }
}

TEST(ThreadPool, AnExceptionInASharedRangeReachesTheCaller) {
  ThreadPool pool(3);
  EXPECT_THROW(pool.parallel_for_shares(1000, 1, [&](int64_t b, int64_t e) {
    if (b <= 500 && 500 < e) throw std::runtime_error("boom");
  }), std::runtime_error);
  std::atomic<int64_t> sum{0};
  pool.parallel_for_shares(100, 7, [&](int64_t b, int64_t e) { for (int64_t i = b; i < e; ++i) sum += i; });
  EXPECT_EQ(sum.load(), 4950);
}

TEST(ThreadPool, AnExceptionReachesTheCallerAfterEveryWorkerStops) {
  ThreadPool pool(3);
  std::atomic<int> ran{0};
  EXPECT_THROW(pool.parallel_for(1000, 1, [&](int64_t b, int64_t) {
    ran++;
    if (b == 10) throw std::runtime_error("boom");
  }), std::runtime_error);
  EXPECT_GE(ran.load(), 11);  // how many more ran before the others noticed depends on timing
  // The pool is still usable.
  std::atomic<int64_t> sum{0};
  pool.parallel_for(100, 7, [&](int64_t b, int64_t e) { for (int64_t i = b; i < e; ++i) sum += i; });
  EXPECT_EQ(sum.load(), 4950);
}

}  // namespace
}  // namespace flint
