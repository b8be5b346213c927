// Tokenizer: loading from GGUF and encoding (llama.cpp's llama_vocab::impl::tokenize).
#include "tokenizer/tokenizer.h"

#include "gguf/gguf_file.h"
#include "tokenizer/special_tokens.h"
#include "tokenizer/spm.h"
#include "tokenizer/tokenizer_impl.h"
#include "tokenizer/unicode.h"

namespace flint::tokenizer {

Result<Tokenizer> Tokenizer::from_gguf(const gguf::GgufFile& file) {
  auto impl = std::make_shared<Impl>();
  std::vector<std::string> merges;
  FLINT_ASSIGN_OR_RETURN(impl->vocab, detail::load_vocab(file, &merges));
  if (impl->vocab.kind == detail::ModelKind::kBpe) {
    const detail::PreTokenizerSpec* spec = detail::find_pre_tokenizer(impl->vocab.pre_name);
    FLINT_CHECK(spec != nullptr);  // load_vocab() checked the name
    FLINT_ASSIGN_OR_RETURN(impl->splitter, detail::RegexSplitter::create(spec->patterns));
    Result<detail::BpeModel> bpe = detail::BpeModel::build(impl->vocab, merges);
    if (!bpe) return bpe.status().with_context(file.path());
    impl->bpe = std::move(bpe).value();
  }
  return Tokenizer(std::move(impl));
}

Result<std::vector<int32_t>> Tokenizer::encode(std::string_view text, EncodeOptions options) const {
  const detail::Vocab& vocab = impl_->vocab;
  std::vector<int32_t> out;
  out.reserve(text.size() / 3 + 4);

  const auto add_special = [&](bool wanted, const std::optional<int32_t>& id,
                               const char* what) -> Status {
    if (!options.add_special || !wanted) return Status::ok();
    if (!id) return error("the vocabulary adds a {} token but defines none", what);
    out.push_back(*id);
    return Status::ok();
  };
  FLINT_RETURN_IF_ERROR(add_special(vocab.add_bos, vocab.bos, "BOS"));

  const std::vector<detail::Fragment> fragments =
      detail::partition_special(vocab, text, options.parse_special);

  if (vocab.kind == detail::ModelKind::kSpm) {
    // A stretch of text at the start or right after a special token gets a space prefix; every
    // space is written as U+2581, as SentencePiece stores it.
    bool after_special = true;
    std::string escaped;
    for (const detail::Fragment& f : fragments) {
      if (!f.is_text()) {
        out.push_back(f.token);
        after_special = true;
        continue;
      }
      escaped.clear();
      if (vocab.add_space_prefix && after_special) escaped += "\xE2\x96\x81";
      for (const char c : text.substr(f.begin, f.end - f.begin)) {
        if (c == ' ') {
          escaped += "\xE2\x96\x81";
        } else {
          escaped += c;
        }
      }
      FLINT_RETURN_IF_ERROR(detail::spm_encode(vocab, escaped, out));
      after_special = false;
    }
  } else {
    detail::BpeModel::Workspace workspace;
    std::vector<detail::Piece> words;
    std::string sanitized, regex_view;
    for (const detail::Fragment& f : fragments) {
      if (!f.is_text()) {
        out.push_back(f.token);
        continue;
      }
      std::string_view chunk = text.substr(f.begin, f.end - f.begin);
      std::string_view view = chunk;  // what the regexes see: the same bytes, but valid UTF-8
      if (!detail::is_valid_utf8(chunk)) {  // invalid bytes become U+FFFD, as in llama.cpp
        sanitized = detail::sanitize_utf8(chunk, regex_view);
        chunk = sanitized;
        view = regex_view.empty() ? chunk : std::string_view(regex_view);
      }
      FLINT_RETURN_IF_ERROR(impl_->splitter->split(view, words));
      for (const detail::Piece& w : words) {
        impl_->bpe->encode_word(vocab, chunk.substr(w.begin, w.end - w.begin), workspace, out);
      }
    }
  }

  FLINT_RETURN_IF_ERROR(add_special(vocab.add_eos, vocab.eos, "EOS"));
  return out;
}

std::string Tokenizer::piece(int32_t id) const {
  return std::string(detail::render_token(impl_->vocab, id, /*special=*/true));
}

const std::string& Tokenizer::text(int32_t id) const {
  static const std::string kEmpty;
  return impl_->vocab.valid(id) ? impl_->vocab.tokens[id].text : kEmpty;
}

std::optional<int32_t> Tokenizer::find(std::string_view text) const {
  const int32_t id = impl_->vocab.find(text);
  return id >= 0 ? std::optional<int32_t>(id) : std::nullopt;
}

int32_t Tokenizer::n_vocab() const { return impl_->vocab.size(); }
std::optional<int32_t> Tokenizer::bos() const { return impl_->vocab.bos; }
std::optional<int32_t> Tokenizer::eos() const { return impl_->vocab.eos; }
std::optional<int32_t> Tokenizer::eot() const { return impl_->vocab.eot; }
std::optional<int32_t> Tokenizer::unk() const { return impl_->vocab.unk; }
std::optional<int32_t> Tokenizer::pad() const { return impl_->vocab.pad; }

bool Tokenizer::is_end_of_generation(int32_t id) const {
  return impl_->vocab.valid(id) && impl_->vocab.end_of_generation[id];
}

TokenType Tokenizer::type(int32_t id) const {
  return impl_->vocab.valid(id) ? impl_->vocab.tokens[id].type : TokenType::kUndefined;
}

bool Tokenizer::is_special(int32_t id) const {
  return impl_->vocab.valid(id) &&
         (impl_->vocab.tokens[id].attr &
          (detail::kAttrControl | detail::kAttrUserDefined | detail::kAttrUnknown)) != 0;
}

bool Tokenizer::add_bos() const { return impl_->vocab.add_bos; }
bool Tokenizer::add_eos() const { return impl_->vocab.add_eos; }
bool Tokenizer::add_space_prefix() const { return impl_->vocab.add_space_prefix; }
bool Tokenizer::clean_spaces() const { return impl_->vocab.clean_spaces; }
const std::string& Tokenizer::model_name() const { return impl_->vocab.model_name; }
const std::string& Tokenizer::pre_name() const { return impl_->vocab.pre_name; }

}  // namespace flint::tokenizer
