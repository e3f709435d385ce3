/* fmref widgets: the formulas the interactive figures evaluate in the browser.
 *
 * Each function mirrors one fmref function (named in its comment) and is
 * checked against it by tests/test_widgets_data.py, which loads this file in
 * node. No DOM here: fmref-widgets.js draws, this file computes.
 */
(function (root, factory) {
  "use strict";
  var core = factory();
  if (typeof module === "object" && module.exports) {
    module.exports = core;
  } else {
    root.FmrefWidgetsCore = core;
  }
})(typeof self !== "undefined" ? self : this, function () {
  "use strict";

  function softmax(z) {
    // softmax over finite entries; -Infinity entries get probability 0
    var top = -Infinity;
    for (var i = 0; i < z.length; i++) if (z[i] > top) top = z[i];
    var e = z.map(function (v) { return v === -Infinity ? 0 : Math.exp(v - top); });
    var total = e.reduce(function (a, b) { return a + b; }, 0);
    return e.map(function (v) { return v / total; });
  }

  // fmref.nn.attention.attention_weights(q, k, is_causal, scale=1/(temperature*sqrt(d)))
  // given the scores q k^T / sqrt(d): softmax(scores / temperature) row by row.
  function attentionWeights(scores, temperature, causal) {
    return scores.map(function (row, i) {
      return softmax(row.map(function (s, j) {
        return causal && j > i ? -Infinity : s / temperature;
      }));
    });
  }

  function descendingOrder(z) {
    var idx = z.map(function (_, i) { return i; });
    idx.sort(function (a, b) { return z[b] - z[a] || a - b; });
    return idx;
  }

  // fmref.infer.sampling.top_k_filter: keep the k largest (ties with the k-th kept)
  function topKFilter(z, k) {
    k = Math.min(k, z.length);
    var kth = descendingOrder(z).map(function (i) { return z[i]; })[k - 1];
    return z.map(function (v) { return v < kth ? -Infinity : v; });
  }

  // fmref.infer.sampling.top_p_filter: remove a token once the mass ranked above it reaches p
  function topPFilter(z, p) {
    if (p >= 1) return z.slice();
    var order = descendingOrder(z);
    var probs = softmax(order.map(function (i) { return z[i]; }));
    var out = z.slice();
    var above = 0;
    for (var r = 0; r < order.length; r++) {
      if (r > 0 && above >= p) out[order[r]] = -Infinity;
      above += probs[r];
    }
    return out;
  }

  // fmref.infer.sampling.sampling_probs: temperature, then top-k, then top-p, then softmax;
  // temperature 0 is greedy (all the mass on the first arg-max). topK/topP null = off.
  function samplingProbs(logits, temperature, topK, topP) {
    if (temperature === 0) {
      var best = 0;
      for (var i = 1; i < logits.length; i++) if (logits[i] > logits[best]) best = i;
      return logits.map(function (_, j) { return j === best ? 1 : 0; });
    }
    var z = logits.map(function (v) { return v / temperature; });
    if (topK !== null && topK !== undefined) z = topKFilter(z, topK);
    if (topP !== null && topP !== undefined) z = topPFilter(z, topP);
    return softmax(z);
  }

  // fmref.infer.kv.kv_cache_bytes; window: a rolling buffer of that many positions (0: none)
  function kvCacheBytes(nLayers, nKvHeads, dHead, seqLen, batch, bytesPerValue, window) {
    var cached = window ? Math.min(seqLen, window) : seqLen;
    return 2 * nLayers * nKvHeads * dHead * cached * batch * bytesPerValue;
  }

  // fmref.scaling.params.parameter_breakdown for a LlamaConfig
  function llamaParameterBreakdown(c) {
    var d = c.dim / c.n_heads;
    var qWidth = c.n_heads * d, kvWidth = c.n_kv_heads * d;
    return {
      embeddings: c.vocab_size * c.dim,
      attention: c.n_layers * (2 * c.dim * qWidth + 2 * c.dim * kvWidth),
      feed_forward: c.n_layers * 3 * c.dim * c.hidden_dim,
      norms: (2 * c.n_layers + 1) * c.dim,
      head: c.vocab_size * c.dim
    };
  }

  // fmref.scaling.params.count_parameters
  function countParameters(c) {
    var parts = llamaParameterBreakdown(c);
    return parts.embeddings + parts.attention + parts.feed_forward + parts.norms + parts.head;
  }

  // fmref.train.efficient.zero_memory_per_gpu
  function zeroMemoryPerGpu(nParams, nGpus, stage, k, bytesParam, bytesGrad) {
    k = k === undefined ? 12 : k;
    bytesParam = bytesParam === undefined ? 2 : bytesParam;
    bytesGrad = bytesGrad === undefined ? 2 : bytesGrad;
    var p = bytesParam * nParams, g = bytesGrad * nParams, o = k * nParams;
    if (stage === 0) return p + g + o;
    if (stage === 1) return p + g + o / nGpus;
    if (stage === 2) return p + (g + o) / nGpus;
    return (p + g + o) / nGpus;
  }

  // Serving memory of a LlamaConfig: weights + KV cache, split over nGpus devices; a config
  // with a sliding_window caches a rolling buffer of that many positions (Mistral)
  function servingMemory(c, o) {
    var nParams = countParameters(c);
    var kv = kvCacheBytes(c.n_layers, c.n_kv_heads, c.dim / c.n_heads, o.seqLen, o.batch,
                          o.kvBytes, c.sliding_window);
    var weights = nParams * o.weightBytes;
    var perGpu = (weights + kv) / o.nGpus;
    return {
      nParams: nParams, kv: kv, weights: weights, perGpu: perGpu,
      fits: perGpu <= o.memoryGiB * Math.pow(2, 30),
      training: zeroMemoryPerGpu(nParams, o.nGpus, o.stage)
    };
  }

  // Bytes of b-bit codes packed tightly plus one fp16 scale per group (fmref_widgets.quant_bytes)
  function quantBytes(nWeights, bits, group) {
    var nScales = group === "tensor" ? 1 : nWeights / group;
    return nWeights * bits / 8 + 2 * nScales;
  }

  function formatBytes(b) {
    if (b >= Math.pow(2, 30)) return (b / Math.pow(2, 30)).toFixed(2) + " GiB";
    if (b >= Math.pow(2, 20)) return (b / Math.pow(2, 20)).toFixed(2) + " MiB";
    if (b >= 1024) return (b / 1024).toFixed(2) + " KiB";
    return b.toFixed(0) + " B";
  }

  function formatCount(n) {
    var units = [[1e12, "T"], [1e9, "B"], [1e6, "M"], [1e3, "k"]];
    for (var i = 0; i < units.length; i++) {
      if (n >= units[i][0]) return (n / units[i][0]).toPrecision(3) + units[i][1];
    }
    return n.toPrecision(3);
  }


  // ===========================================================================
  // Formulas of the widgets added by issue 21; each names the fmref function it
  // ports, and tests/test_widgets_registry.py compares it with that function.
  // ===========================================================================

  // fmref.infer.kv.mla_cache_bytes: one latent of kv_lora_rank plus a shared RoPE key per layer
  function mlaCacheBytes(nLayers, kvLoraRank, ropeDim, seqLen, batch, bytesPerValue) {
    return nLayers * (kvLoraRank + ropeDim) * seqLen * batch * bytesPerValue;
  }

  // fmref.models.vit.count_vit_parameters and vit_forward_flops for a ViTConfig-like object
  function vitCost(c) {
    var D = c.hidden_size, M = c.mlp_dim, K = c.num_classes, L = c.num_layers;
    var P2 = c.patch_size * c.patch_size, N = Math.pow(c.image_size / c.patch_size, 2), T = N + 1;
    var embed = c.num_channels * P2 * D + D + D + (N + 1) * D;
    var block = 4 * (D * D + D) + (2 * D * M + M + D) + 4 * D;
    var flops = {
      patch_embed: 2 * N * (c.num_channels * P2) * D,
      linear: L * 2 * T * (4 * D * D + 2 * D * M),
      attention: L * 2 * 2 * T * T * D,
      head: 2 * D * K
    };
    flops.total = flops.patch_embed + flops.linear + flops.attention + flops.head;
    return { params: embed + L * block + 2 * D + D * K + K, tokens: T, flops: flops };
  }

  // fmref.train.parallel.formulas.pipeline_schedule: each stage runs its passes in the
  // schedule's order as soon as it is free and the pass's input is ready
  function stageOrder(p, m, s, schedule) {
    var order = [], i;
    if (schedule === "gpipe") {
      for (i = 0; i < m; i++) order.push(["F", i]);
      for (i = 0; i < m; i++) order.push(["B", i]);
      return order;
    }
    var warmup = Math.min(p - s - 1, m);
    for (i = 0; i < warmup; i++) order.push(["F", i]);
    for (i = 0; i < m - warmup; i++) { order.push(["F", warmup + i]); order.push(["B", i]); }
    for (i = m - warmup; i < m; i++) order.push(["B", i]);
    return order;
  }

  function pipelineSchedule(p, m, schedule, backwardRatio) {
    var cost = { F: 1, B: backwardRatio }, orders = [], events = [], free = [], nxt = [];
    var done = {}, s;
    for (s = 0; s < p; s++) {
      orders.push(stageOrder(p, m, s, schedule)); events.push([]); free.push(0); nxt.push(0);
    }
    var left = function () {
      for (var t = 0; t < p; t++) if (nxt[t] < orders[t].length) return true;
      return false;
    };
    while (left()) {
      for (s = 0; s < p; s++) {
        while (nxt[s] < orders[s].length) {
          var kind = orders[s][nxt[s]][0], i = orders[s][nxt[s]][1], dep = null;
          if (kind === "F") dep = s > 0 ? (s - 1) + "F" + i : null;
          else dep = s < p - 1 ? (s + 1) + "B" + i : s + "F" + i;
          if (dep !== null && !(dep in done)) break;
          var start = Math.max(free[s], dep !== null ? done[dep] : 0);
          free[s] = done[s + kind + i] = start + cost[kind];
          events[s].push([kind, i, start, free[s]]);
          nxt[s] += 1;
        }
      }
    }
    var step = Math.max.apply(null, free), busy = p * m * (cost.F + cost.B);
    var peaks = events.map(function (stage) {
      var live = 0, peak = 0;
      stage.forEach(function (e) { live += e[0] === "F" ? 1 : -1; peak = Math.max(peak, live); });
      return peak;
    });
    return { events: events, step_time: step, idle_fraction: (p * step - busy) / (p * step),
             peak_in_flight: peaks };
  }

  // fmref.train.parallel.formulas.pipeline_bubble: (p - 1) / (work + p - 1)
  function pipelineBubble(p, m, schedule, v) {
    var work = { gpipe: m, "1f1b": m, interleaved: v * m, "zb-h1": 3 * m }[schedule];
    return (p - 1) / (work + p - 1);
  }

  // fmref.scaling.flops.training_flops: C = 6 N D
  function trainingFlops(nParams, nTokens) { return 6 * nParams * nTokens; }

  // fmref.scaling.flops.flops_per_token for a LlamaConfig given as
  // {L, C, V, q_width, kv_width, hidden} (ffn = 3 C hidden; 2 FLOPs per mult-add; x3 to train)
  function flopsPerToken(c, seqLen, training) {
    var projections = c.C * c.q_width + 2 * c.C * c.kv_width + c.q_width * c.C;
    var ffn = 3 * c.C * c.hidden;
    var attention = 2 * seqLen * c.q_width;
    var forward = 2 * (c.L * (projections + ffn + attention) + c.C * c.V);
    return training ? 3 * forward : forward;
  }

  // fmref.scaling.laws.chinchilla_loss: E + A / N^alpha + B / D^beta
  function chinchillaLoss(n, d, k) {
    return k.E + k.A / Math.pow(n, k.alpha) + k.B / Math.pow(d, k.beta);
  }

  // fmref.scaling.laws.compute_optimal: the closed-form minimiser of the law under C = 6 N D
  function computeOptimal(c, k) {
    var G = Math.pow(k.alpha * k.A / (k.beta * k.B), 1 / (k.alpha + k.beta));
    var a = k.beta / (k.alpha + k.beta), b = k.alpha / (k.alpha + k.beta);
    return [G * Math.pow(c / 6, a), Math.pow(c / 6, b) / G];
  }

  // fmref.peft.lora.lora_parameter_count: 2 * targets * layers * d_model * r
  function loraParameterCount(dModel, nLayers, r, nTargets) {
    return 2 * nTargets * nLayers * dModel * r;
  }

  function logSigmoid(x) {  // log(1 / (1 + e^-x)), stable on both sides
    return x >= 0 ? -Math.log1p(Math.exp(-x)) : x - Math.log1p(Math.exp(x));
  }

  // fmref.align.dpo.dpo_loss for one pair: -log sigmoid(beta * margin), margin =
  // (log pi(y_w) - log pi_ref(y_w)) - (log pi(y_l) - log pi_ref(y_l))
  function dpoLoss(margin, beta) { return -logSigmoid(beta * margin); }

  // fmref.align.ppo.ppo_clip_loss for one action: -min(r A, clip(r, 1-eps, 1+eps) A), r = e^x
  function ppoClipLoss(logRatio, advantage, eps) {
    var r = Math.exp(logRatio);
    var clipped = Math.min(Math.max(r, 1 - eps), 1 + eps);
    return -Math.min(r * advantage, clipped * advantage);
  }

  // fmref.train.efficient.activation_memory (Korthikanti et al. 2022), bytes
  function activationMemory(s, b, h, L, a, checkpointing, t) {
    var sbh = s * b * h, perLayer;
    if (checkpointing === "full") perLayer = 2 * sbh;
    else if (checkpointing === "selective") perLayer = sbh * 10 + Math.floor(sbh * 24 / t);
    else perLayer = sbh * 10 + Math.floor(sbh * 24 / t) + Math.floor(5 * a * s * s * b / t);
    return L * perLayer;
  }

  // fmref.infer.speculative.expected_tokens_per_step: (1 - alpha^(gamma+1)) / (1 - alpha)
  function expectedTokensPerStep(alpha, gamma) {
    if (alpha === 1) return gamma + 1;
    return (1 - Math.pow(alpha, gamma + 1)) / (1 - alpha);
  }

  // fmref.compress.nf4.nf4_bits_per_parameter
  function nf4BitsPerParameter(group, doubleQuant, dqGroup) {
    if (!doubleQuant) return 4 + 32 / group;
    return 4 + 8 / group + 32 / (group * dqGroup);
  }

  // fmref.eval.passk.pass_at_k: 1 - C(n-c, k) / C(n, k), as the stable product of Chen et al.
  function passAtK(n, c, k) {
    if (n - c < k) return 1;
    var prod = 1;
    for (var i = n - c + 1; i <= n; i++) prod *= 1 - k / i;
    return 1 - prod;
  }

  // fmref.multimodal.lmm.image_token_count: (size / patch)^2 (+1 for a [CLS] token)
  function imageTokenCount(size, patch, cls) {
    if (size < 1 || patch < 1 || size % patch) return NaN;
    return Math.pow(size / patch, 2) + (cls ? 1 : 0);
  }

  // fmref.nn.conv.receptive_field: layers = [[kernel, stride, dilation], ...]
  function receptiveField(layers) {
    var rf = 1, jump = 1;
    layers.forEach(function (l) {
      rf += (l[2] || 1) * (l[0] - 1) * jump;
      jump *= l[1];
    });
    return rf;
  }

  // fmref.nn.position.alibi_slopes (Press et al. 2022)
  function alibiSlopes(n) {
    function pow2(m) {
      var start = Math.pow(2, -Math.pow(2, -(Math.log2(m) - 3)));
      var out = [];
      for (var i = 0; i < m; i++) out.push(start * Math.pow(start, i));
      return out;
    }
    function slopes(m) {
      if (Number.isInteger(Math.log2(m))) return pow2(m);
      var closest = Math.pow(2, Math.floor(Math.log2(m)));
      var extra = slopes(2 * closest).filter(function (_, i) { return i % 2 === 0; });
      return pow2(closest).concat(extra.slice(0, m - closest));
    }
    return slopes(n);
  }

  // fmref.rag.bm25.tokenize: lower-cased runs of word characters (Python's Unicode \w)
  var WORD = /[\p{L}\p{N}_]+/gu;
  function bm25Tokenize(text) { return text.toLowerCase().match(WORD) || []; }

  // fmref.rag.bm25.BM25: Okapi BM25 with rank_bm25's IDF floor; returns a scorer
  function bm25Index(docs, k1, b, epsilon) {
    epsilon = epsilon === undefined ? 0.25 : epsilon;
    var N = docs.length, lengths = [], tfs = [], df = {};
    docs.forEach(function (doc) {
      lengths.push(doc.length);
      var tf = {};
      doc.forEach(function (t) { tf[t] = (tf[t] || 0) + 1; });
      tfs.push(tf);
      Object.keys(tf).forEach(function (t) { df[t] = (df[t] || 0) + 1; });
    });
    var avgdl = lengths.reduce(function (a, x) { return a + x; }, 0) / N;
    var idf = {}, terms = Object.keys(df), total = 0;
    terms.forEach(function (t) {
      idf[t] = Math.log(N - df[t] + 0.5) - Math.log(df[t] + 0.5);
      total += idf[t];
    });
    var floor = epsilon * total / terms.length;
    terms.forEach(function (t) { if (idf[t] < 0) idf[t] = floor; });
    return function scores(query) {
      return tfs.map(function (tf, i) {
        var norm = k1 * (1 - b + b * lengths[i] / avgdl), s = 0;
        query.forEach(function (t) {
          if (tf[t]) s += idf[t] * (tf[t] * (k1 + 1) / (tf[t] + norm));
        });
        return s;
      });
    };
  }

  // fmref.rag.dense.reciprocal_rank_fusion: sum of 1 / (k + rank); ties keep first-seen order
  function reciprocalRankFusion(rankings, k) {
    var fused = {}, order = [];
    rankings.forEach(function (ranking) {
      ranking.forEach(function (item, i) {
        if (!(item in fused)) { fused[item] = 0; order.push(item); }
        fused[item] += 1 / (k + i + 1);
      });
    });
    return order.map(function (item, i) { return [item, fused[item], i]; })
      .sort(function (x, y) { return y[1] - x[1] || x[2] - y[2]; })
      .map(function (x) { return [x[0], x[1]]; });
  }

  // fmref.text.bpe.BPETokenizer.encode (no special tokens), using the first nMerges merges.
  // The pre-tokeniser is fmref.text.bpe.PRETOKENIZE_PATTERN with Python's Unicode classes.
  var PY_S = "\\t\\n\\v\\f\\r\\x1c-\\x1f \\x85\\xa0\\u1680\\u2000-\\u200a\\u2028\\u2029\\u202f" +
             "\\u205f\\u3000";
  var PY_W = "\\p{L}\\p{N}_";  // what Python's str pattern \w matches (alphanumerics and _)
  var CHUNK = new RegExp(
    "'(?:s|t|re|ve|m|ll|d)" +
    "| ?[\\p{L}\\p{Nl}\\p{No}]+" +       // [^\W\d_]: word characters but digits and _
    "| ?\\p{Nd}+" +                           // \d: decimal digits
    "| ?[^" + PY_S + PY_W + "]+" +            // [^\s\w]
    "|_+" +
    "|[" + PY_S + "]+(?![^" + PY_S + "])" +   // \s+(?!\S)
    "|[" + PY_S + "]+", "gu");
  function utf8(s) {
    return Array.prototype.slice.call(new TextEncoder().encode(s));
  }
  function bpeEncode(text, merges, nMerges) {
    nMerges = nMerges === undefined ? merges.length : Math.min(nMerges, merges.length);
    var ranks = new Map();
    for (var r = 0; r < nMerges; r++) ranks.set(merges[r][0] * 65536 + merges[r][1], r);
    var out = [];
    (text.match(CHUNK) || []).forEach(function (chunk) {
      var ids = utf8(chunk);
      while (ids.length >= 2) {
        var best = null, bestRank = Infinity;
        for (var i = 0; i + 1 < ids.length; i++) {
          var rk = ranks.get(ids[i] * 65536 + ids[i + 1]);
          if (rk !== undefined && rk < bestRank) { bestRank = rk; best = [ids[i], ids[i + 1]]; }
        }
        if (best === null) break;
        var merged = [];
        for (var j = 0; j < ids.length; j++) {
          if (j < ids.length - 1 && ids[j] === best[0] && ids[j + 1] === best[1]) {
            merged.push(256 + bestRank);
            j++;
          } else {
            merged.push(ids[j]);
          }
        }
        ids = merged;
      }
      out.push.apply(out, ids);
    });
    return out;
  }
  function bpeChunks(text) { return text.match(CHUNK) || []; }

  // fmref.data.minhash.lsh_params: the (bands, rows) whose S-curve best separates at threshold
  function lshParams(threshold, numPerm, fpWeight) {
    var best = [1, numPerm], bestCost = Infinity;
    for (var b = 1; b <= numPerm; b++) {
      for (var r = 1; r <= Math.floor(numPerm / b); r++) {
        var fp = 0, fn = 0;
        for (var i = 0; i <= 1000; i++) {
          var s = i / 1000, p = 1 - Math.pow(1 - Math.pow(s, r), b);
          if (s < threshold) fp += p; else fn += 1 - p;
        }
        var cost = fpWeight * fp / 1001 + (1 - fpWeight) * fn / 1001;
        if (cost < bestCost - 1e-15) { best = [b, r]; bestCost = cost; }
      }
    }
    return best;
  }

  // Online softmax (FlashAttention's tiling) for one query row: the running max m, the
  // running sum l and the unnormalised output o after each block of keys; the last o / l
  // is fmref.nn.efficient.tiled_attention's output row.
  function onlineSoftmax(scores, values, block) {
    var m = -Infinity, l = 0, d = values[0].length, o = [], steps = [];
    for (var j = 0; j < d; j++) o.push(0);
    for (var start = 0; start < scores.length; start += block) {
      var s = scores.slice(start, start + block);
      var mNew = Math.max(m, Math.max.apply(null, s));
      var corr = m === -Infinity ? 0 : Math.exp(m - mNew);
      l *= corr;
      for (j = 0; j < d; j++) o[j] *= corr;
      s.forEach(function (x, i) {
        var p = Math.exp(x - mNew);
        l += p;
        for (var jj = 0; jj < d; jj++) o[jj] += p * values[start + i][jj];
      });
      m = mNew;
      steps.push({ start: start, end: Math.min(start + block, scores.length), m: m, l: l,
                   out: o.map(function (v) { return v / l; }) });
    }
    return steps;
  }

  // fmref.multimodal.contrastive.clip_loss: symmetric cross-entropy of the scaled cosines
  function clipLoss(img, txt, logitScale) {
    function unit(v) {
      var n = Math.sqrt(v.reduce(function (a, x) { return a + x * x; }, 0));
      return v.map(function (x) { return x / Math.max(n, 1e-12); });
    }
    var x = img.map(unit), y = txt.map(unit), s = Math.exp(logitScale), N = x.length;
    var logits = x.map(function (xi) {
      return y.map(function (yj) {
        return s * xi.reduce(function (a, v, k) { return a + v * yj[k]; }, 0);
      });
    });
    function ce(rows) {
      var total = 0;
      rows.forEach(function (row, i) {
        var top = Math.max.apply(null, row);
        var lse = top + Math.log(row.reduce(function (a, v) { return a + Math.exp(v - top); }, 0));
        total += lse - row[i];
      });
      return total / rows.length;
    }
    var cols = logits[0].map(function (_, j) { return logits.map(function (row) { return row[j]; }); });
    return { loss: 0.5 * (ce(logits) + ce(cols)), logits: logits,
             probs: logits.map(function (row) { return softmax(row); }) };
  }

  // fmref.optim.sgd_step / adam_step on a 2-D loss: the trajectory of `steps` updates
  function optimise(grad, start, method, lr, steps, momentum, betas, eps) {
    var p = start.slice(), path = [p.slice()], buf = null, m = [0, 0], v = [0, 0];
    for (var t = 1; t <= steps; t++) {
      var g = grad(p);
      if (method === "adam") {
        for (var i = 0; i < 2; i++) {
          m[i] = m[i] + (g[i] - m[i]) * (1 - betas[0]);
          v[i] = betas[1] * v[i] + (1 - betas[1]) * g[i] * g[i];
          var denom = Math.sqrt(v[i]) / Math.sqrt(1 - Math.pow(betas[1], t)) + eps;
          p[i] -= lr / (1 - Math.pow(betas[0], t)) * m[i] / denom;
        }
      } else {
        var d = g;
        if (momentum) {
          buf = buf === null ? g.slice() : [momentum * buf[0] + g[0], momentum * buf[1] + g[1]];
          d = buf;
        }
        p = [p[0] - lr * d[0], p[1] - lr * d[1]];
      }
      path.push(p.slice());
    }
    return path;
  }

  return {
    softmax: softmax,
    attentionWeights: attentionWeights,
    topKFilter: topKFilter,
    topPFilter: topPFilter,
    samplingProbs: samplingProbs,
    kvCacheBytes: kvCacheBytes,
    llamaParameterBreakdown: llamaParameterBreakdown,
    countParameters: countParameters,
    zeroMemoryPerGpu: zeroMemoryPerGpu,
    servingMemory: servingMemory,
    quantBytes: quantBytes,
    formatBytes: formatBytes,
    formatCount: formatCount,
    mlaCacheBytes: mlaCacheBytes,
    pipelineBubble: pipelineBubble,
    pipelineSchedule: pipelineSchedule,
    vitCost: vitCost,
    trainingFlops: trainingFlops,
    flopsPerToken: flopsPerToken,
    chinchillaLoss: chinchillaLoss,
    computeOptimal: computeOptimal,
    loraParameterCount: loraParameterCount,
    logSigmoid: logSigmoid,
    dpoLoss: dpoLoss,
    ppoClipLoss: ppoClipLoss,
    activationMemory: activationMemory,
    expectedTokensPerStep: expectedTokensPerStep,
    nf4BitsPerParameter: nf4BitsPerParameter,
    passAtK: passAtK,
    imageTokenCount: imageTokenCount,
    receptiveField: receptiveField,
    alibiSlopes: alibiSlopes,
    bm25Tokenize: bm25Tokenize,
    bm25Index: bm25Index,
    reciprocalRankFusion: reciprocalRankFusion,
    bpeEncode: bpeEncode,
    bpeChunks: bpeChunks,
    lshParams: lshParams,
    onlineSoftmax: onlineSoftmax,
    clipLoss: clipLoss,
    optimise: optimise
  };
});
