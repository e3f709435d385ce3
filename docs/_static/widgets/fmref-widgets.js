/* fmref widgets: the interactive figures of the HTML manual.
 *
 * docs/_ext/fmref_widgets.py writes, for each ".. fmref-widget:: NAME", a
 * <div class="fmref-widget" data-widget="NAME"> holding the numbers fmref
 * computed at build time as JSON. This file builds the controls (labelled
 * <input>/<select> elements, operable by keyboard) and draws with SVG and
 * canvas. Formulas come from fmref-widgets-core.js. No library, no network.
 */
(function () {
  "use strict";
  var core = window.FmrefWidgetsCore;
  var SVG = "http://www.w3.org/2000/svg";

  // ---------------------------------------------------------------------------
  // Small DOM helpers
  // ---------------------------------------------------------------------------
  function el(tag, attrs, children) {
    var node = document.createElement(tag);
    setAttrs(node, attrs);
    (children || []).forEach(function (c) {
      node.appendChild(typeof c === "string" ? document.createTextNode(c) : c);
    });
    return node;
  }

  function svg(tag, attrs, text) {
    var node = document.createElementNS(SVG, tag);
    setAttrs(node, attrs);
    if (text !== undefined) node.textContent = text;
    return node;
  }

  function setAttrs(node, attrs) {
    Object.keys(attrs || {}).forEach(function (k) {
      if (attrs[k] === null || attrs[k] === undefined || attrs[k] === false) return;
      node.setAttribute(k, attrs[k] === true ? "" : attrs[k]);
    });
  }

  function clear(node) {
    while (node.firstChild) node.removeChild(node.firstChild);
  }

  // A labelled control: <div><label for=id>text</label> input [output]</div>
  function field(parent, id, label, input, output) {
    input.id = id;
    var row = el("div", { class: "fmref-w-field" }, [el("label", { for: id }, [label]), input]);
    if (output) {
      output.setAttribute("for", id);
      row.appendChild(output);
    }
    parent.appendChild(row);
    return input;
  }

  function range(min, max, step, value) {
    return el("input", { type: "range", min: min, max: max, step: step, value: value });
  }

  function select(options, value) {
    var s = el("select");
    options.forEach(function (o) {
      var opt = el("option", { value: o[0] }, [o[1]]);
      if (String(o[0]) === String(value)) opt.selected = true;
      s.appendChild(opt);
    });
    return s;
  }

  function readout(parent, label, key) {
    var value = el("output", { class: "fmref-w-value", "data-key": key });
    parent.appendChild(el("div", { class: "fmref-w-readout" }, [
      el("span", { class: "fmref-w-label" }, [label]), value
    ]));
    return value;
  }

  function setValue(output, text, value) {
    output.textContent = text;
    if (value !== undefined) output.setAttribute("data-value", String(value));
  }

  function sci(x, digits) {
    var e = Math.floor(Math.log10(x));
    return (x / Math.pow(10, e)).toFixed(digits === undefined ? 2 : digits) + "e" + e;
  }

  function tokenLabel(text) {
    return JSON.stringify(text).slice(1, -1).replace(/ /g, "\u2423");
  }

  // Width of an SVG in CSS pixels (so that its text keeps its size), within limits
  function fitWidth(svgNode, fallback) {
    var w = svgNode.getBoundingClientRect().width;
    return Math.round(Math.max(260, Math.min(560, w || fallback)));
  }

  // Horizontal bars, one row per item: label, bar(s), value text.
  function barRows(svgNode, items, width, opts) {
    width = fitWidth(svgNode, width);
    clear(svgNode);
    var rowH = opts.rowHeight || 22, labelW = opts.labelWidth || 70, valueW = opts.valueWidth || 52;
    var barW = width - labelW - valueW - 8;
    svgNode.setAttribute("viewBox", "0 0 " + width + " " + (items.length * rowH + 4));
    items.forEach(function (it, i) {
      var y = i * rowH + 2;
      var g = svg("g", { class: it.muted ? "fmref-w-muted" : null, "data-index": it.index,
                         "data-value": it.value });
      g.appendChild(svg("text", { x: labelW - 6, y: y + rowH * 0.68, "text-anchor": "end",
                                  class: "fmref-w-tick" + (it.highlight ? " fmref-w-strong" : "") },
                        it.label));
      if (it.ghost !== undefined) {
        g.appendChild(svg("rect", { x: labelW, y: y + 3, height: rowH - 6,
                                    width: Math.max(0, barW * it.ghost), class: "fmref-w-ghost" }));
      }
      g.appendChild(svg("rect", { x: labelW, y: y + 3, height: rowH - 6,
                                  width: Math.max(0, barW * it.value),
                                  class: "fmref-w-bar" + (it.highlight ? " fmref-w-bar-hi" : "") }));
      g.appendChild(svg("text", { x: labelW + barW + 6, y: y + rowH * 0.68, class: "fmref-w-tick" },
                        it.text));
      svgNode.appendChild(g);
    });
  }

  // A log-log or lin-log line plot with a vertical marker
  function linePlot(svgNode, series, opts) {
    var W = fitWidth(svgNode, 360), H = 200, L = 50, R = 24, T = 10, B = 34;
    clear(svgNode);
    svgNode.setAttribute("viewBox", "0 0 " + W + " " + H);
    var fx = function (x) { return L + (x - opts.x0) / (opts.x1 - opts.x0) * (W - L - R); };
    var fy = function (y) { return H - B - (y - opts.y0) / (opts.y1 - opts.y0) * (H - T - B); };
    svgNode.appendChild(svg("rect", { x: L, y: T, width: W - L - R, height: H - T - B,
                                      class: "fmref-w-frame" }));
    opts.xticks.forEach(function (t) {
      svgNode.appendChild(svg("text", { x: fx(t[0]), y: H - B + 14, "text-anchor": "middle",
                                        class: "fmref-w-tick" }, t[1]));
    });
    opts.yticks.forEach(function (t) {
      svgNode.appendChild(svg("text", { x: L - 4, y: fy(t[0]) + 4, "text-anchor": "end",
                                        class: "fmref-w-tick" }, t[1]));
    });
    svgNode.appendChild(svg("text", { x: (L + W - R) / 2, y: H - 4, "text-anchor": "middle",
                                      class: "fmref-w-axis" }, opts.xlabel));
    svgNode.appendChild(svg("text", { x: 12, y: (T + H - B) / 2, "text-anchor": "middle",
                                      transform: "rotate(-90 12 " + (T + H - B) / 2 + ")",
                                      class: "fmref-w-axis" }, opts.ylabel));
    series.forEach(function (s, k) {
      var d = s.points.map(function (p, i) {
        return (i ? "L" : "M") + fx(p[0]).toFixed(1) + " " + fy(p[1]).toFixed(1);
      }).join(" ");
      svgNode.appendChild(svg("path", { d: d, class: "fmref-w-line fmref-w-c" + k }));
      var ly = opts.legendBottom ? H - B - 8 - 13 * (series.length - 1 - k) : T + 14 + 13 * k;
      svgNode.appendChild(svg("text", { x: L + 6, y: ly, class: "fmref-w-legend fmref-w-c" + k },
                              s.label));
    });
    if (opts.marker !== undefined) {
      svgNode.appendChild(svg("line", { x1: fx(opts.marker), x2: fx(opts.marker), y1: T,
                                        y2: H - B, class: "fmref-w-marker" }));
    }
    (opts.dots || []).forEach(function (p, k) {
      svgNode.appendChild(svg("circle", { cx: fx(p[0]), cy: fy(p[1]), r: 3.5,
                                          class: "fmref-w-dot fmref-w-c" + (p[2] || k) }));
    });
  }

  // ---------------------------------------------------------------------------
  // 1. Attention (Chapter V)
  // ---------------------------------------------------------------------------
  function attention(root, data, id) {
    var controls = el("div", { class: "fmref-w-controls" });
    var tokens = data.tokens;
    var query = field(controls, id + "-query", "Query token", select(
      tokens.map(function (t, i) { return [i, i + ": " + t]; }), 2));
    var tOut = el("output");
    var temp = field(controls, id + "-temperature", "Temperature of the scores",
                     range(0.1, 3, 0.1, 1), tOut);
    var causal = field(controls, id + "-causal", "Causal mask", el("input", { type: "checkbox" }));
    causal.parentNode.classList.add("fmref-w-check");
    root.appendChild(controls);
    var chart = svg("svg", { class: "fmref-w-chart", role: "img",
                             "aria-label": "Attention weights of the query token over the keys" });
    root.appendChild(chart);
    var grid = svg("svg", { class: "fmref-w-heatmap", role: "img", viewBox: "0 0 250 250",
                            "aria-label": "All seven rows of the attention matrix" });
    var out = el("div", { class: "fmref-w-readouts", "aria-live": "polite" });
    var best = readout(out, "Largest weight", "best");
    var sum = readout(out, "Row sum", "sum");
    root.appendChild(el("div", { class: "fmref-w-row" }, [grid, out]));

    function update() {
      var T = parseFloat(temp.value), q = parseInt(query.value, 10);
      tOut.textContent = T.toFixed(1);
      temp.setAttribute("aria-valuetext", T.toFixed(1));
      var A = core.attentionWeights(data.scores, T, causal.checked);
      var row = A[q];
      var arg = row.indexOf(Math.max.apply(null, row));
      barRows(chart, row.map(function (w, j) {
        return { index: j, label: j + ": " + tokens[j], value: w, text: w.toFixed(2),
                 muted: causal.checked && j > q, highlight: j === arg };
      }), 360, { labelWidth: 70 });
      setValue(best, row[arg].toFixed(2) + ' on key "' + tokens[arg] + '" (' + arg + ")", row[arg]);
      setValue(sum, row.reduce(function (a, b) { return a + b; }, 0).toFixed(4));
      clear(grid);
      var cell = 30, off = 40;
      tokens.forEach(function (t, i) {
        grid.appendChild(svg("text", { x: off - 4, y: off + i * cell + 19, "text-anchor": "end",
                                       class: "fmref-w-tick" + (i === q ? " fmref-w-strong" : "") }, t));
        grid.appendChild(svg("text", { x: off + i * cell + 15, y: off - 6, "text-anchor": "middle",
                                       class: "fmref-w-tick" }, t));
        A[i].forEach(function (w, j) {
          grid.appendChild(svg("rect", { x: off + j * cell, y: off + i * cell, width: cell - 1,
                                         height: cell - 1, class: "fmref-w-cell",
                                         "fill-opacity": (0.05 + 0.95 * w).toFixed(3) }));
        });
      });
      grid.appendChild(svg("rect", { x: off - 1, y: off + q * cell - 1, width: 7 * cell + 1,
                                     height: cell + 1, class: "fmref-w-outline" }));
    }
    [query, temp, causal].forEach(function (c) {
      c.addEventListener("input", update);
      c.addEventListener("change", update);
    });
    update();
    return update;
  }

  // ---------------------------------------------------------------------------
  // 2. Sampling (Chapter XIII)
  // ---------------------------------------------------------------------------
  function sampling(root, data, id) {
    var controls = el("div", { class: "fmref-w-controls" });
    var prompt = field(controls, id + "-prompt", "Prompt", select(
      data.prompts.map(function (p, i) { return [i, "\u201c" + p.text + "\u201d"]; }), 0));
    var tOut = el("output"), kOut = el("output"), pOut = el("output");
    var temp = field(controls, id + "-temperature", "Temperature", range(0, 2, 0.05, 1), tOut);
    var topK = field(controls, id + "-top-k", "Top-k (0 = off)", range(0, 100, 1, 0), kOut);
    var topP = field(controls, id + "-top-p", "Top-p (1 = off)", range(0.05, 1, 0.05, 1), pOut);
    root.appendChild(controls);
    var chart = svg("svg", { class: "fmref-w-chart", role: "img",
                             "aria-label": "Probabilities of the 12 most likely next tokens" });
    root.appendChild(chart);
    var out = el("div", { class: "fmref-w-readouts", "aria-live": "polite" });
    var kept = readout(out, "Tokens that survive", "kept");
    var mass = readout(out, "Their mass before renormalising", "mass");
    var top1 = readout(out, "Most likely token", "top");
    root.appendChild(out);
    root.appendChild(el("p", { class: "fmref-w-note" }, [
      "Pale bars: the distribution at this temperature; dark bars: after top-k and top-p, " +
      "renormalised. Logits of " + data.model + " over " + data.vocab.length + " tokens."
    ]));

    function update() {
      var logits = data.prompts[parseInt(prompt.value, 10)].logits;
      var T = parseFloat(temp.value), k = parseInt(topK.value, 10), p = parseFloat(topP.value);
      tOut.textContent = T === 0 ? "0 (greedy)" : T.toFixed(2);
      kOut.textContent = k === 0 ? "off" : String(k);
      pOut.textContent = p >= 1 ? "off" : p.toFixed(2);
      temp.setAttribute("aria-valuetext", tOut.textContent);
      topK.setAttribute("aria-valuetext", kOut.textContent);
      topP.setAttribute("aria-valuetext", pOut.textContent);
      var probs = core.samplingProbs(logits, T, k === 0 ? null : k, p >= 1 ? null : p);
      var before = T === 0 ? probs : core.samplingProbs(logits, T, null, null);
      var order = logits.map(function (_, i) { return i; })
        .sort(function (a, b) { return logits[b] - logits[a] || a - b; });
      var n = 0, m = 0;
      probs.forEach(function (q, i) { if (q > 0) { n += 1; m += before[i]; } });
      var scale = Math.max.apply(null, order.slice(0, 12).map(function (i) {
        return Math.max(probs[i], before[i]);
      }));
      barRows(chart, order.slice(0, 12).map(function (i) {
        return { index: i, label: tokenLabel(data.vocab[i]), value: probs[i] / scale,
                 ghost: before[i] / scale, text: (100 * probs[i]).toFixed(1) + "%",
                 muted: probs[i] === 0 };
      }), 360, { labelWidth: 90 });
      Array.prototype.forEach.call(chart.querySelectorAll("g"), function (g) {
        g.setAttribute("data-value", probs[parseInt(g.getAttribute("data-index"), 10)]);
      });
      setValue(kept, n + " of " + logits.length, n);
      setValue(mass, (100 * m).toFixed(1) + "%", m);
      setValue(top1, '"' + tokenLabel(data.vocab[order[0]]) + '" with ' +
               (100 * probs[order[0]]).toFixed(1) + "%", probs[order[0]]);
    }
    [prompt, temp, topK, topP].forEach(function (c) {
      c.addEventListener("input", update);
      c.addEventListener("change", update);
    });
    update();
    return update;
  }

  // ---------------------------------------------------------------------------
  // 3. KV cache and memory calculator (Chapter XIII)
  // ---------------------------------------------------------------------------
  function kvCache(root, data, id) {
    var keys = [["n_layers", "Layers"], ["dim", "Width (dim)"], ["n_heads", "Query heads"],
                ["n_kv_heads", "Key/value heads"], ["hidden_dim", "FFN width"],
                ["vocab_size", "Vocabulary"], ["sliding_window", "Sliding window (0: none)"]];
    var d = data.defaults;
    var presetOptions = data.presets.map(function (p, i) { return [i, p.label]; });
    presetOptions.push(["custom", "Custom"]);
    var controls = el("div", { class: "fmref-w-controls" });
    var preset = field(controls, id + "-preset", "Model", select(presetOptions, 0));
    var attn = field(controls, id + "-attention", "Attention", select(
      [["mha", "MHA: one KV head per query head"], ["gqa", "GQA: KV heads as set"],
       ["mqa", "MQA: one KV head"]], "mha"));
    var seqOut = el("output");
    var seq = field(controls, id + "-seq-len", "Sequence length (tokens)",
                    range(7, 17, 1, Math.round(Math.log2(d.seq_len))), seqOut);
    var batch = field(controls, id + "-batch", "Batch (sequences)",
                      el("input", { type: "number", min: 1, max: 4096, step: 1, value: d.batch }));
    var precisions = data.precisions.map(function (p) { return [p[1], p[0]]; });
    var wPrec = field(controls, id + "-weight-precision", "Weight precision", select(precisions, 2));
    var kvPrec = field(controls, id + "-kv-precision", "KV-cache precision", select(precisions, 2));
    var acc = field(controls, id + "-accelerator", "Accelerator memory",
                    select(data.accelerators.map(function (a) { return [a[1], a[0]]; }),
                           d.accelerator));
    var gpus = field(controls, id + "-gpus", "Accelerators",
                     el("input", { type: "number", min: 1, max: 1024, step: 1, value: d.n_gpus }));
    var stage = field(controls, id + "-zero-stage", "ZeRO stage (training row)", select(
      [[0, "0 (plain data parallel)"], [1, "1: optimizer states"], [2, "2: + gradients"],
       [3, "3: + parameters"]], d.stage));
    root.appendChild(controls);
    var custom = el("fieldset", { class: "fmref-w-controls fmref-w-config" },
                    [el("legend", {}, ["Configuration (edit to make a custom model)"])]);
    var inputs = {};
    keys.forEach(function (k) {
      inputs[k[0]] = field(custom, id + "-" + k[0].replace(/_/g, "-"), k[1],
                           el("input", { type: "number", step: 1,
                                         min: k[0] === "sliding_window" ? 0 : 1 }));
    });
    root.appendChild(custom);
    var bar = svg("svg", { class: "fmref-w-chart", role: "img", viewBox: "0 0 360 44",
                           "aria-label": "Weights and KV cache per accelerator against its memory" });
    root.appendChild(bar);
    var out = el("div", { class: "fmref-w-readouts", "aria-live": "polite" });
    var params = readout(out, "Parameters", "params");
    var weights = readout(out, "Weights", "weights");
    var kvTok = readout(out, "KV cache per token", "kv-token");
    var cachedTok = readout(out, "Cached positions per sequence", "cached");
    var kv = readout(out, "KV cache, whole batch", "kv");
    var perGpu = readout(out, "Per accelerator", "per-gpu");
    var fits = readout(out, "Fits in memory?", "fits");
    var train = readout(out, "Training: model states per accelerator (Adam, mixed precision)",
                        "training");
    root.appendChild(out);

    function loadPreset() {
      if (preset.value === "custom") return;
      var c = data.presets[parseInt(preset.value, 10)].config;
      keys.forEach(function (k) { inputs[k[0]].value = c[k[0]]; });
      attn.value = c.n_kv_heads < c.n_heads ? (c.n_kv_heads === 1 ? "mqa" : "gqa") : "mha";
    }

    function config() {
      var c = {};
      keys.forEach(function (k) { c[k[0]] = Math.max(1, parseInt(inputs[k[0]].value, 10) || 1); });
      c.sliding_window = Math.max(0, parseInt(inputs.sliding_window.value, 10) || 0);
      if (attn.value === "mha") c.n_kv_heads = c.n_heads;
      if (attn.value === "mqa") c.n_kv_heads = 1;
      return c;
    }

    function update() {
      var c = config();
      inputs.n_kv_heads.disabled = attn.value !== "gqa";
      var seqLen = Math.pow(2, parseInt(seq.value, 10));
      seqOut.textContent = seqLen.toLocaleString("en-US");
      seq.setAttribute("aria-valuetext", seqLen + " tokens");
      var o = { seqLen: seqLen, batch: Math.max(1, parseInt(batch.value, 10) || 1),
                weightBytes: parseFloat(wPrec.value), kvBytes: parseFloat(kvPrec.value),
                nGpus: Math.max(1, parseInt(gpus.value, 10) || 1),
                memoryGiB: parseFloat(acc.value), stage: parseInt(stage.value, 10) };
      var r = core.servingMemory(c, o);
      var perTok = core.kvCacheBytes(c.n_layers, c.n_kv_heads, c.dim / c.n_heads, 1, 1, o.kvBytes);
      setValue(params, core.formatCount(r.nParams) + " (" + r.nParams.toLocaleString("en-US") + ")",
               r.nParams);
      setValue(weights, core.formatBytes(r.weights), r.weights);
      setValue(kvTok, core.formatBytes(perTok), perTok);
      var cached = c.sliding_window ? Math.min(seqLen, c.sliding_window) : seqLen;
      setValue(cachedTok, cached.toLocaleString("en-US") + (cached < seqLen ?
               " (rolling buffer of the sliding window)" : ""), cached);
      setValue(kv, core.formatBytes(r.kv), r.kv);
      setValue(perGpu, core.formatBytes(r.perGpu) + " of " + o.memoryGiB + " GiB", r.perGpu);
      setValue(fits, r.fits ? "yes" : "no", r.fits);
      fits.className = "fmref-w-value " + (r.fits ? "fmref-w-ok" : "fmref-w-bad");
      setValue(train, core.formatBytes(r.training) + " (ZeRO-" + o.stage + ", " + o.nGpus +
               " accelerator" + (o.nGpus > 1 ? "s" : "") + ")", r.training);
      clear(bar);
      var cap = o.memoryGiB * Math.pow(2, 30), full = Math.max(cap, r.perGpu) * 1.05;
      var wPart = r.weights / o.nGpus / full * 340, kvPart = r.kv / o.nGpus / full * 340;
      bar.appendChild(svg("rect", { x: 10, y: 8, width: wPart, height: 18, class: "fmref-w-bar" }));
      bar.appendChild(svg("rect", { x: 10 + wPart, y: 8, width: kvPart, height: 18,
                                    class: "fmref-w-bar fmref-w-bar-kv" }));
      var xc = 10 + cap / full * 340;
      bar.appendChild(svg("line", { x1: xc, x2: xc, y1: 2, y2: 32, class: "fmref-w-marker" }));
      bar.appendChild(svg("text", { x: 10, y: 40, class: "fmref-w-tick" },
                          "weights (blue), KV cache (orange); line: " + o.memoryGiB + " GiB"));
    }
    preset.addEventListener("change", function () { loadPreset(); update(); });
    keys.forEach(function (k) {
      inputs[k[0]].addEventListener("input", function () { preset.value = "custom"; update(); });
    });
    [attn, seq, batch, wPrec, kvPrec, acc, gpus, stage].forEach(function (c) {
      c.addEventListener("input", update);
      c.addEventListener("change", update);
    });
    loadPreset();
    update();
  }

  // ---------------------------------------------------------------------------
  // 4. Scaling laws (Chapter X)
  // ---------------------------------------------------------------------------
  function scaling(root, data, id) {
    var rows = data.rows;
    var controls = el("div", { class: "fmref-w-controls" });
    var cOut = el("output");
    var budget = field(controls, id + "-compute", "Compute budget C (FLOPs)",
                       range(0, rows.length - 1, 1, data.default_index), cOut);
    root.appendChild(controls);
    var table = el("table", { class: "fmref-w-table" });
    var head = el("tr", {}, ["allocation", "N params", "D tokens", "D/N", "loss"].map(
      function (h, i) { return el("th", { scope: "col", class: i === 3 ? "fmref-w-wide" : null },
                                  [h]); }));
    table.appendChild(el("thead", {}, [head]));
    var body = el("tbody", { "aria-live": "polite" });
    table.appendChild(body);
    root.appendChild(el("div", { class: "fmref-w-scroll" }, [table]));
    var plot = svg("svg", { class: "fmref-w-chart", role: "img",
                            "aria-label": "Compute-optimal parameters against compute" });
    root.appendChild(plot);
    var names = [["chinchilla", "Chinchilla"], ["rule20", "20 tokens/param"],
                 ["kaplan", "Kaplan"]];

    function update() {
      var r = rows[parseInt(budget.value, 10)];
      var text = "1e" + r.log10_c.toFixed(1);
      cOut.textContent = sci(Math.pow(10, r.log10_c));
      budget.setAttribute("aria-valuetext", cOut.textContent + " FLOPs");
      clear(body);
      names.forEach(function (n) {
        var v = r[n[0]];
        body.appendChild(el("tr", { "data-allocation": n[0], "data-n": v[0], "data-d": v[1],
                                    "data-loss": v[2] }, [
          el("th", { scope: "row" }, [n[1]]), el("td", {}, [core.formatCount(v[0])]),
          el("td", {}, [core.formatCount(v[1])]),
          el("td", { class: "fmref-w-wide" }, [(v[1] / v[0]).toFixed(1)]),
          el("td", {}, [v[2].toFixed(3)])
        ]));
      });
      linePlot(plot, names.map(function (n) {
        return { label: n[1], points: rows.map(function (q) {
          return [q.log10_c, Math.log10(q[n[0]][0])]; }) };
      }), {
        x0: 18, x1: 26, y0: 7, y1: 13, marker: r.log10_c,
        xticks: [[18, "1e18"], [20, "1e20"], [22, "1e22"], [24, "1e24"], [26, "1e26"]],
        yticks: [[7, "10M"], [9, "1B"], [11, "100B"], [13, "10T"]],
        xlabel: "compute C (FLOPs)", ylabel: "parameters N",
        dots: names.map(function (n, k) { return [r.log10_c, Math.log10(r[n[0]][0]), k]; })
      });
      plot.setAttribute("data-compute", text);
    }
    budget.addEventListener("input", update);
    budget.addEventListener("change", update);
    update();
    return update;
  }

  // ---------------------------------------------------------------------------
  // 5. Diffusion (Chapter XVII)
  // ---------------------------------------------------------------------------
  function decode(b64) {
    var s = atob(b64), out = new Uint8Array(s.length);
    for (var i = 0; i < s.length; i++) out[i] = s.charCodeAt(i);
    return out;
  }

  function drawDigits(canvas, bytes) {
    var ctx = canvas.getContext("2d"), img = ctx.createImageData(80, 8);
    for (var k = 0; k < 10; k++) {
      for (var r = 0; r < 8; r++) {
        for (var c = 0; c < 8; c++) {
          var v = 255 - bytes[k * 64 + r * 8 + c], p = 4 * (r * 80 + k * 8 + c);
          img.data[p] = img.data[p + 1] = img.data[p + 2] = v;
          img.data[p + 3] = 255;
        }
      }
    }
    ctx.putImageData(img, 0, 0);
  }

  function diffusion(root, data, id) {
    var frames = data.frames;
    var controls = el("div", { class: "fmref-w-controls" });
    var tOut = el("output");
    var step = field(controls, id + "-timestep", "Timestep t",
                     range(0, frames.length - 1, 1, 11), tOut);
    root.appendChild(controls);
    var rows = [["linear", "Forward q(x\u209c | x\u2080), linear schedule"],
                ["cosine", "Forward q(x\u209c | x\u2080), cosine schedule"],
                ["reverse", "Reverse: the trained U-Net (linear schedule), DDIM with " +
                 data.steps + " steps, guidance " + data.guidance + ", classes 0 to 9"]];
    var canvases = {};
    rows.forEach(function (r) {
      var canvas = el("canvas", { width: 80, height: 8, class: "fmref-w-digits", role: "img",
                                  "aria-label": r[1] });
      canvases[r[0]] = canvas;
      root.appendChild(el("div", { class: "fmref-w-digit-row" }, [
        el("span", { class: "fmref-w-label" }, [r[1]]), canvas]));
    });
    var out = el("div", { class: "fmref-w-readouts", "aria-live": "polite" });
    var lin = readout(out, "\u1fb1\u209c linear (signal variance left)", "abar-linear");
    var cos = readout(out, "\u1fb1\u209c cosine", "abar-cosine");
    root.appendChild(out);
    var plot = svg("svg", { class: "fmref-w-chart", role: "img",
                            "aria-label": "alpha-bar of the two schedules over t" });
    root.appendChild(plot);
    // U+1FB1 is a Greek alpha with macron (the bar of alpha-bar)

    function update() {
      var i = parseInt(step.value, 10), t = frames[i];
      tOut.textContent = t === null ? "x\u2080 (data; final sample)" : String(t);
      step.setAttribute("aria-valuetext", t === null ? "x0, the clean data" : "t = " + t);
      drawDigits(canvases.linear, decode(data.forward.linear[i]));
      drawDigits(canvases.cosine, decode(data.forward.cosine[i]));
      drawDigits(canvases.reverse, decode(data.reverse[i]));
      var a = t === null ? [1, 1] : [data.abar.linear[i - 1], data.abar.cosine[i - 1]];
      setValue(lin, a[0].toFixed(4), a[0]);
      setValue(cos, a[1].toFixed(4), a[1]);
      linePlot(plot, ["linear", "cosine"].map(function (name) {
        return { label: name, points: data.curve.t.map(function (tt, k) {
          return [tt, data.curve[name][k]]; }) };
      }), {
        x0: 0, x1: data.T, y0: 0, y1: 1, marker: t === null ? 0 : t,
        xticks: [[0, "0"], [250, "250"], [500, "500"], [750, "750"], [1000, "1000"]],
        yticks: [[0, "0"], [0.5, "0.5"], [1, "1"]],
        xlabel: "timestep t", ylabel: "\u1fb1\u209c",
        dots: t === null ? [] : [[t, a[0], 0], [t, a[1], 1]], legendBottom: true
      });
    }
    step.addEventListener("input", update);
    step.addEventListener("change", update);
    update();
    return update;
  }

  // ---------------------------------------------------------------------------
  // 6. Quantisation (Chapter XIV)
  // ---------------------------------------------------------------------------
  function quantization(root, data, id) {
    var controls = el("div", { class: "fmref-w-controls" });
    var bOut = el("output"), gOut = el("output");
    var bits = field(controls, id + "-bits", "Bits per weight",
                     range(0, data.bits.length - 1, 1, data.bits.indexOf(data.defaults.bits)), bOut);
    var group = field(controls, id + "-group", "Group size (weights per scale)",
                      range(0, data.groups.length - 1, 1, data.groups.indexOf(data.defaults.group)),
                      gOut);
    root.appendChild(controls);
    var hist = svg("svg", { class: "fmref-w-chart", role: "img", viewBox: "0 0 360 170",
                            "aria-label": "Histogram of the quantisation errors" });
    root.appendChild(hist);
    var out = el("div", { class: "fmref-w-readouts", "aria-live": "polite" });
    var bytes = readout(out, "Bytes (codes + fp16 scales)", "bytes");
    var ratio = readout(out, "Smaller than fp16 by", "ratio");
    var bpw = readout(out, "Bits per weight, scales included", "bits-per-weight");
    var rel = readout(out, "Relative error \u2016\u0175 \u2212 w\u2016 / \u2016w\u2016", "rel");
    var maxe = readout(out, "Largest error", "max");
    root.appendChild(out);
    root.appendChild(el("p", { class: "fmref-w-note" }, [
      "Weight: " + data.name + ", " + data.shape.join(" \u00d7 ") + " = " +
      data.n_weights.toLocaleString("en-US") + " weights; absmax codes, one scale per group " +
      "of consecutive input weights. Each bit width has its own error axis."
    ]));

    function groupLabel(g) {
      return g === "tensor" ? "whole tensor" : g === data.shape[1] ? g + " (one row)" : String(g);
    }

    function update() {
      var b = data.bits[parseInt(bits.value, 10)], g = data.groups[parseInt(group.value, 10)];
      bOut.textContent = String(b);
      gOut.textContent = groupLabel(g);
      bits.setAttribute("aria-valuetext", b + " bits");
      group.setAttribute("aria-valuetext", groupLabel(g));
      var s = data.settings.filter(function (q) { return q.bits === b && q.group === g; })[0];
      var nb = core.quantBytes(data.n_weights, b, g);
      setValue(bytes, core.formatBytes(nb), nb);
      setValue(ratio, (data.n_weights * 2 / nb).toFixed(2) + "\u00d7", data.n_weights * 2 / nb);
      setValue(bpw, (8 * nb / data.n_weights).toFixed(3), 8 * nb / data.n_weights);
      setValue(rel, s.rel_error.toFixed(4), s.rel_error);
      setValue(maxe, s.max_abs.toExponential(2), s.max_abs);
      clear(hist);
      var n = s.counts.length, top = Math.max.apply(null, s.counts), L = 10, W = 340, H = 130;
      s.counts.forEach(function (c, i) {
        var h = c / top * (H - 10);
        hist.appendChild(svg("rect", { x: L + i * W / n, y: 10 + H - 10 - h,
                                       width: W / n - 0.5, height: h, class: "fmref-w-bar" }));
      });
      hist.appendChild(svg("line", { x1: L, x2: L + W, y1: H, y2: H, class: "fmref-w-axisline" }));
      [[0, "\u2212" + s.span.toExponential(1), "start"], [0.5, "0", "middle"],
       [1, "+" + s.span.toExponential(1), "end"]].forEach(function (t) {
        hist.appendChild(svg("text", { x: L + t[0] * W, y: H + 14, "text-anchor": t[2],
                                       class: "fmref-w-tick" }, t[1]));
      });
      hist.appendChild(svg("text", { x: L + W / 2, y: H + 32, "text-anchor": "middle",
                                     class: "fmref-w-axis" },
                           "error of a weight (dequantised \u2212 original)"));
    }
    [bits, group].forEach(function (c) {
      c.addEventListener("input", update);
      c.addEventListener("change", update);
    });
    update();
  }

  // ---------------------------------------------------------------------------
  // The declarative widgets of fmref-widgets-specs.js: controls, readouts, plots
  // ---------------------------------------------------------------------------
  // Axis ticks: "nice" values in [lo, hi] (lo, hi in log10 units when log)
  function ticks(lo, hi, log) {
    var out = [];
    if (log) {
      var a = Math.ceil(lo - 1e-9), b = Math.floor(hi + 1e-9);
      var stride = Math.max(1, Math.ceil((b - a + 1) / 6));
      for (var e = a; e <= b; e += stride) out.push([e, fmtTick(Math.pow(10, e))]);
      if (out.length < 2) {  // less than a decade: label the ends
        out = [[lo, fmtTick(parseFloat(Math.pow(10, lo).toPrecision(2)))],
               [hi, fmtTick(parseFloat(Math.pow(10, hi).toPrecision(2)))]];
      }
      return out;
    }
    var span = hi - lo || 1, raw = span / 5, mag = Math.pow(10, Math.floor(Math.log10(raw)));
    var step = [1, 2, 2.5, 5, 10].map(function (m) { return m * mag; })
      .filter(function (s) { return s >= raw; })[0];
    for (var t = Math.ceil(lo / step - 1e-9) * step; t <= hi + 1e-9 * span; t += step) {
      out.push([t, fmtTick(Math.abs(t) < step * 1e-6 ? 0 : t)]);
    }
    return out;
  }

  function fmtTick(v) {
    var a = Math.abs(v);
    if (a === 0) return "0";
    if (a >= 1e4 || a < 1e-3) {
      var e = Math.floor(Math.log10(a)), m = v / Math.pow(10, e);
      return (Math.abs(m - Math.round(m)) < 1e-9 ? String(Math.round(m)) : m.toFixed(1)) +
        "e" + e;
    }
    return String(parseFloat(v.toPrecision(3)));
  }

  function autoLine(svgNode, p) {
    var tx = p.xlog ? Math.log10 : function (v) { return v; };
    var ty = p.ylog ? Math.log10 : function (v) { return v; };
    var xs = [], ys = [];
    var series = p.series.map(function (s) {
      var pts = s.points.filter(function (q) {
        return isFinite(tx(q[0])) && isFinite(ty(q[1]));
      }).map(function (q) { return [tx(q[0]), ty(q[1])]; });
      pts.forEach(function (q) { xs.push(q[0]); ys.push(q[1]); });
      return { label: s.label, points: pts };
    });
    var x0 = p.xlim ? tx(p.xlim[0]) : Math.min.apply(null, xs);
    var x1 = p.xlim ? tx(p.xlim[1]) : Math.max.apply(null, xs);
    var y0 = p.ylim ? ty(p.ylim[0]) : Math.min.apply(null, ys);
    var y1 = p.ylim ? ty(p.ylim[1]) : Math.max.apply(null, ys);
    if (y1 - y0 < 1e-12) { y0 -= 0.5; y1 += 0.5; }
    if (x1 - x0 < 1e-12) { x0 -= 0.5; x1 += 0.5; }
    if (!p.ylim && !p.ylog) { var pad = 0.05 * (y1 - y0); y0 -= pad; y1 += pad; }
    series.forEach(function (s) {  // clip to the frame
      s.points = s.points.map(function (q) { return [q[0], Math.max(y0, Math.min(y1, q[1]))]; });
    });
    linePlot(svgNode, series, {
      x0: x0, x1: x1, y0: y0, y1: y1, xticks: ticks(x0, x1, p.xlog), yticks: ticks(y0, y1, p.ylog),
      xlabel: p.xlabel, ylabel: p.ylabel, legendBottom: p.legendBottom,
      marker: p.marker === undefined ? undefined : tx(p.marker),
      dots: (p.dots || []).map(function (d) {
        return [tx(d[0]), Math.max(y0, Math.min(y1, ty(d[1]))), d[2] || 0];
      })
    });
  }

  function heatmap(svgNode, p) {
    clear(svgNode);
    var nr = p.rows.length, nc = p.rows[0].length, lab = p.labelWidth || 44;
    var cell = Math.max(14, Math.min(34, Math.floor((300 - lab) / nc)));
    var W = lab + nc * cell + 4, H = 18 + nr * cell + 4;
    svgNode.setAttribute("viewBox", "0 0 " + W + " " + H);
    svgNode.style.maxWidth = W * 1.3 + "px";
    var lo = p.vmin === undefined ? Math.min.apply(null, p.rows.map(function (r) {
      return Math.min.apply(null, r); })) : p.vmin;
    var hi = p.vmax === undefined ? Math.max.apply(null, p.rows.map(function (r) {
      return Math.max.apply(null, r); })) : p.vmax;
    (p.colLabels || []).forEach(function (t, j) {
      svgNode.appendChild(svg("text", { x: lab + j * cell + cell / 2, y: 13, "text-anchor": "middle",
                                        class: "fmref-w-tick" }, t));
    });
    p.rows.forEach(function (row, i) {
      if (p.rowLabels) {
        svgNode.appendChild(svg("text", { x: lab - 4, y: 18 + i * cell + cell * 0.65,
                                          "text-anchor": "end", class: "fmref-w-tick" },
                                p.rowLabels[i]));
      }
      row.forEach(function (v, j) {
        var f = hi > lo ? (v - lo) / (hi - lo) : 1;
        var g = svg("g", { "data-row": i, "data-col": j, "data-value": v });
        g.appendChild(svg("rect", { x: lab + j * cell, y: 18 + i * cell, width: cell - 1,
                                    height: cell - 1, class: "fmref-w-cell",
                                    "fill-opacity": (0.06 + 0.94 * f).toFixed(3) }));
        if (p.text && cell >= 24) {
          g.appendChild(svg("text", { x: lab + j * cell + cell / 2, y: 18 + i * cell + cell * 0.62,
                                      "text-anchor": "middle",
                                      class: "fmref-w-tick fmref-w-cellnum" + (f > 0.55 ?
                                        " fmref-w-on-dark" : "") }, p.text(v)));
        }
        svgNode.appendChild(g);
      });
    });
    if (p.highlight) {
      var hl = p.highlight;
      svgNode.appendChild(svg("rect", { x: lab + (hl[1] === null ? 0 : hl[1] * cell) - 1,
                                        y: 18 + hl[0] * cell - 1,
                                        width: (hl[1] === null ? nc : 1) * cell + 1,
                                        height: cell + 1, class: "fmref-w-outline" }));
    }
  }

  // rows of [label, start, end, text, kind] bars on a shared time axis (a pipeline's passes)
  function gantt(svgNode, p) {
    clear(svgNode);
    var lab = 56, W = 380, rowH = 20, H = 16 + p.rows.length * rowH + 18;
    var end = p.end || 1, sx = function (t) { return lab + (W - lab - 4) * t / end; };
    svgNode.setAttribute("viewBox", "0 0 " + W + " " + H);
    p.rows.forEach(function (row, r) {
      var y = 8 + r * rowH;
      svgNode.appendChild(svg("text", { x: lab - 4, y: y + rowH * 0.65, "text-anchor": "end",
                                        class: "fmref-w-tick" }, row.label));
      row.bars.forEach(function (b) {
        var g = svg("g", { "data-kind": b[2] });
        g.appendChild(svg("rect", { x: sx(b[0]), y: y + 2, width: Math.max(1, sx(b[1]) - sx(b[0]) - 1),
                                    height: rowH - 4, class: "fmref-w-cell",
                                    "fill-opacity": b[2] === "F" ? "0.35" : "0.85" }));
        if (sx(b[1]) - sx(b[0]) >= 14) {
          g.appendChild(svg("text", { x: (sx(b[0]) + sx(b[1])) / 2, y: y + rowH * 0.65,
                                      "text-anchor": "middle",
                                      class: "fmref-w-tick fmref-w-cellnum" +
                                        (b[2] === "B" ? " fmref-w-on-dark" : "") }, b[3]));
        }
        svgNode.appendChild(g);
      });
    });
    svgNode.appendChild(svg("text", { x: W - 4, y: H - 4, "text-anchor": "end",
                                      class: "fmref-w-tick" }, p.xlabel || "time"));
  }

  function drawDigitGrid(canvas, p) {
    var n = p.size, scale = p.scale || 1, ctx = canvas.getContext("2d");
    canvas.width = n * p.images.length * scale + (p.images.length - 1) * scale;
    canvas.height = n * scale;
    var img = ctx.createImageData(canvas.width, canvas.height);
    p.images.forEach(function (px, k) {
      var off = k * (n + 1) * scale;
      for (var y = 0; y < n * scale; y++) {
        for (var x = 0; x < n * scale; x++) {
          var v = 255 - px[Math.floor(y / scale) * n + Math.floor(x / scale)];
          var q = 4 * (y * canvas.width + off + x);
          var line = p.grid && ((x % (p.grid * scale) === 0 && x > 0) ||
                                (y % (p.grid * scale) === 0 && y > 0));
          img.data[q] = line ? 214 : v;
          img.data[q + 1] = line ? 39 : v;
          img.data[q + 2] = line ? 40 : v;
          img.data[q + 3] = 255;
        }
      }
    });
    ctx.putImageData(img, 0, 0);
    canvas.style.aspectRatio = canvas.width + " / " + canvas.height;
    canvas.style.maxWidth = Math.min(520, canvas.width * (p.cssScale || 6)) + "px";
  }

  function drawPlot(box, p) {
    var node;
    if (p.type === "line" || p.type === "bars" || p.type === "heatmap") {
      node = svg("svg", { class: p.type === "heatmap" ? "fmref-w-heatmap" : "fmref-w-chart",
                          role: "img", "aria-label": p.title || p.ylabel || "chart" });
      box.appendChild(node);
      if (p.type === "line") autoLine(node, p);
      else if (p.type === "heatmap") heatmap(node, p);
      else {
        var top = p.max || Math.max.apply(null, p.items.map(function (it) { return it.value; }));
        barRows(node, p.items.map(function (it, i) {
          return { index: i, label: it.label, value: top > 0 ? it.value / top : 0, text: it.text,
                   highlight: it.highlight, muted: it.muted };
        }), 360, { labelWidth: p.labelWidth || 90, valueWidth: p.valueWidth || 74 });
      }
    } else if (p.type === "tokens") {
      node = el("div", { class: "fmref-w-tokens", role: "list",
                         "aria-label": p.title || "tokens" });
      p.items.forEach(function (it) {
        node.appendChild(el("span", { class: "fmref-w-token fmref-w-t" + (it.cls || 0),
                                      role: "listitem", title: it.title || null },
                            [it.text]));
      });
      box.appendChild(node);
    } else if (p.type === "log") {
      node = el("ol", { class: "fmref-w-log" });
      p.items.forEach(function (it) {
        node.appendChild(el("li", { class: it.current ? "fmref-w-current" : null }, [
          el("span", { class: "fmref-w-tag" }, [it.tag]), " " + it.text]));
      });
      box.appendChild(node);
    } else if (p.type === "gantt") {
      node = svg("svg", { class: "fmref-w-chart", role: "img",
                          "aria-label": p.title || "timeline" });
      box.appendChild(node);
      gantt(node, p);
    } else if (p.type === "digits") {
      node = el("canvas", { class: "fmref-w-pixels", role: "img",
                            "aria-label": p.title || "images" });
      box.appendChild(node);
      drawDigitGrid(node, p);
    }
    if (p.title && node) {
      box.insertBefore(el("div", { class: "fmref-w-plot-title" }, [p.title]), node);
    }
  }

  function specWidget(spec) {
    return function (root, data, id) {
      var ctls = typeof spec.controls === "function" ? spec.controls(data) : spec.controls;
      var controls = el("div", { class: "fmref-w-controls" });
      var inputs = {};
      ctls.forEach(function (c) {
        var input, out = null;
        if (c.type === "select") {
          input = select(c.options, c.value);
        } else if (c.type === "checkbox") {
          input = el("input", { type: "checkbox" });
          input.checked = !!c.value;
        } else if (c.type === "text") {
          input = el("input", { type: "text", value: c.value, spellcheck: "false",
                                autocomplete: "off", class: "fmref-w-text" });
        } else if (c.type === "number") {
          input = el("input", { type: "number", min: c.min, max: c.max, step: c.step,
                                value: c.value });
        } else {
          input = range(c.min, c.max, c.step, c.value);
          out = el("output");
        }
        field(controls, id + "-" + c.key, c.label, input, out);
        if (c.type === "checkbox") input.parentNode.classList.add("fmref-w-check");
        if (c.type === "text") input.parentNode.classList.add("fmref-w-wide-field");
        inputs[c.key] = { input: input, out: out, c: c };
        input.addEventListener("input", update);
        input.addEventListener("change", update);
      });
      root.appendChild(controls);
      var plots = el("div", { class: "fmref-w-plots" });
      var readouts = el("div", { class: "fmref-w-readouts", "aria-live": "polite" });
      var note = el("p", { class: "fmref-w-note" });
      root.appendChild(readouts);
      root.appendChild(plots);
      root.appendChild(note);
      var outs = {};

      function params() {
        var p = {};
        ctls.forEach(function (c) {
          var input = inputs[c.key].input;
          if (c.type === "checkbox") p[c.key] = input.checked;
          else if (c.type === "select" || c.type === "text") p[c.key] = input.value;
          else {
            var v = parseFloat(input.value);
            if (!isFinite(v)) v = c.value;
            if (c.min !== undefined) v = Math.max(c.min, v);
            if (c.max !== undefined) v = Math.min(c.max, v);
            p[c.key] = v;
          }
        });
        return p;
      }

      function update() {
        var p = params();
        ctls.forEach(function (c) {
          var o = inputs[c.key].out;
          if (!o) return;
          var text = c.format ? c.format(p[c.key], data) : String(p[c.key]);
          o.textContent = text;
          inputs[c.key].input.setAttribute("aria-valuetext", text);
        });
        var r = spec.compute(p, data);
        (r.out || []).forEach(function (o) {
          if (!outs[o[0]]) outs[o[0]] = readout(readouts, o[1], o[0]);
          setValue(outs[o[0]], o[3], o[2]);
        });
        clear(plots);
        (r.plots || []).forEach(function (q) { drawPlot(plots, q); });
        note.textContent = r.note || "";
      }
      update();
      return update;
    };
  }

  var WIDGETS = { attention: attention, sampling: sampling, "kv-cache": kvCache,
                  scaling: scaling, diffusion: diffusion, quantization: quantization };
  var SPECS = (window.FmrefWidgetsSpecs || {}).SPECS || {};
  Object.keys(SPECS).forEach(function (name) { WIDGETS[name] = specWidget(SPECS[name]); });

  function init() {
    Array.prototype.forEach.call(document.querySelectorAll(".fmref-widget"), function (root) {
      var name = root.getAttribute("data-widget");
      var script = root.querySelector("script.fmref-widget-data");
      if (!WIDGETS[name] || !script || root.getAttribute("data-ready")) return;
      var data = JSON.parse(script.textContent);
      var update = WIDGETS[name](root, data, root.id);
      if (update) updates.push(update);
      root.setAttribute("data-ready", "true");
    });
  }

  // Redraw after a resize, so that the SVG text keeps its size on any screen
  var updates = [], pending = null;
  window.addEventListener("resize", function () {
    if (pending) window.clearTimeout(pending);
    pending = window.setTimeout(function () {
      updates.forEach(function (u) { u(); });
    }, 100);
  });

  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", init);
  } else {
    init();
  }
})();
