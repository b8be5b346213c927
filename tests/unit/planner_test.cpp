// flint plan's arithmetic against the figures everyone quotes (the seed article), its catalogs,
// and its errors.
#include <chrono>
#include <string>

#include <gtest/gtest.h>

#include "model/generator.h"
#include "planner/plan.h"
#include "planner/probe.h"
#include "support/fixtures.h"

namespace flint::planner {
namespace {

Plan plan_or_die(PlanRequest r) {
  Result<Plan> p = make_plan(r, nullptr);
  EXPECT_TRUE(p.is_ok()) << p.status().message();
  return p.is_ok() ? std::move(p).value() : Plan{};
}

const MachinePlan& machine(const Plan& p, const std::string& id) {
  for (const MachinePlan& m : p.machines) {
    if (m.hw == id) return m;
  }
  ADD_FAILURE() << "no plan for " << id;
  static const MachinePlan none;
  return none;
}

TEST(Plan, TheSeedArticlesArithmeticComesOutOfTheCatalog) {
  const Plan p = plan_or_die({.model = "llama-3.3-70b", .quant = "Q4_K_M",
                              .hw = {"rtx-spark-n1x", "mac-studio-m4-max-128", "dgx-spark"}});
  // "A Llama 3.3 70B model in Q4_K_M quantization occupies approximately 41GB"
  EXPECT_GT(p.model.weights_bytes, 41e9);
  EXPECT_LT(p.model.weights_bytes, 43.5e9);
  // "300 / 41 = 7.3 ... the ceiling is around 7 tok/s"; "546 / 41 = 13.3"
  EXPECT_NEAR(*machine(p, "rtx-spark-n1x").decode_tok_s_ceiling, 7.0, 0.5);
  EXPECT_NEAR(*machine(p, "mac-studio-m4-max-128").decode_tok_s_ceiling, 13.0, 0.7);
  for (const MachinePlan& m : p.machines) EXPECT_TRUE(m.fits) << m.hw;
}

TEST(Plan, TheMoeFitsEvery128GbMachineAndRunsAnOrderOfMagnitudeFasterThanTheDense32B) {
  const std::vector<std::string> big = {"rtx-spark-n1x", "dgx-spark", "mac-studio-m4-max-128"};
  const Plan moe = plan_or_die({.model = "qwen3-30b-a3b", .quant = "Q4_K_M", .hw = big, .ctx = 32768});
  const Plan dense = plan_or_die({.model = "qwen3-32b", .quant = "Q4_K_M", .hw = big, .ctx = 32768});
  for (const std::string& id : big) {
    const MachinePlan& m = machine(moe, id);
    EXPECT_TRUE(m.fits) << id;
    EXPECT_EQ(m.max_ctx, 40960) << id;  // its whole trained context, with room to spare
    EXPECT_GT(*m.decode_tok_s_ceiling, 8.0 * *machine(dense, id).decode_tok_s_ceiling) << id;
  }
  // The published DGX Spark figures (llama.cpp, seed article): ~89 and ~10.7 tok/s.
  EXPECT_NEAR(*machine(dense, "dgx-spark").decode_tok_s_expected, 10.7, 2.0);
  EXPECT_GT(*machine(moe, "dgx-spark").decode_tok_s_expected, 70.0);
}

TEST(Plan, JsonHasTheFieldsScriptsReadForEveryMachine) {
  std::vector<std::string> all;
  for (const Hardware& h : hardware_catalog()) all.push_back(h.id);
  const Plan p = plan_or_die({.model = "mixtral-8x7b", .quant = "Q5_K_M", .hw = all, .users = 4});
  const nlohmann::json j = to_json(p);
  ASSERT_EQ(j["machines"].size(), all.size());
  for (const auto& m : j["machines"]) {
    for (const char* key : {"hw", "fits", "weights_bytes", "kv_bytes", "max_ctx", "decode_tok_s_ceiling",
                            "decode_tok_s_expected", "prefill_tok_s_expected", "ttft_s", "aggregate_tok_s"}) {
      EXPECT_TRUE(m.contains(key)) << m["hw"] << " lacks " << key;
    }
  }
  EXPECT_FALSE(to_table(p).empty());
  EXPECT_NE(to_svg(p).find("<svg"), std::string::npos);
}

TEST(Plan, AnUnknownFigureIsUnknownNeverInvented) {
  const Plan p = plan_or_die({.model = "llama-3.1-8b", .hw = {"rtx-spark-n1", "mac-studio-m4-max-128"}});
  const MachinePlan& n1 = machine(p, "rtx-spark-n1");  // no published bandwidth
  EXPECT_FALSE(n1.decode_tok_s_ceiling.has_value());
  EXPECT_FALSE(n1.unknown.empty());
  const MachinePlan& mac = machine(p, "mac-studio-m4-max-128");  // no published FLOPS
  EXPECT_TRUE(mac.decode_tok_s_ceiling.has_value());
  EXPECT_FALSE(mac.prefill_tok_s_expected.has_value());
  EXPECT_TRUE(to_json(p)["machines"][0]["decode_tok_s_ceiling"].is_null());
}

TEST(Plan, WhatDoesNotFitSaysWhatWould) {
  const Plan p = plan_or_die({.model = "llama-3.3-70b", .quant = "Q4_K_M", .hw = {"rtx-5090", "rtx-5060-ti-16"}});
  const MachinePlan& m = machine(p, "rtx-5090");
  EXPECT_FALSE(m.fits);
  ASSERT_FALSE(m.suggestions.empty());
  EXPECT_NE(m.suggestions[0].find("Q2_K fits"), std::string::npos) << m.suggestions[0];
  EXPECT_NE(machine(p, "rtx-5060-ti-16").suggestions[0].find("no context fits"), std::string::npos);

  // Many users at a long context: fewer users, or a shorter context, would fit.
  const Plan many = plan_or_die({.model = "qwen3-32b", .quant = "Q4_K_M", .hw = {"rtx-5090"}, .ctx = 32768, .users = 8});
  const MachinePlan& u = machine(many, "rtx-5090");
  EXPECT_FALSE(u.fits);
  EXPECT_GE(u.max_users, 1);
  EXPECT_LT(u.max_users, 8);
  EXPECT_GT(u.max_ctx, 1024);
  EXPECT_LT(u.max_ctx, 32768);
}

TEST(Plan, SlidingWindowLayersKeepOnlyTheirWindow) {
  const Plan p = plan_or_die({.model = "gpt-oss-120b", .quant = "MXFP4", .hw = {"dgx-spark"}, .ctx = 131072});
  // gpt-oss-120b's MXFP4 release is about 63 GB; half its 36 layers keep 128 tokens.
  EXPECT_GT(p.model.weights_bytes, 55e9);
  EXPECT_LT(p.model.weights_bytes, 70e9);
  EXPECT_EQ(p.model.kv_bytes(100000), p.model.kv_layer_token_bytes * (18ull * 100000 + 18ull * 128));
  EXPECT_TRUE(machine(p, "dgx-spark").fits);
}

TEST(Plan, EveryCatalogModelPricesAtEveryQuantization) {
  for (const CatalogModel& m : model_catalog()) {
    for (const std::string& q : plan_quants()) {
      Result<Plan> p = make_plan({.model = m.id, .quant = q, .hw = {"h200"}}, nullptr);
      ASSERT_TRUE(p.is_ok()) << m.id << " " << q << ": " << p.status().message();
      const double bpw = 8.0 * static_cast<double>(p->model.weights_bytes) / static_cast<double>(p->model.n_params);
      EXPECT_GT(bpw, 2.5) << m.id << " " << q;
      EXPECT_LT(bpw, 16.5) << m.id << " " << q;
      if (q == "Q4_K_M") {
        EXPECT_GT(bpw, 4.5) << m.id;
        // gpt-oss's 2880-wide rows are not whole K-quant blocks: llama-quantize falls back to
        // Q5_0 / Q8_0 for them, as flint prices it.
        EXPECT_LT(bpw, m.id.starts_with("gpt-oss") ? 6.5 : 5.2) << m.id;
      }
      if (q == "BF16") {
        EXPECT_NEAR(bpw, 16.0, 0.05) << m.id;
      }
    }
  }
}

TEST(HardwareCatalog, EveryFigureHasASource) {
  ASSERT_GE(hardware_catalog().size(), 11u);
  for (const Hardware& h : hardware_catalog()) {
    EXPECT_TRUE(h.sources.contains("memory_gb")) << h.id;
    EXPECT_TRUE(h.sources.contains("bandwidth_gbs")) << h.id;  // a number or "unknown"
    const std::pair<const char*, std::optional<double>> figures[] = {
        {"fp16_tflops", h.fp16_tflops}, {"fp8_tflops", h.fp8_tflops}, {"fp4_tflops", h.fp4_tflops},
        {"power_w", h.power_w}, {"price_usd", h.price_usd}};
    for (const auto& [name, value] : figures) {
      if (value) {
        EXPECT_TRUE(h.sources.contains(name)) << h.id << " gives " << name << " without a source";
      }
    }
    EXPECT_GT(h.usable_fraction, 0.0);
    EXPECT_LE(h.usable_fraction, 1.0);
  }
  for (const char* id : {"rtx-spark-n1x", "rtx-spark-n1", "dgx-spark", "mac-studio-m4-max-128", "mac-mini-m4-pro-64",
                         "rtx-5060-ti-16", "rtx-4090", "rtx-5090", "a100-80", "h100-sxm", "h200"}) {
    EXPECT_NE(find_hardware(id), nullptr) << id;
  }
}

TEST(Plan, BadRequestsAreClearErrors) {
  auto message = [](PlanRequest r) {
    Result<Plan> p = make_plan(r, nullptr);
    return p.is_ok() ? std::string("ok") : p.status().message();
  };
  EXPECT_NE(message({.model = "llama-9000", .hw = {"h100-sxm"}}).find("neither a GGUF file nor a catalog model"), std::string::npos);
  EXPECT_NE(message({.model = "qwen3-8b", .hw = {"h100-pcie"}}).find("unknown machine 'h100-pcie'"), std::string::npos);
  EXPECT_NE(message({.model = "qwen3-8b", .quant = "Q7_K", .hw = {"h200"}}).find("unknown quantization"), std::string::npos);
  EXPECT_NE(message({.model = "qwen3-8b", .hw = {"h200"}, .ctx = 1 << 20}).find("longer than the 40960 tokens"), std::string::npos);
  EXPECT_NE(message({.model = "qwen3-8b", .hw = {"h200"}, .users = 0}).find("--users"), std::string::npos);
  EXPECT_NE(message({.model = "qwen3-8b", .hw = {"local"}}).find("flint probe"), std::string::npos);
}

// A multi-GB model known only by its header (a partial download): planned from the header's
// real tensor types, fast, and priced like the catalog's model of the same shape.
TEST(Plan, AHeaderOnlyFileOfAMultiGigabyteModelPlansInWellUnderASecond) {
  const std::string path = test::tmp_dir() + "/plan-llama3-70b-header.gguf";
  model::GenOptions o;
  o.shape = *model::find_preset("llama3-70b");
  o.ftype = model::FileType::Q4_K_M;
  o.output = path;
  o.progress = false;
  o.header_only = true;
  ASSERT_TRUE(model::generate_model(o).is_ok());
  const auto t0 = std::chrono::steady_clock::now();
  const Plan p = plan_or_die({.model = path, .hw = {"dgx-spark", "rtx-spark-n1x"}});
  const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  EXPECT_LT(seconds, 0.5);
  EXPECT_EQ(p.model.quant, "Q4_K_M");
  const Plan catalog = plan_or_die({.model = "llama-3.3-70b", .quant = "Q4_K_M", .hw = {"dgx-spark"}});
  EXPECT_NEAR(static_cast<double>(p.model.weights_bytes), static_cast<double>(catalog.model.weights_bytes), 0.01 * 42e9);
  // and re-priced as another quantization from its header alone
  const Plan q8 = plan_or_die({.model = path, .quant = "Q8_0", .hw = {"dgx-spark"}});
  EXPECT_GT(q8.model.weights_bytes, 70e9);
}

// A probe result survives its cache file, older files without the prompt setup, the layouts or
// the attention kernels still read, and a damaged one is refused with a message (the caller measures again).
TEST(ProbeCache, RoundTripsReadsOlderFilesAndRefusesNegativeRates) {
  ProbeResult r;
  r.machine = {.cpu = "test cpu", .cores = 2, .mem_total = 1 << 30, .kernels = "scalar", .features = "",
               .layouts = "q4_K q6_K in 16-row groups", .attention = "a kernel call per run of blocks"};
  r.date = "2026-12-02T00:00:00Z";
  r.bandwidth.push_back({.threads = 2, .read_gbps = 20.0, .triad_gbps = 19.0});
  r.matmul.push_back({.type = DType::Q4_K, .decode_gbps = 18.0, .prefill_gflops = 300.0,
                      .prefill_setup_s_per_byte = 1.5e-10, .prefill_marginal_gflops = 320.0});
  nlohmann::json j = to_json(r);
  Result<ProbeResult> back = probe_from_json(j);
  ASSERT_TRUE(back.is_ok()) << back.status().message();
  EXPECT_EQ(back->machine, r.machine);
  EXPECT_EQ(back->matmul[0].prefill_setup_s_per_byte, 1.5e-10);
  EXPECT_EQ(back->matmul[0].prefill_marginal_gflops, 320.0);
  // a file from before the layouts were recorded reads as measured on none: another machine
  // where the engine repacks (the cache is measured again)
  nlohmann::json old = j;
  old["machine"].erase("layouts");
  Result<ProbeResult> older = probe_from_json(old);
  ASSERT_TRUE(older.is_ok()) << older.status().message();
  EXPECT_EQ(older->machine.layouts, "");
  EXPECT_FALSE(older->machine == r.machine);
  // and one from before the attention kernels were named, as measured with other ones
  old = j;
  old["machine"].erase("attention");
  older = probe_from_json(old);
  ASSERT_TRUE(older.is_ok()) << older.status().message();
  EXPECT_EQ(older->machine.attention, "");
  EXPECT_FALSE(older->machine == r.machine);
  j["matmul"][0].erase("prefill_setup_s_per_byte");
  j["matmul"][0].erase("prefill_marginal_gflops");
  back = probe_from_json(j);
  ASSERT_TRUE(back.is_ok()) << back.status().message();
  EXPECT_EQ(back->matmul[0].prefill_marginal_gflops, 0.0);  // priced by prefill_gflops alone
  j["matmul"][0]["prefill_setup_s_per_byte"] = -1.0;
  back = probe_from_json(j);
  ASSERT_FALSE(back.is_ok());
  EXPECT_NE(back.status().message().find("negative prefill setup or rate for q4_K"), std::string::npos)
      << back.status().message();
}

}  // namespace
}  // namespace flint::planner
