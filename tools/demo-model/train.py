#!/usr/bin/python3
"""Trains flint's bundled demo model and exports it as GGUF.

A Llama-architecture model (RMSNorm, RoPE, grouped-query attention, SwiGLU, tied embeddings) of a
few million parameters, with a byte-level BPE vocabulary trained here, on the King James Bible
(public domain) from Debian's bible-kjv package. Runs on a 2-core CPU in under an hour with
Debian's python3-torch and python3-numpy (with OpenBLAS: Debian's torch falls back to the
reference BLAS without it, and trains about 15x slower):

    apt-get install python3-torch python3-numpy libopenblas0-pthread bible-kjv
    /usr/bin/python3 tools/demo-model/train.py --out models/

Writes:
    OUT/flint-demo-kjv-F16.gguf   the model (F16 matrices, F32 norms), tokenizer included
    OUT/flint-demo-kjv.json       data source and licence, hyperparameters, seed, losses, timing
    --fixture-dir (tests/data/demo by default):
        reference.json            a fixed text, its token ids, and how the logits were computed
        reference.logits.f32      float32 [n_tokens][n_vocab]: the PyTorch model's logits for those
                                  ids, from the exported (F16-rounded) weights, computed in float64

Same seed, same corpus, same torch version: the same file.
"""

import argparse
import hashlib
import heapq
import json
import math
import os
import re
import struct
import subprocess
import sys
import time

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

# ----------------------------------------------------------------------------------------------
# Corpus

def load_kjv():
    """The whole King James Bible as plain text: each chapter a heading line ("Genesis 1"), then
    one verse per line without its number."""
    try:
        raw = subprocess.run(["bible", "-l100000", "gen1:1-rev22:21"], check=True,
                             capture_output=True, text=True).stdout
    except FileNotFoundError:
        sys.exit("train.py: the `bible` program is missing: apt-get install bible-kjv")
    chapters = []
    for line in raw.splitlines():
        if not line.strip():
            continue
        verse = re.match(r"^ +\d+ (.*)$", line)  # "  1 In the beginning ..."; headings start at column 0
        if verse:
            chapters[-1].append(verse.group(1).strip())
        else:
            chapters.append([line.strip()])
    assert len(chapters) == 1189, len(chapters)
    return ["\n".join(c) + "\n" for c in chapters]


# ----------------------------------------------------------------------------------------------
# Byte-level BPE (GPT-2 style), pre-tokenized with GPT-2's regex. The corpus is ASCII, where the
# regex's \p{L} and \p{N} are exactly [A-Za-z] and [0-9], so this split is the one llama.cpp and
# flint make with tokenizer.ggml.pre = "gpt-2".

GPT2_SPLIT = re.compile(r"""'s|'t|'re|'ve|'m|'ll|'d| ?[A-Za-z]+| ?[0-9]+| ?[^\sA-Za-z0-9]+|\s+(?!\S)|\s+""")


def bytes_to_unicode():
    """GPT-2's map from bytes to printable characters (token texts are in this alphabet)."""
    bs = list(range(ord("!"), ord("~") + 1)) + list(range(ord("¡"), ord("¬") + 1)) + \
        list(range(ord("®"), ord("ÿ") + 1))
    cs = bs[:]
    n = 0
    for b in range(256):
        if b not in bs:
            bs.append(b)
            cs.append(256 + n)
            n += 1
    return {b: chr(c) for b, c in zip(bs, cs)}


