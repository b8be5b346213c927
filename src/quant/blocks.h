// The byte layouts of ggml's block formats, as flint structs (internal to src/quant).
//
// Every struct here has exactly the size and field order of ggml's block_* struct
// (ggml-common.h), so an array of them is the bytes a GGUF file stores. Half-precision fields are
// raw IEEE binary16 bits (uint16_t, little-endian). Blocks in a file or a row can sit at any byte
// offset (a Q4_0 block is 18 bytes), so kernels never dereference a block pointer into the
// caller's buffer: they copy a block in with load_block() and out with store_block().
#pragma once

#include <bit>
#include <cstdint>
#include <cstring>
#include <type_traits>

namespace flint::quant {

static_assert(std::endian::native == std::endian::little,
              "block layouts are little-endian; a big-endian host needs byte swaps here");

// Values per block of the legacy formats (Q4_0 ... Q8_0), IQ4_NL and MXFP4.
inline constexpr int kQK = 32;
// Values per super-block of the K-quants.
inline constexpr int kQK_K = 256;
// Bytes of packed 6-bit scale/min pairs in Q4_K and Q5_K.
inline constexpr int kKScaleBytes = 12;

// Q4_0: x = d * (q - 8), q in [0, 15]. qs[j] holds value j in its low nibble and value j + 16 in
// its high nibble.
struct BlockQ4_0 {
  uint16_t d;
  uint8_t qs[kQK / 2];
};

// Q4_1: x = d * q + m, q in [0, 15]; nibbles as in Q4_0.
struct BlockQ4_1 {
  uint16_t d;
  uint16_t m;
  uint8_t qs[kQK / 2];
};

// Q5_0: x = d * (q - 16), q in [0, 31]. The low 4 bits as in Q4_0; bit j of the little-endian
// 32-bit qh is the fifth bit of value j.
struct BlockQ5_0 {
  uint16_t d;
  uint8_t qh[4];
  uint8_t qs[kQK / 2];
};

// Q5_1: x = d * q + m, q in [0, 31]; bits as in Q5_0.
struct BlockQ5_1 {
  uint16_t d;
  uint16_t m;
  uint8_t qh[4];
  uint8_t qs[kQK / 2];
};

// Q8_0: x = d * q, q in [-127, 127].
struct BlockQ8_0 {
  uint16_t d;
  int8_t qs[kQK];
};

// Q2_K: 16 sub-blocks of 16 values, x = d * sc * q - dmin * m with q in [0, 3]. scales[j] holds
// sub-block j's 4-bit scale sc (low nibble) and 4-bit min m (high nibble). qs: within each half
// of 128 values, byte l holds values l, l + 32, l + 64, l + 96 at bits 0, 2, 4, 6.
struct BlockQ2_K {
  uint8_t scales[kQK_K / 16];
  uint8_t qs[kQK_K / 4];
  uint16_t d;
  uint16_t dmin;
};

// Q3_K: 16 sub-blocks of 16 values, x = d * (sc - 32) * (q - 4) with q in [0, 7] and sc a 6-bit
// scale. The low 2 bits of q are packed as in Q2_K; the third bit of value v is bit (v / 32) of
// hmask[v % 32]. Scale packing (12 bytes): byte j (j < 8) holds the low nibble of sc[j] and of
// sc[j + 8] (low, high nibble); byte 8 + (j % 4) holds the top 2 bits of sc[j] at bit 2 * (j / 4).
struct BlockQ3_K {
  uint8_t hmask[kQK_K / 8];
  uint8_t qs[kQK_K / 4];
  uint8_t scales[12];
  uint16_t d;
};

// Q4_K: 8 sub-blocks of 32 values, x = d * sc * q - dmin * m with q in [0, 15] and sc, m 6-bit.
// See unpack_scale_min_k4() for the 12-byte scale packing. qs: each 64 values share 32 bytes,
// value l in the low nibble of byte l and value l + 32 in its high nibble.
struct BlockQ4_K {
  uint16_t d;
  uint16_t dmin;
  uint8_t scales[kKScaleBytes];
  uint8_t qs[kQK_K / 2];
};

// Q5_K: as Q4_K with q in [0, 31]; the fifth bit of value 64 * p + l (l < 32) is bit 2p of
// qh[l], that of value 64 * p + 32 + l is bit 2p + 1.
struct BlockQ5_K {
  uint16_t d;
  uint16_t dmin;
  uint8_t scales[kKScaleBytes];
  uint8_t qh[kQK_K / 8];
  uint8_t qs[kQK_K / 2];
};

// Q6_K: 16 sub-blocks of 16 values, x = d * sc * (q - 32) with q in [0, 63] and sc a signed
// 8-bit scale. Each half of 128 values uses 64 bytes of ql and 32 of qh: for l < 32, ql[l] holds
// the low nibbles of values l (low) and l + 64 (high), ql[l + 32] those of l + 32 and l + 96, and
// qh[l] the top 2 bits of values l, l + 32, l + 64, l + 96 at bits 0, 2, 4, 6.
struct BlockQ6_K {
  uint8_t ql[kQK_K / 2];
  uint8_t qh[kQK_K / 4];
  int8_t scales[kQK_K / 16];
  uint16_t d;
};

// IQ4_NL: x = d * kIQ4NLValues[q], q in [0, 15]; nibbles as in Q4_0.
struct BlockIQ4_NL {
  uint16_t d;
  uint8_t qs[kQK / 2];
};

// MXFP4 (OCP microscaling): x = 2^(e - 127) * fp4(q), an E8M0 shared exponent and E2M1 values;
// nibbles as in Q4_0.
struct BlockMXFP4 {
  uint8_t e;
  uint8_t qs[kQK / 2];
};

static_assert(sizeof(BlockQ4_0) == 18);
static_assert(sizeof(BlockQ4_1) == 20);
static_assert(sizeof(BlockQ5_0) == 22);
static_assert(sizeof(BlockQ5_1) == 24);
static_assert(sizeof(BlockQ8_0) == 34);
static_assert(sizeof(BlockQ2_K) == 84);
static_assert(sizeof(BlockQ3_K) == 110);
static_assert(sizeof(BlockQ4_K) == 144);
static_assert(sizeof(BlockQ5_K) == 176);
static_assert(sizeof(BlockQ6_K) == 210);
static_assert(sizeof(BlockIQ4_NL) == 18);
static_assert(sizeof(BlockMXFP4) == 17);

// Block i of an array of Block starting at `base` (any alignment).
template <typename Block>
Block load_block(const void* base, int64_t i) {
  static_assert(std::is_trivially_copyable_v<Block>);
  Block block;
  std::memcpy(&block, static_cast<const uint8_t*>(base) + i * static_cast<int64_t>(sizeof(Block)),
              sizeof(Block));
  return block;
}

template <typename Block>
void store_block(void* base, int64_t i, const Block& block) {
  static_assert(std::is_trivially_copyable_v<Block>);
  std::memcpy(static_cast<uint8_t*>(base) + i * static_cast<int64_t>(sizeof(Block)), &block,
              sizeof(Block));
}

}  // namespace flint::quant
