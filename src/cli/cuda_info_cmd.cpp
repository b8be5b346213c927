// flint cuda-info: whether this build has the CUDA backend and which GPUs it sees.
#include <fmt/format.h>

#include "cli/commands.h"

#ifdef FLINT_HAVE_CUDA
#include "backend/cuda/runtime.h"
#endif

namespace flint::cli {

Runner add_cuda_info(CLI::App& app) {
  app.add_subcommand("cuda-info", "Show whether the CUDA backend is built and which GPUs it sees");
  return []() {
#ifdef FLINT_HAVE_CUDA
    const int n = cuda::device_count();
    fmt::print("CUDA backend: built; {} device(s)\n", n);
    for (int i = 0; i < n; ++i) {
      Result<std::string> d = cuda::device_description(i);
      fmt::print("  {}: {}\n", i, d ? *d : d.status().message());
    }
#else
    fmt::print("CUDA backend: not built (configure with -DFLINT_CUDA=ON and nvcc available)\n");
#endif
    return 0;
  };
}

}  // namespace flint::cli