def train_bpe(texts, n_merges):
    """Returns the merges, in order, as pairs of token ids; ids 0..255 are the bytes and merge i
    makes token 256 + i. The most frequent adjacent pair wins; ties go to the smallest ids."""
    word_freq = {}
    for t in texts:
        for w in GPT2_SPLIT.findall(t):
            word_freq[w] = word_freq.get(w, 0) + 1
    words = [list(w.encode("utf-8")) for w in word_freq]
    freqs = list(word_freq.values())
    pair_count, pair_words = {}, {}
    for i, w in enumerate(words):
        for a, b in zip(w, w[1:]):
            pair_count[(a, b)] = pair_count.get((a, b), 0) + freqs[i]
            pair_words.setdefault((a, b), set()).add(i)
    heap = [(-c, p) for p, c in pair_count.items()]
    heapq.heapify(heap)
    merges = []
    while len(merges) < n_merges and heap:
        neg, pair = heapq.heappop(heap)
        if pair_count.get(pair, 0) != -neg or -neg <= 0:
            continue  # a stale entry: the count changed since it was pushed
        new_id = 256 + len(merges)
        merges.append(pair)
        changed = {}
        for i in list(pair_words.get(pair, ())):
            w, f = words[i], freqs[i]
            for a, b in zip(w, w[1:]):
                pair_count[(a, b)] -= f
                changed[(a, b)] = True
            out, j = [], 0
            while j < len(w):
                if j + 1 < len(w) and w[j] == pair[0] and w[j + 1] == pair[1]:
                    out.append(new_id)
                    j += 2
                else:
                    out.append(w[j])
                    j += 1
            words[i] = out
            for a, b in zip(out, out[1:]):
                pair_count[(a, b)] = pair_count.get((a, b), 0) + f
                pair_words.setdefault((a, b), set()).add(i)
                changed[(a, b)] = True
        for p in changed:
            if pair_count.get(p, 0) > 0:
                heapq.heappush(heap, (-pair_count[p], p))
        del pair_count[pair]
        pair_words.pop(pair, None)
    return merges


class Bpe:
    def __init__(self, merges):
        self.ranks = {p: r for r, p in enumerate(merges)}
        self.cache = {}

    def encode_word(self, w):
        """Merges the lowest-ranked adjacent pair first (leftmost among equals), as llama.cpp does."""
        if w in self.cache:
            return self.cache[w]
        ids = list(w.encode("utf-8"))
        while len(ids) > 1:
            best, at = None, -1
            for j in range(len(ids) - 1):
                r = self.ranks.get((ids[j], ids[j + 1]))
                if r is not None and (best is None or r < best):
                    best, at = r, j
            if best is None:
                break
            ids[at:at + 2] = [256 + best]
        self.cache[w] = ids
        return ids

    def encode(self, text):
        out = []
        for w in GPT2_SPLIT.findall(text):
            out.extend(self.encode_word(w))
        return out


def token_texts(merges):
    b2u = bytes_to_unicode()
    texts = [b2u[b] for b in range(256)]
    for a, b in merges:
        texts.append(texts[a] + texts[b])
    return texts


# ----------------------------------------------------------------------------------------------
# The model, written the way llama.cpp's "llama" architecture computes it: rope rotates adjacent
# pairs (llama.cpp's NORM rope), query head h reads KV head h // (n_head / n_head_kv).

class RMSNorm(nn.Module):
    def __init__(self, n, eps):
        super().__init__()
        self.weight = nn.Parameter(torch.ones(n))
        self.eps = eps

    def forward(self, x):
        return x * torch.rsqrt(x.pow(2).mean(-1, keepdim=True) + self.eps) * self.weight


def rope(x, cos, sin):
    # x: [B, T, H, D]; pairs (2i, 2i+1) rotate by pos * base^(-2i/D)
    x0, x1 = x[..., 0::2], x[..., 1::2]
    return torch.stack((x0 * cos - x1 * sin, x0 * sin + x1 * cos), dim=-1).flatten(-2)


