// libFuzzer target for the GGUF parser: any input must give a GgufFile or an error, never a
// crash, hang or out-of-bounds read (ASan + UBSan watch every access).
#include <cstddef>
#include <cstdint>
#include <span>

#include "gguf/gguf_file.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::span<const uint8_t> bytes(data, size);
  for (const bool require_data : {true, false}) {
    flint::Result<flint::gguf::GgufFile> f =
        flint::gguf::GgufFile::parse(bytes, "fuzz.gguf", {.require_data = require_data});
    if (!f) continue;
    // Touch everything the parser promised is valid.
    uint64_t sum = 0;
    for (const flint::gguf::TensorInfo& t : f->tensors()) {
      for (uint8_t b : f->tensor_data(t)) sum += b;
    }
    for (const flint::gguf::KeyValue& kv : f->metadata()) sum += kv.value.to_display_string().size();
    (void)f->get<uint32_t>("general.alignment");
    (void)f->get_string("general.architecture");
    if (sum == 0xFFFFFFFFFFFFFFFFull) return -1;  // keeps the reads from being optimized away
  }
  return 0;
}
