// The flint subcommands. Each registers its options on the CLI11 app and returns the exit code
// of its run through `run`, so main() stays a table.
#pragma once

#include <functional>

#include <CLI/CLI.hpp>

namespace flint::cli {

using Runner = std::function<int()>;

Runner add_inspect(CLI::App& app);
Runner add_quantize(CLI::App& app);
Runner add_gen(CLI::App& app);
Runner add_cuda_info(CLI::App& app);
Runner add_eval(CLI::App& app);
Runner add_run(CLI::App& app);
Runner add_chat(CLI::App& app);
Runner add_tokenize(CLI::App& app);
Runner add_detokenize(CLI::App& app);
Runner add_convert_tokenizer(CLI::App& app);
Runner add_compare(CLI::App& app);
Runner add_probe(CLI::App& app);
Runner add_bench(CLI::App& app);
Runner add_plan(CLI::App& app);

// Prints "flint: error: <message>" to stderr and returns the exit code for failures.
int fail(const std::string& message);

}  // namespace flint::cli