class Block(nn.Module):
    def __init__(self, h):
        super().__init__()
        d, hd = h["n_embd"], h["head_dim"]
        self.n_head, self.n_kv, self.hd = h["n_head"], h["n_head_kv"], hd
        self.attn_norm = RMSNorm(d, h["rms_eps"])
        self.wq = nn.Linear(d, self.n_head * hd, bias=False)
        self.wk = nn.Linear(d, self.n_kv * hd, bias=False)
        self.wv = nn.Linear(d, self.n_kv * hd, bias=False)
        self.wo = nn.Linear(self.n_head * hd, d, bias=False)
        self.ffn_norm = RMSNorm(d, h["rms_eps"])
        self.gate = nn.Linear(d, h["n_ff"], bias=False)
        self.up = nn.Linear(d, h["n_ff"], bias=False)
        self.down = nn.Linear(h["n_ff"], d, bias=False)

    def forward(self, x, cos, sin, mask):
        B, T, _ = x.shape
        h = self.attn_norm(x)                                         # [B, T, n_embd]
        q = rope(self.wq(h).view(B, T, self.n_head, self.hd), cos, sin)  # [B, T, n_head, hd]
        k = rope(self.wk(h).view(B, T, self.n_kv, self.hd), cos, sin)    # [B, T, n_kv, hd]
        v = self.wv(h).view(B, T, self.n_kv, self.hd)
        g = self.n_head // self.n_kv
        k = k.repeat_interleave(g, dim=2)
        v = v.repeat_interleave(g, dim=2)
        q, k, v = (t.transpose(1, 2) for t in (q, k, v))              # [B, n_head, T, hd]
        att = (q @ k.transpose(-1, -2)) / math.sqrt(self.hd) + mask   # [B, n_head, T, T]
        y = (att.softmax(-1) @ v).transpose(1, 2).reshape(B, T, -1)   # [B, T, n_head * hd]
        x = x + self.wo(y)
        h = self.ffn_norm(x)
        return x + self.down(F.silu(self.gate(h)) * self.up(h))


class Llama(nn.Module):
    def __init__(self, h):
        super().__init__()
        self.h = h
        self.tok = nn.Embedding(h["n_vocab"], h["n_embd"])
        self.blocks = nn.ModuleList(Block(h) for _ in range(h["n_layer"]))
        self.norm = RMSNorm(h["n_embd"], h["rms_eps"])
        inv = h["rope_base"] ** (-torch.arange(0, h["head_dim"], 2, dtype=torch.float64) / h["head_dim"])
        ang = torch.arange(h["n_ctx"], dtype=torch.float64)[:, None] * inv[None, :]  # [n_ctx, hd/2]
        self.register_buffer("cos", ang.cos()[:, None, :], persistent=False)      # [n_ctx, 1, hd/2]
        self.register_buffer("sin", ang.sin()[:, None, :], persistent=False)

    def forward(self, ids):
        T = ids.shape[1]
        x = self.tok(ids)                                             # [B, T, n_embd]
        cos, sin = self.cos[:T].to(x.dtype), self.sin[:T].to(x.dtype)
        mask = torch.full((T, T), float("-inf"), dtype=x.dtype).triu(1)
        for b in self.blocks:
            x = b(x, cos, sin, mask)
        return self.norm(x) @ self.tok.weight.T                       # [B, T, n_vocab], tied


def init_weights(model, n_layer):
    for name, p in model.named_parameters():
        if p.dim() == 2:
            std = 0.02 / math.sqrt(2 * n_layer) if name.endswith(("wo.weight", "down.weight")) else 0.02
            nn.init.normal_(p, 0.0, std)


# ----------------------------------------------------------------------------------------------
# GGUF v3 writer (only what this model needs)

GGUF_U32, GGUF_I32, GGUF_F32, GGUF_BOOL, GGUF_STR, GGUF_ARR = 4, 5, 6, 7, 8, 9
GGML_F32, GGML_F16 = 0, 1
ALIGN = 32


def gguf_str(s):
    b = s.encode("utf-8")
    return struct.pack("<Q", len(b)) + b


def gguf_value(kind, v):
    if kind == GGUF_U32:
        return struct.pack("<I", v)
    if kind == GGUF_I32:
        return struct.pack("<i", v)
    if kind == GGUF_F32:
        return struct.pack("<f", v)
    if kind == GGUF_BOOL:
        return struct.pack("<B", 1 if v else 0)
    if kind == GGUF_STR:
        return gguf_str(v)
    raise ValueError(kind)


