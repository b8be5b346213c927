# Sourced by the bench/ build scripts: flint_libs ROOT NAME fills the array `libs` with the static
# libraries of ROOT/build (in link order), or stops with NAME's message when one is missing.
flint_libs() {
  local b=$1/build/src l
  libs=()
  for l in runtime/libflint_runtime planner/libflint_planner model/libflint_model backend/cpu/libflint_cpu \
           gguf/libflint_gguf quant/libflint_quant tokenizer/libflint_tokenizer tokenizer/jinja/libflint_jinja \
           core/libflint_core; do
    [[ -f $b/$l.a ]] || { echo "$2: $b/$l.a is missing: run make build first" >&2; exit 1; }
    libs+=("$b/$l.a")
  done
}
