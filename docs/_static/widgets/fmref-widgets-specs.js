/* fmref widgets: the declarative interactive figures (issue 21).
 *
 * Each entry of SPECS is one widget: its controls (labelled <input>/<select>
 * built by fmref-widgets.js) and compute(p, data), which turns the control
 * values p and the build-time data of docs/_ext/fmref_widgets.py into
 * readouts [key, label, value, text] and plots. compute is pure: the tests
 * (tests/test_widgets_registry.py) call it under node on a grid of settings
 * and compare each readout with the fmref function the registry names, and
 * the browser tests compare the DOM with the same function. The formulas come
 * from fmref-widgets-core.js.
 */
(function (root, factory) {
  "use strict";
  var core = typeof module === "object" && module.exports ?
    require("./fmref-widgets-core.js") : root.FmrefWidgetsCore;
  var specs = factory(core);
  if (typeof module === "object" && module.exports) {
    module.exports = specs;
  } else {
    root.FmrefWidgetsSpecs = specs;
  }
})(typeof self !== "undefined" ? self : this, function (core) {
  "use strict";
  var GiB = Math.pow(2, 30), MiB = Math.pow(2, 20);

  function fix(x, d) { return x.toFixed(d === undefined ? 2 : d); }
  function sci(x, d) {
    if (x === 0) return "0";
    var e = Math.floor(Math.log10(Math.abs(x)));
    return (x / Math.pow(10, e)).toFixed(d === undefined ? 2 : d) + "\u00d710^" + e;
  }
  function count(n) { return core.formatCount(n); }
  function bytes(b) { return core.formatBytes(b); }
  function pct(x, d) { return (100 * x).toFixed(d === undefined ? 1 : d) + "%"; }
  function ints(a, b) { var o = []; for (var i = a; i <= b; i++) o.push(i); return o; }
  function opts(list) { return list.map(function (v) { return [String(v), String(v)]; }); }
  function presetOptions(data) {
    return data.presets.map(function (p, i) { return [String(i), p.label]; });
  }
  function pow2(v) { return String(Math.pow(2, v)); }

  var SPECS = {};

  // I. Sizes and training compute of landmark models ----------------------------------
  SPECS["training-compute"] = {
    controls: function (data) {
      return [
        { key: "model", label: "Model", type: "select", options: presetOptions(data), value: "0" },
        { key: "accelerator", label: "Accelerator (dense bf16 peak)", type: "select",
          options: data.accelerators.map(function (a, i) { return [String(i), a[0]]; }),
          value: "1" },
        { key: "mfu", label: "Model FLOPs utilisation", type: "range", min: 0.1, max: 0.7,
          step: 0.05, value: 0.4, format: function (v) { return pct(v, 0); } },
        { key: "price", label: "Price per accelerator-hour (USD)", type: "range", min: 0.5,
          max: 8, step: 0.25, value: 2, format: function (v) { return "$" + fix(v); } }
      ];
    },
    compute: function (p, data) {
      var m = data.presets[+p.model], peak = data.accelerators[+p.accelerator][1];
      var flops = core.trainingFlops(m.n_params, m.n_tokens);
      var hours = flops / (peak * p.mfu) / 3600;
      var cost = hours * p.price;
      return {
        out: [
          ["params", "Parameters N", m.n_params, count(m.n_params)],
          ["tokens", "Training tokens D", m.n_tokens, count(m.n_tokens)],
          ["flops", "Training compute C = 6ND (FLOPs)", flops, sci(flops)],
          ["hours", "Accelerator-hours", hours, count(hours)],
          ["cost", "Cost (USD)", cost, "$" + count(cost)]
        ],
        plots: [{ type: "bars", title: "Training compute, log10 FLOPs", labelWidth: 110,
                  items: data.presets.map(function (q, i) {
                    var f = core.trainingFlops(q.n_params, q.n_tokens);
                    return { label: q.label, value: Math.log10(f) - 18, text: sci(f, 1),
                             highlight: i === +p.model };
                  }) }],
        note: m.source
      };
    }
  };

  // II. BPE playground ----------------------------------------------------------------
  SPECS["bpe"] = {
    controls: function (data) {
      return [
        { key: "text", label: "Text", type: "text", value: data.default_text },
        { key: "merges", label: "Merges applied", type: "range", min: 0,
          max: data.merges.length, step: 1, value: data.merges.length }
      ];
    },
    compute: function (p, data) {
      var ids = core.bpeEncode(p.text, data.merges, p.merges);
      var nBytes = new TextEncoder().encode(p.text).length;
      return {
        out: [
          ["tokens", "Tokens", ids.length, String(ids.length)],
          ["bytes", "UTF-8 bytes", nBytes, String(nBytes)],
          ["ratio", "Bytes per token", ids.length ? nBytes / ids.length : 0,
           ids.length ? fix(nBytes / ids.length) : "\u2013"],
          ["ids", "Token ids", ids.join(" "), ids.join(" ")]
        ],
        plots: [{ type: "tokens", title: "Tokens (hover for the id)",
                  items: ids.map(function (id, i) {
                    return { text: data.vocab[id].replace(/ /g, "\u2423").replace(/\n/g, "\u21b5"),
                             cls: i % 4, title: "id " + id };
                  }) }]
      };
    }
  };

  // III. Vanishing gradients: RNN against LSTM ----------------------------------------
  SPECS["rnn-gradients"] = {
    controls: function (data) {
      return [
        { key: "scale", label: "Recurrent weight scale", type: "select",
          options: data.scales.map(function (s, i) { return [String(i), String(s)]; }),
          value: String(data.default_scale) },
        { key: "distance", label: "Steps back from the last output", type: "range", min: 1,
          max: data.length - 1, step: 1, value: 20 }
      ];
    },
    compute: function (p, data) {
      var s = data.norms[+p.scale], k = p.distance;
      var rnn = s.rnn[k], lstm = s.lstm[k];
      function pts(v) { return v.map(function (y, i) { return [i, y]; }).slice(0); }
      return {
        out: [
          ["rnn", "RNN: \u2016\u2202h_T/\u2202x_{T\u2212k}\u2016", rnn, rnn.toExponential(2)],
          ["lstm", "LSTM: \u2016\u2202h_T/\u2202x_{T\u2212k}\u2016", lstm, lstm.toExponential(2)],
          ["ratio", "LSTM / RNN", lstm / rnn, (lstm / rnn).toExponential(2)]
        ],
        plots: [{ type: "line", ylog: true, xlabel: "steps back k", ylabel: "gradient norm",
                  marker: k, series: [{ label: "RNN (tanh)", points: pts(s.rnn) },
                                      { label: "LSTM", points: pts(s.lstm) }],
                  dots: [[k, rnn, 0], [k, lstm, 1]], legendBottom: true }]
      };
    }
  };

  // III. Receptive field of a stack of convolutions -----------------------------------
  SPECS["receptive-field"] = {
    controls: [
      { key: "layers", label: "Layers", type: "range", min: 1, max: 10, step: 1, value: 4 },
      { key: "kernel", label: "Kernel size", type: "select", options: opts([3, 5, 7]), value: "3" },
      { key: "stride", label: "Stride", type: "select", options: opts([1, 2]), value: "1" },
      { key: "dilation", label: "Dilation", type: "select",
        options: [["1", "1 in every layer"], ["double", "doubling: 1, 2, 4, ..."]], value: "1" }
    ],
    compute: function (p) {
      function stack(n) {
        var layers = [];
        for (var i = 0; i < n; i++) {
          layers.push([+p.kernel, +p.stride, p.dilation === "double" ? Math.pow(2, i) : 1]);
        }
        return layers;
      }
      var rf = core.receptiveField(stack(p.layers));
      return {
        out: [["rf", "Receptive field (input positions)", rf, String(rf)]],
        plots: [{ type: "line", xlabel: "layers", ylabel: "receptive field", marker: p.layers,
                  series: [{ label: "this stack", points: ints(1, 10).map(function (n) {
                    return [n, core.receptiveField(stack(n))]; }) }],
                  dots: [[p.layers, rf, 0]] }]
      };
    }
  };

  // IV. ALiBi: a linear distance penalty per head -------------------------------------
  SPECS["alibi"] = {
    controls: [
      { key: "heads", label: "Heads", type: "range", min: 1, max: 32, step: 1, value: 8 },
      { key: "head", label: "Head (1 = steepest)", type: "range", min: 1, max: 32, step: 1,
        value: 1 },
      { key: "distance", label: "Query\u2013key distance", type: "range", min: 0, max: 64,
        step: 1, value: 16 }
    ],
    compute: function (p) {
      var slopes = core.alibiSlopes(p.heads), h = Math.min(p.head, p.heads) - 1;
      var bias = -slopes[h] * p.distance;
      var shown = [0, Math.floor((p.heads - 1) / 2), p.heads - 1].filter(function (v, i, a) {
        return a.indexOf(v) === i; });
      return {
        out: [
          ["slope", "Slope of head " + (h + 1), slopes[h], slopes[h].toPrecision(4)],
          ["bias", "Bias added to the score", bias, bias.toPrecision(4)],
          ["weight", "Factor on the attention weight, e^bias", Math.exp(bias),
           Math.exp(bias).toPrecision(3)]
        ],
        plots: [{ type: "line", xlabel: "distance", ylabel: "bias", marker: p.distance,
                  series: shown.map(function (k) {
                    return { label: "head " + (k + 1), points: ints(0, 64).map(function (d) {
                      return [d, -slopes[k] * d]; }) };
                  }), legendBottom: true }]
      };
    }
  };

  // IV. Additive vs dot-product alignment of an RNN encoder-decoder reversing a sequence
  SPECS["alignment"] = {
    controls: function (data) {
      return [
        { key: "score", label: "Score", type: "select", options: data.scores, value: "general" },
        { key: "example", label: "Source", type: "select",
          options: data.examples.map(function (x, i) { return [String(i), x.join(" ")]; }),
          value: "0" },
        { key: "step", label: "Training step", type: "range", min: 0,
          max: data.steps.length - 1, step: 1, value: data.steps.length - 1,
          format: function (v) { return String(data.steps[v]); } }
      ];
    },
    compute: function (p, data) {
      var snap = data.runs[p.score][p.step], e = +p.example;
      var a = snap.alignment[e], src = data.examples[e], out = snap.tokens[e], S = src.length;
      var correct = 0, diag = 0, entropy = 0;
      out.forEach(function (t, i) { if (t === src[S - 1 - i]) correct += 1; });
      a.forEach(function (row, i) {
        diag += row[S - 1 - i] / S;
        entropy -= row.reduce(function (acc, w) { return acc + (w > 0 ? w * Math.log(w) : 0); },
                              0) / S;
      });
      return {
        out: [
          ["step", "Training step", data.steps[p.step], String(data.steps[p.step])],
          ["output", "Greedy output (target: the source reversed)", out.join(" "), out.join(" ")],
          ["correct", "Tokens right", correct, correct + " of " + S],
          ["diag", "Mean weight on the anti-diagonal", diag, fix(diag, 3)],
          ["entropy", "Mean entropy of a row (nats; uniform: " + fix(Math.log(S), 2) + ")",
           entropy, fix(entropy, 3)],
          ["accuracy", "Held-out token accuracy", snap.accuracy, pct(snap.accuracy)]
        ],
        plots: [{ type: "heatmap", rows: a, vmin: 0, vmax: 1,
                  rowLabels: out.map(function (t, i) { return "y" + (i + 1) + "=" + t; }),
                  colLabels: src.map(String), labelWidth: 40,
                  text: function (v) { return v.toFixed(2); },
                  title: "alignment \u03b1 (rows: output steps, columns: source tokens)" }],
        note: "Reversal puts the mass on the anti-diagonal: output step i reads source " +
          "position " + (S + 1) + " \u2212 i."
      };
    }
  };

  // V. MHA / GQA / MQA: key-value heads and the cache ----------------------------------
  SPECS["kv-heads"] = {
    controls: function (data) {
      return [
        { key: "preset", label: "Model", type: "select", options: presetOptions(data), value: "0" },
        { key: "kv_heads", label: "Key/value heads (log2)", type: "range", min: 0, max: 7,
          step: 1, value: 3, format: pow2 },
        { key: "seq_len", label: "Context (tokens, log2)", type: "range", min: 10, max: 17,
          step: 1, value: 13, format: function (v) { return Math.pow(2, v).toLocaleString("en-US"); } }
      ];
    },
    compute: function (p, data) {
      var c = data.presets[+p.preset];
      var kv = Math.min(c.n_heads, Math.pow(2, p.kv_heads));
      while (c.n_heads % kv) kv /= 2;
      var T = Math.pow(2, p.seq_len);
      var perTok = core.kvCacheBytes(c.n_layers, kv, c.head_dim, 1, 1, 2);
      var total = core.kvCacheBytes(c.n_layers, kv, c.head_dim, T, 1, 2);
      var kind = kv === c.n_heads ? "MHA" : kv === 1 ? "MQA" : "GQA";
      // MLA with DeepSeek-V3's latent (512) and RoPE key (64) sizes, on this model's layers
      var mla = core.mlaCacheBytes(c.n_layers, 512, 64, 1, 1, 2);
      return {
        out: [
          ["kv_heads", "Key/value heads used", kv, kv + " of " + c.n_heads + " query heads (" + kind + ")"],
          ["per_token", "KV cache per token (fp16)", perTok, bytes(perTok)],
          ["total", "KV cache of one sequence", total, bytes(total)],
          ["group", "Query heads per KV head", c.n_heads / kv, String(c.n_heads / kv)],
          ["mla", "MLA per token (latent 512 + RoPE key 64)", mla, bytes(mla)]
        ],
        plots: [{ type: "bars", title: "KV cache per token", labelWidth: 110, items: [
          ["MHA", c.n_heads], [kind + " (this)", kv], ["MQA", 1]].map(function (r) {
            var b = core.kvCacheBytes(c.n_layers, r[1], c.head_dim, 1, 1, 2);
            return { label: r[0], value: b, text: bytes(b), highlight: r[1] === kv };
          }).concat([{ label: "MLA", value: mla, text: bytes(mla) }]) }]
      };
    }
  };

  // VI. Online softmax, block by block ------------------------------------------------
  SPECS["online-softmax"] = {
    controls: function (data) {
      return [
        { key: "block", label: "Keys per block", type: "select", options: opts([1, 2, 4, 8, 16]),
          value: "4" },
        { key: "step", label: "Blocks processed", type: "range", min: 1, max: data.scores.length,
          step: 1, value: 2 }
      ];
    },
    compute: function (p, data) {
      var steps = core.onlineSoftmax(data.scores, data.values, +p.block);
      var s = steps[Math.min(p.step, steps.length) - 1], last = steps[steps.length - 1];
      return {
        out: [
          ["keys", "Keys seen", s.end, s.end + " of " + data.scores.length],
          ["m", "Running max m", s.m, fix(s.m, 4)],
          ["l", "Running sum \u2113 = \u03a3 e^(s\u2212m)", s.l, fix(s.l, 4)],
          ["out0", "Output so far, coordinate 0 (o / \u2113)", s.out[0], fix(s.out[0], 5)],
          ["final0", "Final output, coordinate 0", last.out[0], fix(last.out[0], 5)]
        ],
        plots: [{ type: "bars", title: "Scores q\u00b7k/\u221ad of the 16 keys (dark: seen)",
                  labelWidth: 50, items: data.scores.map(function (v, i) {
                    return { label: "k" + i, value: Math.exp(v - Math.max.apply(null, data.scores)),
                             text: fix(v), highlight: i < s.end, muted: i >= s.end };
                  }) }]
      };
    }
  };

  // VI. RoPE frequencies under position interpolation, NTK, YaRN and Llama 3 ----------
  SPECS["rope-scaling"] = {
    controls: function (data) {
      return [
        { key: "kind", label: "Scaling", type: "select", options: data.kinds.map(function (k) {
          return [k[0], k[1]]; }), value: "yarn" },
        { key: "factor", label: "Factor", type: "select", options: opts(data.factors), value: "8" }
      ];
    },
    compute: function (p, data) {
      var base = data.table.none["1"], row = data.table[p.kind][p.kind === "none" ? "1" : p.factor];
      var wl = function (f) { return 2 * Math.PI / f; };
      var longest = wl(row.inv_freq[row.inv_freq.length - 1]);
      var changed = row.inv_freq.filter(function (f, i) {
        return Math.abs(f - base.inv_freq[i]) > 1e-9 * base.inv_freq[i]; }).length;
      return {
        out: [
          ["longest", "Longest wavelength (tokens)", longest, count(longest)],
          ["shortest", "Shortest wavelength (tokens)", wl(row.inv_freq[0]),
           fix(wl(row.inv_freq[0]))],
          ["changed", "Frequencies changed", changed, changed + " of " + row.inv_freq.length],
          ["attention_factor", "Attention factor", row.attention_factor,
           fix(row.attention_factor, 4)]
        ],
        plots: [{ type: "line", ylog: true, xlabel: "frequency index i", ylabel: "wavelength",
                  series: [{ label: "unscaled", points: base.inv_freq.map(function (f, i) {
                    return [i, wl(f)]; }) },
                           { label: p.kind, points: row.inv_freq.map(function (f, i) {
                             return [i, wl(f)]; }) }] }],
        note: "head size " + data.d_head + ", \u03b8 = " + data.theta.toLocaleString("en-US") +
          ", trained context " + data.trained.toLocaleString("en-US") + " tokens"
      };
    }
  };

  // VII. LoRA parameter and memory calculator -----------------------------------------
  SPECS["lora"] = {
    controls: function (data) {
      return [
        { key: "preset", label: "Model", type: "select", options: presetOptions(data), value: "0" },
        { key: "rank", label: "Rank r (log2)", type: "range", min: 0, max: 8, step: 1, value: 4,
          format: pow2 },
        { key: "targets", label: "Target modules", type: "select",
          options: data.targets.map(function (t, i) { return [String(i), t.join(", ")]; }),
          value: "0" }
      ];
    },
    compute: function (p, data) {
      var m = data.presets[+p.preset], r = Math.pow(2, p.rank);
      var t = data.targets[+p.targets].length;
      var n = core.loraParameterCount(m.dim, m.n_layers, r, t);
      var full = 16 * m.n_params, lora = 2 * m.n_params + 16 * n;
      return {
        out: [
          ["trainable", "Trainable parameters", n, count(n) + " (" + n.toLocaleString("en-US") + ")"],
          ["fraction", "Of the model's parameters", n / m.n_params, pct(n / m.n_params, 3)],
          ["adapter", "Adapter file (fp16)", 2 * n, bytes(2 * n)],
          ["memory", "Training memory: frozen fp16 weights + 16 B per trainable", lora, bytes(lora)],
          ["full", "Full fine-tuning, 16 B per parameter", full, bytes(full)]
        ],
        plots: [{ type: "bars", title: "Training memory (weights, gradients, Adam states)",
                  labelWidth: 90, items: [
                    { label: "full", value: full, text: bytes(full) },
                    { label: "LoRA r=" + r, value: lora, text: bytes(lora), highlight: true }] }]
      };
    }
  };

  // VIII. BERT masking and T5 span corruption ------------------------------------------
  SPECS["masking"] = {
    controls: function (data) {
      return [
        { key: "rate", label: "Masking rate / noise density", type: "select",
          options: opts(data.rates), value: String(data.rates[0]) },
        { key: "sample", label: "Random draw", type: "range", min: 0, max: data.n_samples - 1,
          step: 1, value: 0 }
      ];
    },
    compute: function (p, data) {
      var s = data.samples[p.rate][p.sample], words = data.words;
      function chips(ids, marks) {
        return ids.map(function (id, i) {
          var w = id >= words.length ? data.sentinels[id - words.length] : words[id];
          return { text: w, cls: marks ? marks[i] : (id >= words.length ? 2 : 0) };
        });
      }
      var bertMarks = s.bert_labels.map(function (l, i) {
        return l < 0 ? 0 : s.bert_input[i] === data.mask_id ? 2 : s.bert_input[i] === l ? 1 : 3;
      });
      var selected = s.bert_labels.filter(function (l) { return l >= 0; }).length;
      var positions = s.bert_labels.map(function (l, i) { return l >= 0 ? i : -1; })
        .filter(function (i) { return i >= 0; }).join(" ");
      var masked = bertMarks.filter(function (m) { return m === 2; }).length;
      return {
        out: [
          ["selected", "BERT: tokens to predict", selected, String(selected)],
          ["positions", "BERT: their positions", positions, positions || "(none)"],
          ["masked", "BERT: of them shown as [MASK]", masked, String(masked)],
          ["t5_input", "T5: input length", s.t5_input.length, String(s.t5_input.length)],
          ["t5_target", "T5: target length", s.t5_target.length, String(s.t5_target.length)]
        ],
        plots: [
          { type: "tokens", title: "BERT input (orange: [MASK], green: kept, red: random)",
            items: chips(s.bert_input, bertMarks) },
          { type: "tokens", title: "T5 input", items: chips(s.t5_input) },
          { type: "tokens", title: "T5 target", items: chips(s.t5_target) }]
      };
    }
  };

  // IX. Architecture explorer ---------------------------------------------------------
  SPECS["architecture"] = {
    controls: function (data) {
      return [
        { key: "preset", label: "Model", type: "select", options: presetOptions(data), value: "0" },
        { key: "seq_len", label: "Context (tokens, log2)", type: "range", min: 9, max: 17,
          step: 1, value: 13, format: function (v) { return Math.pow(2, v).toLocaleString("en-US"); } }
      ];
    },
    compute: function (p, data) {
      var m = data.presets[+p.preset], T = Math.pow(2, p.seq_len);
      var fwd = core.flopsPerToken(m.flops, T, false), train = core.flopsPerToken(m.flops, T, true);
      var kvTok = core.kvCacheBytes(m.n_layers, m.n_kv_heads, m.head_dim, 1, 1, 2);
      var parts = Object.keys(m.breakdown);
      return {
        out: [
          ["params", "Parameters", m.n_params, count(m.n_params)],
          ["kv_token", "KV cache per token (fp16)", kvTok, bytes(kvTok)],
          ["kv_context", "KV cache of one full context", kvTok * T, bytes(kvTok * T)],
          ["forward", "Forward FLOPs per token", fwd, sci(fwd)],
          ["training", "Training FLOPs per token", train, sci(train)]
        ],
        plots: [{ type: "bars", title: "Where the parameters are", labelWidth: 100,
                  items: parts.map(function (k) {
                    return { label: k.replace(/_/g, " "), value: m.breakdown[k],
                             text: count(m.breakdown[k]) };
                  }) }],
        note: m.note
      };
    }
  };

  // X. IsoFLOP curve and the compute-optimal frontier ---------------------------------
  SPECS["isoflop"] = {
    controls: [
      { key: "log_c", label: "Compute C (log10 FLOPs)", type: "range", min: 18, max: 26,
        step: 0.5, value: 23, format: function (v) { return "1e" + v; } },
      { key: "log_n", label: "Parameters N (log10)", type: "range", min: 7, max: 12, step: 0.1,
        value: 10, format: function (v) { return count(Math.pow(10, v)); } }
    ],
    compute: function (p, data) {
      var C = Math.pow(10, p.log_c), N = Math.pow(10, p.log_n), D = C / (6 * N), k = data.constants;
      var opt = core.computeOptimal(C, k);
      var loss = core.chinchillaLoss(N, D, k), best = core.chinchillaLoss(opt[0], opt[1], k);
      var curve = [];
      for (var x = 7; x <= 12.0001; x += 0.05) {
        var n = Math.pow(10, x);
        curve.push([n, core.chinchillaLoss(n, C / (6 * n), k)]);
      }
      return {
        out: [
          ["tokens", "Tokens D = C / 6N", D, count(D)],
          ["loss", "Predicted loss at (N, D)", loss, fix(loss, 4)],
          ["n_opt", "Compute-optimal N", opt[0], count(opt[0])],
          ["d_opt", "Compute-optimal D", opt[1], count(opt[1])],
          ["loss_opt", "Lowest loss at this C", best, fix(best, 4)]
        ],
        plots: [{ type: "line", xlog: true, xlabel: "parameters N", ylabel: "loss",
                  ylim: [best - 0.05, best + 1.2], marker: opt[0],
                  series: [{ label: "isoFLOP curve at C = 1e" + p.log_c, points: curve }],
                  dots: [[N, core.chinchillaLoss(N, D, k), 2]] }]
      };
    }
  };

  // XI. DPO and PPO-clip losses -------------------------------------------------------
  SPECS["dpo-ppo"] = {
    controls: [
      { key: "x", label: "Log-ratio (DPO margin; PPO log \u03c0/\u03c0_old)", type: "range",
        min: -3, max: 3, step: 0.1, value: 0.5, format: function (v) { return fix(v, 1); } },
      { key: "beta", label: "DPO \u03b2", type: "select", options: opts([0.1, 0.5, 1, 2]),
        value: "1" },
      { key: "eps", label: "PPO clip \u03b5", type: "select", options: opts([0.1, 0.2, 0.3]),
        value: "0.2" },
      { key: "advantage", label: "PPO advantage", type: "select",
        options: [["1", "+1 (good action)"], ["-1", "\u22121 (bad action)"]], value: "1" }
    ],
    compute: function (p) {
      var beta = +p.beta, eps = +p.eps, A = +p.advantage;
      var dpo = core.dpoLoss(p.x, beta), ppo = core.ppoClipLoss(p.x, A, eps);
      var r = Math.exp(p.x);
      var clipped = (A > 0 && r > 1 + eps) || (A < 0 && r < 1 - eps);
      var xs = [];
      for (var x = -3; x <= 3.0001; x += 0.05) xs.push(x);
      return {
        out: [
          ["dpo", "DPO loss \u2212log \u03c3(\u03b2 m)", dpo, fix(dpo, 4)],
          ["dpo_weight", "DPO gradient weight \u03c3(\u2212\u03b2 m)", Math.exp(-dpo - beta * p.x),
           fix(Math.exp(-dpo - beta * p.x), 4)],
          ["ratio", "PPO ratio r = \u03c0/\u03c0_old", r, fix(r, 3)],
          ["ppo", "PPO-clip loss", ppo, fix(ppo, 4)],
          ["clipped", "PPO gradient", clipped ? 0 : 1, clipped ? "zero (clipped)" : "flows"]
        ],
        plots: [{ type: "line", xlabel: "log-ratio", ylabel: "loss", marker: p.x,
                  series: [{ label: "DPO", points: xs.map(function (v) {
                    return [v, core.dpoLoss(v, beta)]; }) },
                           { label: "PPO-clip", points: xs.map(function (v) {
                             return [v, core.ppoClipLoss(v, A, eps)]; }) }],
                  dots: [[p.x, dpo, 0], [p.x, ppo, 1]], legendBottom: A < 0 }]
      };
    }
  };

  // XII. Parallelism memory planner ---------------------------------------------------
  SPECS["memory-planner"] = {
    controls: function (data) {
      return [
        { key: "preset", label: "Model", type: "select", options: presetOptions(data), value: "0" },
        { key: "gpus", label: "Accelerators (log2)", type: "range", min: 0, max: 10, step: 1,
          value: 3, format: pow2 },
        { key: "tp", label: "Tensor parallel", type: "select", options: opts([1, 2, 4, 8]),
          value: "1" },
        { key: "stage", label: "ZeRO stage", type: "select", options: opts([0, 1, 2, 3]),
          value: "1" },
        { key: "micro_batch", label: "Micro-batch (sequences)", type: "range", min: 1, max: 16,
          step: 1, value: 1 },
        { key: "seq_len", label: "Sequence length", type: "select", options: opts([2048, 4096, 8192]),
          value: "4096" },
        { key: "checkpointing", label: "Recomputation", type: "select",
          options: [["none", "none"], ["selective", "selective (attention)"], ["full", "full"]],
          value: "selective" }
      ];
    },
    compute: function (p, data) {
      var m = data.presets[+p.preset], tp = Math.min(+p.tp, Math.pow(2, p.gpus));
      var dp = Math.pow(2, p.gpus) / tp;
      var states = core.zeroMemoryPerGpu(m.n_params / tp, dp, +p.stage);
      var acts = core.activationMemory(+p.seq_len, p.micro_batch, m.dim, m.n_layers, m.n_heads,
                                       p.checkpointing, tp);
      var total = states + acts;
      return {
        out: [
          ["dp", "Data-parallel replicas", dp, dp + " \u00d7 tensor parallel " + tp],
          ["states", "Model states per accelerator (ZeRO-" + p.stage + ")", states, bytes(states)],
          ["activations", "Activations per accelerator", acts, bytes(acts)],
          ["total", "Total per accelerator", total, bytes(total)],
          ["fits", "Fits in 80 GiB?", total <= 80 * GiB ? 1 : 0, total <= 80 * GiB ? "yes" : "no"]
        ],
        plots: [{ type: "bars", title: "Per accelerator (line: 80 GiB)", labelWidth: 90,
                  max: Math.max(total, 80 * GiB), items: [
                    { label: "states", value: states, text: bytes(states) },
                    { label: "activations", value: acts, text: bytes(acts) },
                    { label: "total", value: total, text: bytes(total), highlight: true },
                    { label: "80 GiB", value: 80 * GiB, text: "80 GiB", muted: true }] }]
      };
    }
  };

  // XII. The pipeline bubble ----------------------------------------------------------
  SPECS["pipeline-bubble"] = {
    controls: [
      { key: "p", label: "Pipeline stages p", type: "range", min: 1, max: 16, step: 1, value: 4 },
      { key: "m", label: "Micro-batches m", type: "range", min: 1, max: 64, step: 1, value: 8 },
      { key: "schedule", label: "Schedule", type: "select", options: [["gpipe", "GPipe"],
        ["1f1b", "1F1B"], ["interleaved", "interleaved 1F1B"], ["zb-h1", "zero bubble (ZB-H1)"]],
        value: "1f1b" },
      { key: "v", label: "Chunks per device v (interleaved)", type: "range", min: 1, max: 4,
        step: 1, value: 2 }
    ],
    compute: function (p) {
      var b = core.pipelineBubble(p.p, p.m, p.schedule, p.v);
      var names = [["gpipe", "GPipe / 1F1B"], ["interleaved", "interleaved, v = " + p.v],
                   ["zb-h1", "zero bubble"]];
      return {
        out: [
          ["bubble", "Idle fraction of a step", b, pct(b)],
          ["efficiency", "Busy fraction", 1 - b, pct(1 - b)],
          ["m_for_10", "Micro-batches for a bubble under 10%", (function () {
            for (var m = 1; m <= 1024; m++) if (core.pipelineBubble(p.p, m, p.schedule, p.v) < 0.1) return m;
            return 1025; })(), ""]
        ].map(function (o) { if (o[3] === "") o[3] = o[2] > 1024 ? "> 1024" : String(o[2]); return o; }),
        plots: [{ type: "line", xlog: true, xlabel: "micro-batches m", ylabel: "idle fraction",
                  ylim: [0, 1], marker: p.m, series: names.map(function (n) {
                    return { label: n[1], points: ints(1, 64).map(function (m) {
                      return [m, core.pipelineBubble(p.p, m, n[0], p.v)]; }) };
                  }), dots: [[p.m, b, 0]] }]
      };
    }
  };

  // XII. A pipeline step drawn: which stage runs which pass, and when ------------------
  SPECS["pipeline-timeline"] = {
    controls: [
      { key: "p", label: "Pipeline stages p", type: "range", min: 1, max: 8, step: 1, value: 4 },
      { key: "m", label: "Micro-batches m", type: "range", min: 1, max: 12, step: 1, value: 6 },
      { key: "schedule", label: "Schedule", type: "select", options: [["gpipe", "GPipe"],
        ["1f1b", "1F1B"]], value: "1f1b" },
      { key: "ratio", label: "Backward time / forward time", type: "select",
        options: opts([1, 2, 3]), value: "2" }
    ],
    compute: function (p) {
      var r = core.pipelineSchedule(p.p, p.m, p.schedule, +p.ratio);
      var formula = core.pipelineBubble(p.p, p.m, p.schedule, 1);
      return {
        out: [
          ["idle", "Idle fraction (simulated)", r.idle_fraction, pct(r.idle_fraction)],
          ["formula", "(p \u2212 1)/(m + p \u2212 1)", formula, pct(formula)],
          ["step", "Step time (forward passes)", r.step_time, fix(r.step_time, 1)],
          ["peak", "Micro-batches kept by stage 0", r.peak_in_flight[0],
           String(r.peak_in_flight[0])]
        ],
        plots: [{ type: "gantt", end: r.step_time, xlabel: "time (forward passes)",
                  title: "Each stage's passes in one step (light: forward, dark: backward)",
                  rows: r.events.map(function (stage, s) {
                    return { label: "stage " + s, bars: stage.map(function (e) {
                      return [e[2], e[3], e[0], e[0] + e[1]]; }) };
                  }) }]
      };
    }
  };

  // XIII. Speculative decoding --------------------------------------------------------
  SPECS["speculative"] = {
    controls: [
      { key: "alpha", label: "Acceptance rate \u03b1", type: "range", min: 0, max: 0.95,
        step: 0.05, value: 0.8, format: function (v) { return fix(v); } },
      { key: "gamma", label: "Draft tokens \u03b3", type: "range", min: 1, max: 12, step: 1,
        value: 4 },
      { key: "cost", label: "Draft cost c (draft step / target step)", type: "range", min: 0,
        max: 1, step: 0.05, value: 0.1, format: function (v) { return fix(v); } }
    ],
    compute: function (p) {
      function speedup(g) { return core.expectedTokensPerStep(p.alpha, g) / (g * p.cost + 1); }
      var tokens = core.expectedTokensPerStep(p.alpha, p.gamma), s = speedup(p.gamma);
      var best = 1;
      for (var g = 1; g <= 12; g++) if (speedup(g) > speedup(best)) best = g;
      return {
        out: [
          ["tokens", "Tokens per target pass", tokens, fix(tokens, 3)],
          ["speedup", "Speed-up over plain decoding", s, fix(s, 3) + "\u00d7"],
          ["best_gamma", "Best \u03b3 for this \u03b1 and c", best, String(best)]
        ],
        plots: [{ type: "line", xlabel: "draft tokens \u03b3", ylabel: "speed-up",
                  marker: p.gamma, series: [{ label: "\u03b1 = " + fix(p.alpha),
                    points: ints(1, 12).map(function (g) { return [g, speedup(g)]; }) }],
                  dots: [[p.gamma, s, 0]] }]
      };
    }
  };

  // XIV. Bits per parameter and weight memory of a preset under each format -----------
  SPECS["bits-per-param"] = {
    controls: function (data) {
      return [
        { key: "preset", label: "Model", type: "select", options: presetOptions(data), value: "0" },
        { key: "format", label: "Format", type: "select",
          options: data.formats.map(function (f, i) { return [String(i), f.label]; }), value: "3" }
      ];
    },
    compute: function (p, data) {
      var m = data.presets[+p.preset];
      function bits(f) {
        if (f.kind === "nf4") return core.nf4BitsPerParameter(f.group, f.double_quant, 256);
        if (f.kind === "float") return f.bits;
        return 8 * core.quantBytes(f.group, f.bits, f.group) / f.group;
      }
      var f = data.formats[+p.format], b = bits(f), mem = m.n_params * b / 8;
      return {
        out: [
          ["bits", "Bits per parameter (scales included)", b, fix(b, 4)],
          ["memory", "Weights", mem, bytes(mem)],
          ["ratio", "Smaller than bf16 by", 16 / b, fix(16 / b) + "\u00d7"],
          ["fits24", "Fits a 24 GiB card?", mem <= 24 * GiB ? 1 : 0, mem <= 24 * GiB ? "yes" : "no"]
        ],
        plots: [{ type: "bars", title: m.label + ": weight memory", labelWidth: 130,
                  items: data.formats.map(function (g, i) {
                    var v = m.n_params * bits(g) / 8;
                    return { label: g.label, value: v, text: bytes(v), highlight: i === +p.format };
                  }) }]
      };
    }
  };

  // XV. Self-consistency: majority vote against the number of samples -----------------
  SPECS["self-consistency"] = {
    controls: function (data) {
      return [
        { key: "p", label: "Accuracy of one sample", type: "select",
          options: data.accuracies.map(function (a, i) { return [String(i), String(a)]; }),
          value: "2" },
        { key: "n", label: "Samples voted on", type: "range", min: 1, max: data.max_n, step: 1,
          value: 9 }
      ];
    },
    compute: function (p, data) {
      var row = data.curves[+p.p], acc = row[p.n - 1];
      return {
        out: [
          ["single", "One sample", data.accuracies[+p.p], pct(data.accuracies[+p.p])],
          ["vote", "Majority of n samples", acc, pct(acc)],
          ["gain", "Gain (points)", 100 * (acc - data.accuracies[+p.p]),
           fix(100 * (acc - data.accuracies[+p.p]), 1)]
        ],
        plots: [{ type: "line", xlabel: "samples n", ylabel: "accuracy", ylim: [0, 1],
                  marker: p.n, series: data.curves.map(function (c, i) {
                    return { label: "p = " + data.accuracies[i], points: c.map(function (v, k) {
                      return [k + 1, v]; }) };
                  }).filter(function (_, i) { return i % 2 === 0 || i === +p.p; }),
                  dots: [[p.n, acc, 0]], legendBottom: true }],
        note: data.note
      };
    }
  };

  // XVI. Patches of an image and the tokens they make ---------------------------------
  SPECS["patchify"] = {
    controls: [
      { key: "digit_patch", label: "Patch size on the 8\u00d78 digit", type: "select",
        options: opts([1, 2, 4, 8]), value: "2" },
      { key: "size", label: "Image size (pixels)", type: "select", options: opts([224, 448, 896]),
        value: "224" },
      { key: "patch", label: "Patch size (pixels)", type: "select", options: opts([14, 16, 28, 32]),
        value: "16" },
      { key: "cls", label: "Add a [CLS] token", type: "checkbox", value: true }
    ],
    compute: function (p, data) {
      var digit = core.imageTokenCount(8, +p.digit_patch, false);
      var n = core.imageTokenCount(+p.size, +p.patch, p.cls);
      return {
        out: [
          ["digit_tokens", "Tokens of the digit", digit, String(digit)],
          ["patch_dim", "Values per patch token", Math.pow(+p.digit_patch, 2),
           String(Math.pow(+p.digit_patch, 2))],
          ["tokens", "Tokens of the image", n, n.toLocaleString("en-US")],
          ["pairs", "Attention scores per head and layer", n * n, count(n * n)]
        ],
        plots: [{ type: "digits", size: 8, scale: 8, grid: +p.digit_patch, images: [data.digit],
                  cssScale: 4, title: "A test digit cut into patches" }]
      };
    }
  };

  // XVI. A new resolution: interpolated positions and what they do to accuracy ------
  SPECS["pos-interp"] = {
    controls: function (data) {
      return [
        { key: "size", label: "Image size (pixels)", type: "select", options: opts(data.sizes),
          value: "16" },
        { key: "mode", label: "Upsampling", type: "select",
          options: [["bilinear", "bilinear"], ["nearest", "nearest neighbour"]], value: "bilinear" },
        { key: "row", label: "Position: row", type: "range", min: 0, max: 7, step: 1, value: 3 },
        { key: "col", label: "Position: column", type: "range", min: 0, max: 7, step: 1, value: 3 }
      ];
    },
    compute: function (p, data) {
      var k = data.sizes.indexOf(+p.size), g = data.sizes[k] / data.patch;
      var r = Math.min(+p.row, g - 1), c = Math.min(+p.col, g - 1);
      var row = data.similarity[k][r * g + c], rows = [], near = [];
      for (var i = 0; i < g; i++) rows.push(row.slice(i * g, (i + 1) * g));
      [[r - 1, c], [r + 1, c], [r, c - 1], [r, c + 1]].forEach(function (q) {
        if (q[0] >= 0 && q[0] < g && q[1] >= 0 && q[1] < g) near.push(row[q[0] * g + q[1]]);
      });
      var total = 0;
      near.forEach(function (v) { total += v; });
      var mean = total / near.length, acc = data.accuracy[p.mode][k];
      return {
        out: [
          ["tokens", "Tokens (patches + [CLS])", g * g + 1, String(g * g + 1)],
          ["accuracy", "Test accuracy, no fine-tuning", acc, pct(acc)],
          ["neighbours", "Mean similarity to its 4 neighbours", mean, fix(mean, 3)]
        ],
        plots: [
          { type: "digits", size: +p.size, scale: Math.round(64 / +p.size), grid: data.patch,
            images: [data.digits[p.mode][k]], cssScale: 3,
            title: "A test digit at " + p.size + "\u00d7" + p.size + " in " + data.patch +
                   "\u00d7" + data.patch + " patches" },
          { type: "heatmap", rows: rows, vmin: -1, vmax: 1, highlight: [r, c], labelWidth: 4,
            title: "Cosine similarity of each interpolated position to row " + r +
                   ", column " + c }
        ],
        note: "The class token's position is kept; the " + g * g + " patch positions are the " +
              "trained 4\u00d74 table resized bicubically."
      };
    }
  };

  // XVI. What a ViT costs: parameters and FLOPs against size, resolution and patch -----
  var VIT_SIZES = { base: [768, 12, 12, 3072], large: [1024, 24, 16, 4096],
                    huge: [1280, 32, 16, 5120] };
  SPECS["vit-cost"] = {
    controls: [
      { key: "size", label: "Model", type: "select", options: [["base", "ViT-Base"],
        ["large", "ViT-Large"], ["huge", "ViT-Huge"]], value: "base" },
      { key: "image", label: "Image size (pixels)", type: "select", options: opts([224, 448, 896]),
        value: "224" },
      { key: "patch", label: "Patch size", type: "select", options: opts([14, 16, 32]), value: "16" }
    ],
    compute: function (p) {
      var s = VIT_SIZES[p.size];
      var r = core.vitCost({ image_size: +p.image, patch_size: +p.patch, num_channels: 3,
                             hidden_size: s[0], num_layers: s[1], num_heads: s[2], mlp_dim: s[3],
                             num_classes: 1000 });
      var f = r.flops;
      return {
        out: [
          ["params", "Parameters", r.params, count(r.params) + " (" + r.params.toLocaleString("en-US") + ")"],
          ["tokens", "Tokens (patches + [CLS])", r.tokens, String(r.tokens)],
          ["gflops", "Forward GFLOPs per image", f.total / 1e9, fix(f.total / 1e9, 1)],
          ["attention_share", "Share of attention scores", f.attention / f.total,
           pct(f.attention / f.total)]
        ],
        plots: [{ type: "bars", title: "Forward FLOPs by part", labelWidth: 100,
                  items: ["patch_embed", "linear", "attention", "head"].map(function (k) {
                    return { label: k.replace("_", " "), value: f[k], text: sci(f[k], 1) };
                  }) }]
      };
    }
  };

  // XVIII. Classifier-free guidance ---------------------------------------------------
  SPECS["guidance"] = {
    controls: function (data) {
      return [{ key: "scale", label: "Guidance scale w", type: "range", min: 0,
                max: data.scales.length - 1, step: 1, value: 2,
                format: function (v) { return String(data.scales[v]); } }];
    },
    compute: function (p, data) {
      var f = data.frames[p.scale];
      return {
        out: [
          ["scale", "Guidance scale", data.scales[p.scale], String(data.scales[p.scale])],
          ["accuracy", "Digits the classifier reads as their label", f.accuracy, pct(f.accuracy, 0)],
          ["saturation", "Pixels at \u00b11 (saturated)", f.saturated, pct(f.saturated)]
        ],
        plots: [{ type: "digits", size: 8, scale: 1, images: f.images, cssScale: 5,
                  title: "Samples for the labels 0 to 9 (same noise at every scale)" }]
      };
    }
  };

  // XIX. CLIP: similarity matrix and loss against the temperature ---------------------
  SPECS["clip-temperature"] = {
    controls: function (data) {
      return [
        { key: "log_tau", label: "Temperature \u03c4 (log10)", type: "range", min: -2, max: 0,
          step: 0.1, value: -1, format: function (v) { return fix(Math.pow(10, v), 3); } },
        { key: "batch", label: "Batch (pairs)", type: "range", min: 2, max: data.image.length,
          step: 1, value: data.image.length }
      ];
    },
    compute: function (p, data) {
      var B = p.batch, tau = Math.pow(10, p.log_tau);
      var r = core.clipLoss(data.image.slice(0, B), data.text.slice(0, B), Math.log(1 / tau));
      var correct = r.probs.filter(function (row, i) {
        return row.indexOf(Math.max.apply(null, row)) === i; }).length;
      var diag = r.probs.reduce(function (a, row, i) { return a + row[i]; }, 0) / B;
      return {
        out: [
          ["loss", "Contrastive loss", r.loss, fix(r.loss, 4)],
          ["chance", "Loss of a guess, log B", Math.log(B), fix(Math.log(B), 4)],
          ["diag", "Mean probability of the true text", diag, fix(diag, 4)],
          ["correct", "Images whose best text is theirs", correct, correct + " of " + B]
        ],
        plots: [{ type: "heatmap", rows: r.probs, vmin: 0, vmax: 1,
                  rowLabels: data.labels.slice(0, B), colLabels: data.labels.slice(0, B),
                  text: function (v) { return v.toFixed(2); }, labelWidth: 30,
                  title: "softmax over texts (rows: images)" }]
      };
    }
  };

  // XX. Image-token budget of a multimodal model -------------------------------------
  function imageTokens(size, connector) {
    if (connector === "projector") return core.imageTokenCount(336, 14, false);  // resized
    if (connector === "native") return core.imageTokenCount(size, 14, false);
    if (connector === "resampler") return 64;
    return (Math.pow(Math.ceil(size / 336), 2) + 1) * core.imageTokenCount(336, 14, false);
  }
  SPECS["image-tokens"] = {
    controls: [
      { key: "size", label: "Image side (pixels)", type: "select",
        options: opts([224, 336, 448, 672, 1008, 1344]), value: "672" },
      { key: "connector", label: "Connector", type: "select", options: [
        ["projector", "resize to 336, MLP projector (LLaVA-1.5)"],
        ["native", "native resolution, patches of 14"],
        ["resampler", "resampler with 64 queries"],
        ["anyres", "any-res: tiles of 336 + a thumbnail"]], value: "anyres" }
    ],
    compute: function (p) {
      var size = +p.size, tokens = imageTokens(size, p.connector);
      var tiles = p.connector === "anyres" ? Math.pow(Math.ceil(size / 336), 2) + 1 : 1;
      var names = [["projector", "projector"], ["native", "native"], ["resampler", "resampler"],
                   ["anyres", "any-res"]];
      return {
        out: [
          ["tokens", "Image tokens", tokens, tokens.toLocaleString("en-US")],
          ["tiles", "Encoder passes (tiles)", tiles, String(tiles)],
          ["context", "Share of a 4,096-token context", tokens / 4096, pct(tokens / 4096)]
        ],
        plots: [{ type: "bars", title: "Image tokens by connector at " + size + " px",
                  labelWidth: 90, items: names.map(function (r) {
                    var t = imageTokens(size, r[0]);
                    return { label: r[1], value: t, text: t.toLocaleString("en-US"),
                             highlight: r[0] === p.connector };
                  }) }]
      };
    }
  };

  // XXI. A ReAct trace, step by step --------------------------------------------------
  SPECS["react-trace"] = {
    controls: function (data) {
      return [{ key: "step", label: "Step", type: "range", min: 1, max: data.steps.length,
                step: 1, value: 1 }];
    },
    compute: function (p, data) {
      var shown = data.steps.slice(0, p.step), items = [];
      shown.forEach(function (s, i) {
        if (s.thought) items.push({ tag: "Thought", text: s.thought, current: i === p.step - 1 });
        if (s.call) items.push({ tag: "Action", text: s.call, current: i === p.step - 1 });
        if (s.observation !== null && s.observation !== undefined) {
          items.push({ tag: "Observation", text: s.observation, current: i === p.step - 1 });
        }
        if (s.answer !== null && s.answer !== undefined) {
          items.push({ tag: "Answer", text: s.answer, current: i === p.step - 1 });
        }
      });
      var calls = shown.filter(function (s) { return s.call; }).length;
      var last = shown[shown.length - 1];
      return {
        out: [
          ["calls", "Tool calls so far", calls, String(calls)],
          ["answer", "Answer", last.answer || "", last.answer ? last.answer : "(not yet)"]
        ],
        plots: [{ type: "log", items: items }],
        note: "Question: " + data.question
      };
    }
  };

  // XXII. BM25 over a small corpus ----------------------------------------------------
  SPECS["bm25"] = {
    controls: function (data) {
      return [
        { key: "query", label: "Query", type: "text", value: data.default_query },
        { key: "k1", label: "k\u2081 (term-frequency saturation)", type: "range", min: 0, max: 3,
          step: 0.1, value: 1.5, format: function (v) { return fix(v, 1); } },
        { key: "b", label: "b (length normalisation)", type: "range", min: 0, max: 1, step: 0.05,
          value: 0.75, format: function (v) { return fix(v); } }
      ];
    },
    compute: function (p, data) {
      var scorer = core.bm25Index(data.docs.map(core.bm25Tokenize), p.k1, p.b);
      var scores = scorer(core.bm25Tokenize(p.query));
      var order = scores.map(function (_, i) { return i; })
        .sort(function (a, b) { return scores[b] - scores[a] || a - b; });
      var fused = core.reciprocalRankFusion([order, data.second_ranking], 60);
      return {
        out: [
          ["top", "Best document", order[0], "d" + order[0] + ": " + data.docs[order[0]]],
          ["top_score", "Its BM25 score", scores[order[0]], fix(scores[order[0]], 4)],
          ["scores", "All scores", scores.map(function (s) { return s.toFixed(6); }).join(" "),
           scores.map(function (s) { return s.toFixed(2); }).join(", ")],
          ["rrf_top", "RRF of BM25 and the dense ranking: first", fused[0][0],
           "d" + fused[0][0] + " (" + fix(fused[0][1], 4) + ")"]
        ],
        plots: [{ type: "bars", title: "BM25 score of each document", labelWidth: 40,
                  items: scores.map(function (s, i) {
                    return { label: "d" + i, value: s, text: fix(s), highlight: i === order[0] };
                  }) }],
        note: "Dense ranking (fixed, from the chapter): " + data.second_ranking.map(function (i) {
          return "d" + i; }).join(" > ")
      };
    }
  };

  // A. An optimiser on a 2-D loss surface ---------------------------------------------
  SPECS["optimizer-2d"] = {
    controls: [
      { key: "method", label: "Optimiser", type: "select",
        options: [["sgd", "SGD"], ["momentum", "SGD + momentum 0.9"], ["adam", "Adam"]],
        value: "momentum" },
      { key: "log_lr", label: "Learning rate (log10)", type: "range", min: -3, max: 0,
        step: 0.1, value: -1.5, format: function (v) { return Math.pow(10, v).toPrecision(2); } },
      { key: "steps", label: "Steps", type: "range", min: 1, max: 100, step: 1, value: 40 }
    ],
    compute: function (p, data) {
      var a = data.curvature;
      var grad = function (q) { return [a[0] * q[0], a[1] * q[1]]; };
      var loss = function (q) { return 0.5 * (a[0] * q[0] * q[0] + a[1] * q[1] * q[1]); };
      var lr = Math.pow(10, p.log_lr);
      var path = core.optimise(grad, data.start, p.method === "adam" ? "adam" : "sgd", lr,
                               p.steps, p.method === "momentum" ? 0.9 : 0, [0.9, 0.999], 1e-8);
      var end = path[path.length - 1], L = loss(end);
      var levels = [0.5, 2, 8].map(function (c) {
        var pts = [];
        for (var t = 0; t <= 64; t++) {
          var th = 2 * Math.PI * t / 64;
          pts.push([Math.sqrt(2 * c / a[0]) * Math.cos(th), Math.sqrt(2 * c / a[1]) * Math.sin(th)]);
        }
        return pts;
      });
      var shown = path.map(function (q) {
        return [Math.max(-5, Math.min(5, q[0])), Math.max(-3, Math.min(3, q[1]))]; });
      return {
        out: [
          ["x", "Final x", end[0], end[0].toPrecision(4)],
          ["y", "Final y", end[1], end[1].toPrecision(4)],
          ["loss", "Final loss", L, L.toExponential(3)]
        ],
        plots: [{ type: "line", xlabel: "x", ylabel: "y", xlim: [-5, 5], ylim: [-3, 3],
                  series: [{ label: "path", points: shown }].concat(levels.map(function (l, i) {
                    return { label: i ? "" : "loss contours", points: l }; })),
                  dots: [[shown[shown.length - 1][0], shown[shown.length - 1][1], 2]],
                  legendBottom: true }],
        note: "loss = \u00bd(" + a[0] + " x\u00b2 + " + a[1] + " y\u00b2), start (" +
          data.start.join(", ") + ")"
      };
    }
  };

  // B. MinHash: the Jaccard estimate against the number of permutations ---------------
  SPECS["minhash"] = {
    controls: function (data) {
      return [
        { key: "pair", label: "Document pair", type: "select",
          options: data.pairs.map(function (q, i) { return [String(i), q.label]; }), value: "0" },
        { key: "perm", label: "Permutations (log2)", type: "range", min: 0,
          max: data.num_perms.length - 1, step: 1, value: 4,
          format: function (v) { return String(data.num_perms[v]); } },
        { key: "seed", label: "Seed", type: "range", min: 0, max: data.seeds - 1, step: 1, value: 0 }
      ];
    },
    compute: function (p, data) {
      var q = data.pairs[+p.pair], k = data.num_perms[p.perm];
      var est = q.estimates[p.seed][p.perm];
      var se = Math.sqrt(q.jaccard * (1 - q.jaccard) / k);
      return {
        out: [
          ["jaccard", "True Jaccard of the 5-word shingles", q.jaccard, fix(q.jaccard, 4)],
          ["estimate", "MinHash estimate", est, fix(est, 4)],
          ["error", "Error", est - q.jaccard, fix(est - q.jaccard, 4)],
          ["se", "Standard error \u221a(J(1\u2212J)/k)", se, fix(se, 4)]
        ],
        plots: [{ type: "line", xlog: true, xlabel: "permutations k", ylabel: "estimate",
                  ylim: [0, 1], marker: k, series: q.estimates.map(function (row, s) {
                    return { label: s === 0 ? "estimates, seeds 0\u2013" + (data.seeds - 1) : "",
                             points: row.map(function (v, i) { return [data.num_perms[i], v]; }) };
                  }).slice(0, 3).concat([{ label: "true", points: [[1, q.jaccard],
                    [data.num_perms[data.num_perms.length - 1], q.jaccard]] }]),
                  dots: [[k, est, 2]], legendBottom: true }]
      };
    }
  };

  // B. LSH banding: which (bands, rows) for a threshold -------------------------------
  SPECS["lsh"] = {
    controls: [
      { key: "threshold", label: "Jaccard threshold", type: "range", min: 0.5, max: 0.95,
        step: 0.05, value: 0.8, format: function (v) { return fix(v); } },
      { key: "num_perm", label: "Permutations", type: "select", options: opts([32, 64, 128]),
        value: "128" }
    ],
    compute: function (p) {
      var br = core.lshParams(p.threshold, +p.num_perm, 0.5), b = br[0], r = br[1];
      var prob = function (s) { return 1 - Math.pow(1 - Math.pow(s, r), b); };
      return {
        out: [
          ["bands", "Bands b", b, String(b)],
          ["rows", "Rows per band r", r, String(r)],
          ["p_threshold", "P(candidate) at the threshold", prob(p.threshold), fix(prob(p.threshold), 3)],
          ["p_half", "P(candidate) at Jaccard 0.5", prob(0.5), fix(prob(0.5), 4)]
        ],
        plots: [{ type: "line", xlabel: "Jaccard similarity s", ylabel: "P(candidate)",
                  ylim: [0, 1], marker: p.threshold,
                  series: [{ label: "1 \u2212 (1 \u2212 s^r)^b", points: ints(0, 100).map(
                    function (i) { return [i / 100, prob(i / 100)]; }) }],
                  legendBottom: false }]
      };
    }
  };

  // C. pass@k -------------------------------------------------------------------------
  SPECS["passk"] = {
    controls: [
      { key: "n", label: "Samples per problem n", type: "range", min: 1, max: 200, step: 1,
        value: 20 },
      { key: "c", label: "Correct samples c", type: "range", min: 0, max: 200, step: 1, value: 3 },
      { key: "k", label: "k", type: "range", min: 1, max: 200, step: 1, value: 5 }
    ],
    compute: function (p) {
      var n = p.n, c = Math.min(p.c, n), k = Math.min(p.k, n);
      var v = core.passAtK(n, c, k), naive = 1 - Math.pow(1 - c / n, k);
      return {
        out: [
          ["c_used", "Correct samples used (at most n)", c, String(c)],
          ["k_used", "k used (at most n)", k, String(k)],
          ["passk", "Unbiased pass@k", v, fix(v, 4)],
          ["naive", "Plug-in 1 \u2212 (1 \u2212 c/n)^k (biased)", naive, fix(naive, 4)]
        ],
        plots: [{ type: "line", xlabel: "k", ylabel: "pass@k", ylim: [0, 1], marker: k,
                  series: [{ label: "unbiased", points: ints(1, n).map(function (j) {
                    return [j, core.passAtK(n, c, j)]; }) },
                           { label: "plug-in", points: ints(1, n).map(function (j) {
                             return [j, 1 - Math.pow(1 - c / n, j)]; }) }],
                  dots: [[k, v, 0]], legendBottom: true }]
      };
    }
  };

  // C. Bootstrap confidence interval of an accuracy -----------------------------------
  SPECS["bootstrap"] = {
    controls: function (data) {
      return [
        { key: "n", label: "Test items", type: "select", options: opts(data.sizes),
          value: String(data.sizes[1]) },
        { key: "accuracy", label: "Accuracy", type: "select", options: opts(data.accuracies),
          value: "0.7" }
      ];
    },
    compute: function (p, data) {
      var r = data.table[p.n][p.accuracy];
      var normal = 1.96 * Math.sqrt(r.mean * (1 - r.mean) / +p.n);
      return {
        out: [
          ["mean", "Accuracy", r.mean, fix(r.mean, 3)],
          ["low", "95% interval: low", r.low, fix(r.low, 3)],
          ["high", "95% interval: high", r.high, fix(r.high, 3)],
          ["half", "Half-width (points)", 100 * (r.high - r.low) / 2,
           fix(100 * (r.high - r.low) / 2, 1)],
          ["normal", "Normal approximation 1.96\u221a(p(1\u2212p)/n), points", 100 * normal,
           fix(100 * normal, 1)]
        ],
        plots: [{ type: "line", xlog: true, xlabel: "test items", ylabel: "half-width (points)",
                  marker: +p.n, series: [{ label: "bootstrap, accuracy " + p.accuracy,
                    points: data.sizes.map(function (s) {
                      var q = data.table[String(s)][p.accuracy];
                      return [s, 100 * (q.high - q.low) / 2]; }) }],
                  dots: [[+p.n, 100 * (r.high - r.low) / 2, 0]] }],
        note: "fmref.eval.bootstrap.bootstrap_ci with " + data.n_resamples +
          " resamples on 0/1 scores with this accuracy"
      };
    }
  };

  return { SPECS: SPECS };
});