def write_gguf(path, kvs, tensors):
    """kvs: [(key, kind, value)], an array value as (GGUF_ARR, elem_kind, list);
    tensors: [(name, numpy array in ggml order reversed, i.e. [rows, cols])]."""
    head = b"GGUF" + struct.pack("<IQQ", 3, len(tensors), len(kvs))
    for key, kind, v in kvs:
        head += gguf_str(key)
        if kind == GGUF_ARR:
            elem, items = v
            head += struct.pack("<IIQ", GGUF_ARR, elem, len(items))
            head += b"".join(gguf_value(elem, x) for x in items)
        else:
            head += struct.pack("<I", kind) + gguf_value(kind, v)
    offset, blobs = 0, []
    for name, a in tensors:
        ggml_type = GGML_F16 if a.dtype == np.float16 else GGML_F32
        head += gguf_str(name) + struct.pack("<I", a.ndim)
        head += b"".join(struct.pack("<Q", n) for n in reversed(a.shape))  # ne[0] = columns
        head += struct.pack("<IQ", ggml_type, offset)
        data = np.ascontiguousarray(a).tobytes()
        pad = (-len(data)) % ALIGN
        blobs.append(data + b"\0" * pad)
        offset += len(data) + pad
    head += b"\0" * ((-len(head)) % ALIGN)
    with open(path + ".partial", "wb") as f:
        f.write(head)
        for b in blobs:
            f.write(b)
    os.replace(path + ".partial", path)


def export(model, h, texts, merges, path, card):
    n_special = 2
    tokens = texts + ["<|bos|>", "<|eos|>"]
    bos, eos = len(texts), len(texts) + 1
    types = [1] * len(texts) + [3] * n_special  # NORMAL, CONTROL
    b2u = bytes_to_unicode()
    merge_strs = [texts[a] + " " + texts[b] for a, b in merges]
    assert len(tokens) == h["n_vocab"]
    assert all(" " not in texts[a] and " " not in texts[b] for a, b in merges) and b2u[32] != " "
    kvs = [
        ("general.architecture", GGUF_STR, "llama"),
        ("general.name", GGUF_STR, card["name"]),
        ("general.license", GGUF_STR, "public-domain"),
        ("general.description", GGUF_STR, card["description"]),
        ("llama.context_length", GGUF_U32, h["n_ctx"]),
        ("llama.embedding_length", GGUF_U32, h["n_embd"]),
        ("llama.block_count", GGUF_U32, h["n_layer"]),
        ("llama.feed_forward_length", GGUF_U32, h["n_ff"]),
        ("llama.attention.head_count", GGUF_U32, h["n_head"]),
        ("llama.attention.head_count_kv", GGUF_U32, h["n_head_kv"]),
        ("llama.attention.layer_norm_rms_epsilon", GGUF_F32, h["rms_eps"]),
        ("llama.rope.freq_base", GGUF_F32, h["rope_base"]),
        ("llama.rope.dimension_count", GGUF_U32, h["head_dim"]),
        ("llama.vocab_size", GGUF_U32, h["n_vocab"]),
        ("general.file_type", GGUF_U32, 1),  # mostly F16
        ("tokenizer.ggml.model", GGUF_STR, "gpt2"),
        ("tokenizer.ggml.pre", GGUF_STR, "gpt-2"),
        ("tokenizer.ggml.tokens", GGUF_ARR, (GGUF_STR, tokens)),
        ("tokenizer.ggml.token_type", GGUF_ARR, (GGUF_I32, types)),
        ("tokenizer.ggml.merges", GGUF_ARR, (GGUF_STR, merge_strs)),
        ("tokenizer.ggml.bos_token_id", GGUF_U32, bos),
        ("tokenizer.ggml.eos_token_id", GGUF_U32, eos),
        ("tokenizer.ggml.add_bos_token", GGUF_BOOL, True),
        ("tokenizer.ggml.add_eos_token", GGUF_BOOL, False),
    ]
    f16 = lambda t: t.detach().to(torch.float16).numpy()
    f32 = lambda t: t.detach().to(torch.float32).numpy()
    tensors = [("token_embd.weight", f16(model.tok.weight))]
    for i, b in enumerate(model.blocks):
        p = f"blk.{i}."
        tensors += [
            (p + "attn_norm.weight", f32(b.attn_norm.weight)),
            (p + "attn_q.weight", f16(b.wq.weight)),
            (p + "attn_k.weight", f16(b.wk.weight)),
            (p + "attn_v.weight", f16(b.wv.weight)),
            (p + "attn_output.weight", f16(b.wo.weight)),
            (p + "ffn_norm.weight", f32(b.ffn_norm.weight)),
            (p + "ffn_gate.weight", f16(b.gate.weight)),
            (p + "ffn_up.weight", f16(b.up.weight)),
            (p + "ffn_down.weight", f16(b.down.weight)),
        ]
    tensors.append(("output_norm.weight", f32(model.norm.weight)))
    write_gguf(path, kvs, tensors)
    return bos, eos


