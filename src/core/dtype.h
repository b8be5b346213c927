// DType: the tensor element types a GGUF file can name, with their block layout.
//
// The numeric ids are ggml's (they are what GGUF stores), so a file written by llama.cpp and a
// file written by flint agree. Every quantized type packs `block_elems` consecutive values of a
// row into `block_bytes` bytes; a row's length must be a multiple of block_elems.
// This table is the single source of truth for sizes; src/quant implements the arithmetic.
#pragma once

#include <cstdint>
#include <optional>
#include <span>
#include <string_view>

namespace flint {

enum class DType : uint32_t {
  F32 = 0,
  F16 = 1,
  Q4_0 = 2,
  Q4_1 = 3,
  Q5_0 = 6,
  Q5_1 = 7,
  Q8_0 = 8,
  Q8_1 = 9,
  Q2_K = 10,
  Q3_K = 11,
  Q4_K = 12,
  Q5_K = 13,
  Q6_K = 14,
  Q8_K = 15,
  IQ2_XXS = 16,
  IQ2_XS = 17,
  IQ3_XXS = 18,
  IQ1_S = 19,
  IQ4_NL = 20,
  IQ3_S = 21,
  IQ2_S = 22,
  IQ4_XS = 23,
  I8 = 24,
  I16 = 25,
  I32 = 26,
  I64 = 27,
  F64 = 28,
  IQ1_M = 29,
  BF16 = 30,
  TQ1_0 = 34,
  TQ2_0 = 35,
  MXFP4 = 39,
  NVFP4 = 40,
  Q1_0 = 41,
  Q2_0 = 42,
};

struct DTypeInfo {
  DType type;
  std::string_view name;  // as llama.cpp prints it: "q4_K", "bf16", ...
  uint32_t block_elems;   // values per block (1 for plain types)
  uint32_t block_bytes;   // bytes per block
};

// The layout of `type`, or nullopt for an id no GGUF writer uses (removed or unknown).
std::optional<DTypeInfo> dtype_info(uint32_t id);
DTypeInfo dtype_info(DType type);  // every enumerator has an entry
std::string_view dtype_name(DType type);

// Parses a type name, case-insensitively ("Q4_K", "q4_k", "bf16").
std::optional<DType> dtype_from_name(std::string_view name);

// Every known type, in id order.
std::span<const DTypeInfo> all_dtypes();

// Bytes of a row of `n` values, or nullopt when n is not a multiple of the block size.
std::optional<uint64_t> dtype_row_bytes(DType type, uint64_t n);

// Bits per weight, for display: block_bytes * 8 / block_elems.
double dtype_bits_per_weight(DType type);

}  // namespace flint
