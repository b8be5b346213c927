// Regenerates flint's chat-template reference: what @huggingface/jinja 0.5.11 (the Jinja engine
// of transformers.js) renders for every template x conversation x add_generation_prompt listed
// in tests/data/chat/conversations.json. flint's jinja_test compares its own renders with these,
// byte for byte; node is not needed then.
//
//   node tools/reference/render-chat.mjs      (from the repo root, after scripts/install-deps)
//
// Writes tests/data/chat/expected.json: {"cases": {"<template>/<conversation>/<gen|nogen>":
// {"output": "..."} or {"error": "<message>"}}} with sorted keys, so it is deterministic.
// A case's context is the conversation's `context`, then add_generation_prompt, then the
// template's `tokens` (bos_token / eos_token). strftime_now() (Llama 3.2) sees the fixed local
// time `now` of conversations.json, not today, and month names are English (the script refuses
// to run under another locale).
import { readFileSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { Template } from "@huggingface/jinja";

const here = dirname(fileURLToPath(import.meta.url));
const dataDir = join(here, "../../tests/data/chat");
const spec = JSON.parse(readFileSync(join(dataDir, "conversations.json"), "utf8"));

// strftime_now() formats `new Date()` in local time: pin it.
const { year, month, day, hour, minute } = spec.now;
const fixedNow = new Date(year, month - 1, day, hour, minute, 0).getTime();
const RealDate = Date;
globalThis.Date = class extends RealDate {
  constructor(...args) {
    if (args.length === 0) super(fixedNow);
    else super(...args);
  }
  static now() {
    return fixedNow;
  }
};
const locale = new Intl.DateTimeFormat().resolvedOptions().locale;
if (!locale.startsWith("en")) {
  console.error(`render-chat: month names would follow the locale ${locale}; run with LANG=en_US.UTF-8`);
  process.exit(1);
}

const cases = {};
for (const tmpl of spec.templates) {
  const source = readFileSync(join(dataDir, tmpl.file), "utf8");
  const template = new Template(source);
  for (const conversation of spec.conversations) {
    for (const gen of [false, true]) {
      const context = { ...conversation.context, add_generation_prompt: gen, ...tmpl.tokens };
      const key = `${tmpl.name}/${conversation.name}/${gen ? "gen" : "nogen"}`;
      try {
        cases[key] = { output: template.render(context) };
      } catch (e) {
        cases[key] = { error: String(e.message) };
      }
    }
  }
}

const sorted = Object.fromEntries(Object.keys(cases).sort().map((k) => [k, cases[k]]));
const out = {
  generator: "tools/reference/render-chat.mjs with @huggingface/jinja 0.5.11",
  cases: sorted,
};
writeFileSync(join(dataDir, "expected.json"), JSON.stringify(out, null, 1) + "\n");
const errors = Object.values(sorted).filter((c) => "error" in c).length;
console.log(`wrote ${Object.keys(sorted).length} cases (${errors} expected errors) to tests/data/chat/expected.json`);