# ----------------------------------------------------------------------------------------------

def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--out", default="models")
    ap.add_argument("--fixture-dir", default="tests/data/demo")
    ap.add_argument("--seed", type=int, default=1611)
    ap.add_argument("--steps", type=int, default=1500)
    ap.add_argument("--batch", type=int, default=8)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--time-budget", type=float, default=0.0,
                    help="stop training after this many seconds (0: run every step; the "
                         "learning-rate schedule follows --steps either way)")
    args = ap.parse_args()
    torch.manual_seed(args.seed)
    torch.set_num_threads(args.threads)
    rng = np.random.default_rng(args.seed)
    t_start = time.time()

    chapters = load_kjv()
    corpus = "".join(chapters)
    assert corpus.isascii(), "the split regex assumes ASCII text"
    # Every 50th chapter is held out for validation.
    train_ch = [c for i, c in enumerate(chapters) if i % 50 != 25]
    val_ch = [c for i, c in enumerate(chapters) if i % 50 == 25]

    h = dict(n_vocab=4096, n_embd=256, n_layer=4, n_head=8, n_head_kv=4, head_dim=32, n_ff=704,
             n_ctx=256, rms_eps=1e-5, rope_base=10000.0)
    n_merges = h["n_vocab"] - 256 - 2
    t0 = time.time()
    merges = train_bpe(train_ch, n_merges)
    assert len(merges) == n_merges
    bpe = Bpe(merges)
    texts = token_texts(merges)
    bos = len(texts)
    train_ids = np.array([t for c in train_ch for t in bpe.encode(c)], dtype=np.int64)
    val_ids = np.array([t for c in val_ch for t in bpe.encode(c)], dtype=np.int64)
    t_bpe = time.time() - t0
    print(f"bpe: {n_merges} merges, {len(train_ids)} train / {len(val_ids)} val tokens "
          f"({len(corpus) / (len(train_ids) + len(val_ids)):.2f} bytes/token), {t_bpe:.0f} s", flush=True)

    model = Llama(h)
    init_weights(model, h["n_layer"])
    n_params = sum(p.numel() for p in model.parameters())
    print(f"model: {n_params / 1e6:.2f} M parameters", flush=True)
    opt = torch.optim.AdamW(model.parameters(), lr=3e-3, betas=(0.9, 0.95), weight_decay=0.1)
    T = h["n_ctx"]

    def batch_from(ids, n, gen):
        # Each row: BOS, then T - 1 tokens from a random place in the corpus; targets shifted by one.
        starts = gen.integers(0, len(ids) - T, size=n)
        x = np.stack([np.concatenate(([bos], ids[s:s + T - 1])) for s in starts])
        y = np.stack([ids[s:s + T] for s in starts])
        return torch.from_numpy(x), torch.from_numpy(y)

    def val_loss(n_batches=8):
        gen = np.random.default_rng(12345)
        model.eval()
        with torch.no_grad():
            losses = [F.cross_entropy(model(x).flatten(0, 1), y.flatten()).item()
                      for x, y in (batch_from(val_ids, args.batch, gen) for _ in range(n_batches))]
        model.train()
        return float(np.mean(losses))

    warmup, lr_max, lr_min = 100, 3e-3, 3e-4
    t0 = time.time()
    history, step = [], 0
    for step in range(1, args.steps + 1):
        lr = lr_max * step / warmup if step <= warmup else \
            lr_min + 0.5 * (lr_max - lr_min) * (1 + math.cos(math.pi * (step - warmup) / (args.steps - warmup)))
        for g in opt.param_groups:
            g["lr"] = lr
        x, y = batch_from(train_ids, args.batch, rng)
        loss = F.cross_entropy(model(x).flatten(0, 1), y.flatten())
        opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
        if step % 100 == 0 or step == args.steps:
            elapsed = time.time() - t0
            entry = {"step": step, "train_loss": round(loss.item(), 4), "lr": lr, "seconds": round(elapsed)}
            if step % 500 == 0 or step == args.steps:
                entry["val_loss"] = round(val_loss(), 4)
            history.append(entry)
            print(json.dumps(entry), flush=True)
        if args.time_budget > 0 and time.time() - t0 > args.time_budget:
            print(f"time budget reached at step {step}", flush=True)
            break
    t_train = time.time() - t0
    final_val = val_loss(32)
    print(f"final validation loss {final_val:.4f} nats/token", flush=True)

    # Export, then make the reference from the weights as exported (F16-rounded matrices).
    os.makedirs(args.out, exist_ok=True)
    name = "flint-demo-kjv"
    gguf_path = os.path.join(args.out, f"{name}-F16.gguf")
    card = {"name": name,
            "description": "flint's demo model: a 4-layer Llama trained on the King James Bible"}
    export(model, h, texts, merges, gguf_path, card)
    with torch.no_grad():
        for m in model.modules():
            if isinstance(m, (nn.Linear, nn.Embedding)):
                m.weight.copy_(m.weight.to(torch.float16).to(torch.float32))
    ref_text = val_ch[0].split("\n", 1)[1][:400]  # held-out verses, heading dropped
    ref_ids = [bos] + bpe.encode(ref_text)
    ref_ids = ref_ids[:64]
    model64 = model.double()
    with torch.no_grad():
        logits = model64(torch.tensor([ref_ids]))[0].to(torch.float32).numpy()  # [n, n_vocab]
    os.makedirs(args.fixture_dir, exist_ok=True)
    logits.tofile(os.path.join(args.fixture_dir, "reference.logits.f32"))
    ref_text_used = "".join(texts[i] for i in ref_ids[1:])
    u2b = {v: k for k, v in bytes_to_unicode().items()}
    ref_text_used = bytes(u2b[c] for c in ref_text_used).decode("utf-8")
    with open(os.path.join(args.fixture_dir, "reference.json"), "w") as f:
        json.dump({"model": os.path.basename(gguf_path), "text": ref_text_used, "tokens": ref_ids,
                   "n_vocab": h["n_vocab"],
                   "logits": "reference.logits.f32: float32 [n_tokens][n_vocab], row i after tokens[0..i]",
                   "how": "PyTorch forward pass of train.py's model in float64 with the exported "
                          "F16-rounded weights, one batch over all tokens"}, f, indent=1)
        f.write("\n")

    sha = hashlib.sha256(open(gguf_path, "rb").read()).hexdigest()
    info = {
        "file": os.path.basename(gguf_path), "sha256": sha, "bytes": os.path.getsize(gguf_path),
        "data": {"source": "King James Version of the Bible (1611), Debian package bible-kjv-text "
                           "(read with the `bible` program of package bible-kjv)",
                 "licence": "public domain (the translation's copyright has expired; see "
                            "/usr/share/doc/bible-kjv-text/copyright)",
                 "bytes": len(corpus), "chapters": len(chapters),
                 "validation": "every 50th chapter (index % 50 == 25) held out",
                 "train_tokens": int(len(train_ids)), "val_tokens": int(len(val_ids))},
        "tokenizer": {"type": "byte-level BPE (GPT-2 bytes-to-unicode), pre-tokenizer gpt-2",
                      "n_vocab": h["n_vocab"], "merges": n_merges, "special": ["<|bos|>", "<|eos|>"]},
        "hyperparameters": h, "n_params": n_params,
        "training": {"seed": args.seed, "steps_planned": args.steps, "steps_run": step,
                     "batch": args.batch, "seq_len": T, "optimizer": "AdamW(0.9, 0.95), wd 0.1, clip 1.0",
                     "lr": f"{lr_max} peak, {warmup} warmup steps, cosine to {lr_min}",
                     "threads": args.threads, "torch": torch.__version__,
                     "bpe_seconds": round(t_bpe), "train_seconds": round(t_train),
                     "total_seconds": round(time.time() - t_start)},
        "final_val_loss": round(final_val, 4), "history": history,
    }
    with open(os.path.join(args.out, f"{name}.json"), "w") as f:
        json.dump(info, f, indent=1)
        f.write("\n")
    print(f"wrote {gguf_path} ({info['bytes']} bytes) in {info['training']['total_seconds']} s")


if __name__ == "__main__":
    main()
