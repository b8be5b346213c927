// flint plan's catalogs: machines (hardware.json, built into the binary) and popular models with
// their exact architecture hyperparameters, so a plan needs neither a download nor a purchase.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

#include "core/status.h"
#include "model/presets.h"

namespace flint::planner {

struct Hardware {
  std::string id, name;
  std::string kind;  // "unified", "discrete", or "cpu" (this machine, measured)
  std::string os;
  double memory_gb = 0;
  std::optional<double> bandwidth_gbs, fp16_tflops, fp8_tflops, fp4_tflops, power_w, price_usd;
  double os_reserve_gb = 0;     // kept for the OS and driver
  double usable_fraction = 1;   // of what remains, what a model may take
  double decode_efficiency = 0.75, prefill_efficiency = 0.45;
  nlohmann::json sources;       // figure -> where it comes from
};

// The catalog (hardware.json); ids as `flint plan --hw` takes them.
const std::vector<Hardware>& hardware_catalog();
const Hardware* find_hardware(std::string_view id);
// The efficiency notes of hardware.json, for --json output and documentation.
const nlohmann::json& hardware_efficiency_sources();

struct CatalogModel {
  std::string id;           // "llama-3.3-70b"
  std::string description;
  model::ModelShape shape;  // exact hyperparameters (tensors priced through flint gen's plans)
  uint32_t n_swa_layers = 0;  // layers whose attention sees only the last swa_window tokens
  uint32_t swa_window = 0;
  std::string native_quant;  // what the original release ships ("BF16", "MXFP4")
  std::string note;          // how the tensor list is approximated, when it is
};

const std::vector<CatalogModel>& model_catalog();
const CatalogModel* find_model(std::string_view id);

}  // namespace flint::planner
