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
    formatCount: formatCount
  };
});
