// flint: local LLM inference. One binary, one subcommand per job.
#include <cstdio>
#include <string>
#include <utility>
#include <vector>

#include "cli/commands.h"

namespace flint::cli {

int fail(const std::string& message) {
  std::fprintf(stderr, "flint: error: %s\n", message.c_str());
  return 1;
}

}  // namespace flint::cli

int main(int argc, char** argv) {
  using namespace flint::cli;
  CLI::App app{"flint: run open-weight language models on your own machine"};
  app.require_subcommand(1);
  app.set_version_flag("--version", "flint 0.1.0");

  std::vector<std::pair<CLI::App*, Runner>> commands;
  const auto add = [&](Runner (*adder)(CLI::App&)) {
    const size_t before = app.get_subcommands({}).size();
    Runner r = adder(app);
    commands.emplace_back(app.get_subcommands({})[before], std::move(r));
  };
  add(add_run);
  add(add_chat);
  add(add_inspect);
  add(add_gen);
  add(add_quantize);
  add(add_eval);
  add(add_tokenize);
  add(add_detokenize);
  add(add_convert_tokenizer);
  add(add_compare);
  add(add_probe);
  add(add_bench);
  add(add_plan);
  add(add_cuda_info);

  CLI11_PARSE(app, argc, argv);
  for (auto& [sub, run] : commands) {
    if (sub->parsed()) return run();
  }
  return 1;
}
