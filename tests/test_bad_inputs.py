"""Every public callable of fmref refuses bad input with an error that names the argument.

The public callables are found by walking the package (every public module's
public functions and classes), so a new one fails
``test_every_public_callable_is_walked`` until it is given a row in ``CASES``
(bad inputs: NaN/inf tensors, empty tensors, zero and negative sizes, wrong
dtypes and types) or a line in ``EXEMPT`` that says why it has none.
"""

import importlib
import inspect
import pkgutil

import pytest
import torch

import fmref

# --- bad inputs ----------------------------------------------------------------


def nan(*shape):
    t = torch.randn(*shape, generator=torch.Generator().manual_seed(0))
    t.view(-1)[0] = float("nan")
    return t


def inf(*shape):
    t = torch.randn(*shape, generator=torch.Generator().manual_seed(0))
    t.view(-1)[-1] = float("inf")
    return t


def rand(*shape):
    return torch.randn(*shape, generator=torch.Generator().manual_seed(0))


def ids(*shape, high=5):
    return torch.randint(0, high, shape, generator=torch.Generator().manual_seed(0))


E = torch.zeros(0)  # an empty tensor
INT = torch.ones(2, 3, dtype=torch.long)  # a wrong dtype where floats are expected


def _gpt(**kw):
    from fmref.models.gpt import GPT, GPTConfig

    return GPT(
        GPTConfig(**{**dict(vocab_size=11, block_size=8, n_layer=1, n_head=2, n_embd=8), **kw})
    )


def _llama_cfg(**kw):
    from fmref.models.llama import LlamaConfig

    base = dict(vocab_size=11, dim=8, n_layers=1, n_heads=2, n_kv_heads=1, hidden_dim=16,
                max_seq_len=8)  # fmt: skip
    return LlamaConfig(**{**base, **kw})


def _mamba_cfg(**kw):
    from fmref.models.mamba import MambaConfig

    return MambaConfig(**{**dict(vocab_size=11, d_model=8, n_layer=1, max_seq_len=8), **kw})


def _deepseek_cfg(**kw):
    import dataclasses

    from fmref.models.deepseek import deepseek_tiny

    return dataclasses.replace(deepseek_tiny(), **kw)


def _deepseek_model():
    from fmref.models.deepseek import DeepSeekV3

    return DeepSeekV3(_deepseek_cfg(num_nextn_predict_layers=1))


# One row per callable: (call, name the message must contain). Each call gets the
# callable and passes one bad argument; it must raise ValueError or TypeError.
CASES = {
    # agents
    "fmref.agents.calculator.evaluate": [(lambda f: f(3), "expression")],
    "fmref.agents.calculator.calculator": [(lambda f: f(3), "expression")],
    "fmref.agents.memory.count_words": [(lambda f: f(3), "text")],
    "fmref.agents.memory.truncating_summary": [(lambda f: f("", [], max_words=0), "max_words")],
    "fmref.agents.memory.ConversationBuffer": [(lambda f: f(0), "max_tokens")],
    "fmref.agents.parse.format_tool_call": [(lambda f: f(3, {}), "name")],
    "fmref.agents.parse.parse_tool_call": [(lambda f: f(3), "text")],
    "fmref.agents.plan.plan_and_execute": [
        (lambda f: f(lambda s: s, {}, "q", max_steps=0), "max_steps")
    ],
    "fmref.agents.policy.ModelPolicy": [(lambda f: f(_gpt(), max_new_tokens=0), "max_new_tokens")],
    "fmref.agents.policy.success_rate": [(lambda f: f(lambda s: s, n=0), "n")],
    "fmref.agents.policy.train_react_policy": [(lambda f: f(stepz=10), "overrides")],
    "fmref.agents.react.ScriptedPolicy": [(lambda f: f("not a list"), "outputs")],
    "fmref.agents.react.as_observation": [(lambda f: f("x", max_chars=0), "max_chars")],
    "fmref.agents.react.execute_call": [(lambda f: f("call", None), "call")],
    "fmref.agents.react.run_agent": [(lambda f: f(lambda s: s, {}, "q", max_steps=0), "max_steps")],
    "fmref.agents.tools.json_schema_of": [(lambda f: f(object), "annotation")],
    "fmref.agents.tools.validate_arguments": [(lambda f: f([], {"type": "object"}), "arguments")],
    "fmref.agents.tools.Tool": [(lambda f: f("", "d", {}, print), "name")],
    "fmref.agents.tools.ToolRegistry": [(lambda f: f([3]), "tools")],
    "fmref.agents.guard.luhn_valid": [(lambda f: f(4111), "number")],
    "fmref.agents.guard.iban_valid": [(lambda f: f(3), "iban")],
    "fmref.agents.guard.redact": [(lambda f: f("x", kinds=["shoe_size"]), "kinds")],
    "fmref.agents.guard.injection_rules": [(lambda f: f(3), "text")],
    "fmref.agents.guard.injection_examples": [(lambda f: f(n=0), "n")],
    "fmref.agents.guard.InjectionDetector": [(lambda f: f(threshold=1.5), "threshold")],
    "fmref.agents.guard.detection_scores": [(lambda f: f([True], [1, 0]), "labels")],
    "fmref.agents.guard.ToolPolicy": [(lambda f: f(3), "allow")],
    "fmref.agents.guard.Guard": [(lambda f: f(policy=3), "policy")],
    "fmref.agents.mcp.request": [(lambda f: f(3), "method")],
    "fmref.agents.mcp.notification": [(lambda f: f(3), "method")],
    "fmref.agents.mcp.result_response": [(lambda f: f(1, 3), "result")],
    "fmref.agents.mcp.error_response": [(lambda f: f(1, "x", "m"), "code")],
    "fmref.agents.mcp.encode": [(lambda f: f(3), "message")],
    "fmref.agents.mcp.decode": [(lambda f: f(3), "line")],
    "fmref.agents.mcp.check_input_schema": [(lambda f: f(3), "inputSchema")],
    "fmref.agents.mcp.MCPServer": [(lambda f: f([3]), "tools")],
    "fmref.agents.mcp.MCPClient": [(lambda f: f([]), "command")],
    "fmref.agents.traces.word_problem": [(lambda f: f(3), "rng")],
    "fmref.agents.traces.react_transcript": [(lambda f: f(3), "problem")],
    # align
    "fmref.align.dpo.dpo_loss": [
        (lambda f: f(E, E, E, E), "policy_chosen_logps"),
        (lambda f: f(INT[0], INT[0], INT[0], INT[0]), "policy_chosen_logps"),
        (lambda f: f(*[rand(2)] * 4, beta=0), "beta"),
    ],
    "fmref.align.grpo.grpo_advantages": [(lambda f: f(rand(4), 1), "group_size")],
    "fmref.align.grpo.grpo_loss": [
        (lambda f: f(rand(2, 3), rand(2, 3), rand(2), torch.zeros(2, 3, dtype=torch.bool),
                     kl_coef=0), "mask"),
        (lambda f: f(INT, INT, rand(2), torch.ones(2, 3, dtype=torch.bool)), "logp"),
    ],
    "fmref.align.prm.TokenScorer": [(lambda f: f(3), "gpt")],
    "fmref.align.prm.train_reward_models": [(lambda f: f(stepz=3), "overrides")],
    "fmref.align.prm.outcome_scores": [(lambda f: f(None, [], []), "responses")],
    "fmref.align.prm.process_scores": [
        (lambda f: f(None, [[1]], [[]]), "responses"),
        (lambda f: f(None, [[1]], [[1]], aggregate="mean"), "aggregate"),
    ],
    "fmref.align.rlvr.sample_responses": [
        (lambda f: f(_gpt(), [], 2), "prompts"),
        (lambda f: f(_gpt(), [[1]], 0), "n"),  # N < 1
    ],
    "fmref.align.rlvr.response_logprobs": [(lambda f: f(_gpt(), [[1]], [[]]), "responses")],
    "fmref.align.rlvr.accuracy": [
        (lambda f: f(_gpt(), n=0), "n"),
        (lambda f: f(_gpt(), samples=0), "samples"),
    ],
    "fmref.align.rlvr.train_rlvr": [
        (lambda f: f(group_size=1), "group_size"),
        (lambda f: f(base=_gpt()), "use_cache"),
    ],
    "fmref.align.verifiable.is_held_out": [(lambda f: f([4]), "digits")],
    "fmref.align.verifiable.sum_problem": [
        (lambda f: f(3), "rng"),
        (lambda f: f(__import__("random").Random(0), min_terms=1), "min_terms"),
    ],
    "fmref.align.verifiable.worked_response": [(lambda f: f([4, 7], slip_at=1), "slip_at")],
    "fmref.align.verifiable.verify": [
        (lambda f: f([4, 12], [4]), "digits"),
        (lambda f: f([4, 7], [105]), "response"),
    ],
    "fmref.align.verifiable.step_labels": [(lambda f: f([4, 7], "answer 11"), "response")],
    "fmref.align.verifiable.train_base_model": [(lambda f: f(stepz=3), "overrides")],
    "fmref.align.ppo.gae": [(lambda f: f(rand(3), rand(4), gamma=1.5), "gamma")],
    "fmref.align.ppo.ppo_clip_loss": [
        (lambda f: f(rand(3), rand(3), rand(3), clip_eps=0), "clip_eps")
    ],
    "fmref.align.ppo.kl_penalty": [(lambda f: f(rand(3), rand(3), estimator="k9"), "estimator")],
    "fmref.align.reward.bradley_terry_loss": [(lambda f: f(INT[0], INT[0]), "reward_chosen")],
    "fmref.align.sft.format_chat": [(lambda f: f("hello"), "messages")],
    "fmref.align.sft.tokenize_chat": [(lambda f: f("hello", list), "messages")],
    "fmref.align.sft.sft_loss": [(lambda f: f(INT, INT, INT), "logits")],
    "fmref.align.sft.sequence_logprobs": [(lambda f: f(INT, INT, INT), "logits")],
    # autograd
    "fmref.autograd.engine.Value": [(lambda f: f("x"), "data")],
    "fmref.autograd.engine.Neuron": [(lambda f: f(0), "n_in")],
    "fmref.autograd.engine.Layer": [(lambda f: f(2, 0), "n_out")],
    "fmref.autograd.engine.MLP": [(lambda f: f(2, [0]), "sizes")],
    "fmref.autograd.manual.linear_backward": [(lambda f: f(INT, rand(2, 3), rand(2, 2)), "x")],
    "fmref.autograd.manual.cross_entropy_backward": [(lambda f: f(INT, INT[:, 0]), "logits")],
    "fmref.autograd.manual.layer_norm_backward": [(lambda f: f(INT, rand(3), rand(2, 3)), "x")],
    # compress
    "fmref.compress.apply.compress_weights": [(lambda f: f(_gpt(), "int3"), "method")],
    "fmref.compress.apply.lm_perplexity": [(lambda f: f(_gpt(), rand(1, 4)), "ids")],
    "fmref.compress.apply.tiny_gpt_quantization": [(lambda f: f(calib_windowz=8), "overrides")],
    "fmref.compress.awq.awq_scales": [
        (lambda f: f(rand(4, 8), rand(0, 8), group_size=4), "x_calib"),
        (lambda f: f(rand(4, 8), rand(3, 8), group_size=4, grid=0), "grid"),
    ],
    "fmref.compress.awq.awq_quantize": [(lambda f: f(rand(4, 8), rand(3, 8), bits=5), "bits")],
    "fmref.compress.fp8.quantize_fp8": [
        (lambda f: f(nan(4)), "x"),
        (lambda f: f(rand(4), fmt="e3m4"), "fmt"),
        (lambda f: f(rand(2, 6), group_size=4), "group_size"),
    ],
    "fmref.compress.fp8.dequantize_fp8": [(lambda f: f(rand(4), torch.tensor(1.0)), "values")],
    "fmref.compress.fp8.FP8Linear": [(lambda f: f(rand(4, 8), fmt="int8"), "fmt")],
    "fmref.compress.gptq.rtn_quantize": [(lambda f: f(rand(4, 8), group_size=3), "group_size")],
    "fmref.compress.gptq.gptq_quantize": [
        (lambda f: f(rand(4, 8), rand(0, 8), group_size=4), "x_calib"),
        (lambda f: f(rand(4, 8), rand(3, 8), bits=5), "bits"),
        (lambda f: f(rand(4, 8), rand(3, 8), group_size=6), "group_size"),
        (lambda f: f(inf(4, 8), rand(3, 8), group_size=4), "w"),
    ],
    "fmref.compress.distill.distillation_loss": [
        (lambda f: f(rand(2, 3), rand(2, 3), temperature=0), "temperature")
    ],
    "fmref.compress.nf4.nf4_bits_per_parameter": [(lambda f: f(group_size=0), "group_size")],
    "fmref.compress.nf4.quantize_nf4": [(lambda f: f(nan(64)), "w"), (lambda f: f(INT), "w")],
    "fmref.compress.nf4.dequantize_nf4": [(lambda f: f(rand(3)), "q")],
    "fmref.compress.outliers.int8_matmul": [(lambda f: f(nan(2, 3), rand(4, 3)), "x")],
    "fmref.compress.outliers.outlier_columns": [
        (lambda f: f(rand(2, 3), threshold=-1), "threshold")
    ],
    "fmref.compress.outliers.llm_int8_matmul": [(lambda f: f(inf(2, 3), rand(4, 3)), "x")],
    "fmref.compress.outliers.smoothquant_scales": [
        (lambda f: f(rand(3).abs(), rand(3).abs(), alpha=2.0), "alpha")
    ],
    "fmref.compress.outliers.smooth": [(lambda f: f(rand(2, 3), rand(4, 3), E), "scales")],
    "fmref.compress.prune.sparsity": [(lambda f: f(3), "w")],
    "fmref.compress.prune.magnitude_prune": [(lambda f: f(rand(4, 4), 1.5), "sparsity")],
    "fmref.compress.prune.prune_2_4": [(lambda f: f(rand(4, 3)), "w")],
    "fmref.compress.prune.wanda_score": [(lambda f: f(rand(4, 3), rand(2, 5)), "x")],
    "fmref.compress.prune.wanda_prune": [(lambda f: f(rand(4, 4), rand(2, 4), -0.1), "sparsity")],
    "fmref.compress.quant.quantize_absmax": [
        (lambda f: f(inf(3)), "w"),
        (lambda f: f(nan(3)), "w"),
        (lambda f: f(INT), "w"),
        (lambda f: f(rand(3), bits=0), "bits"),
    ],
    "fmref.compress.quant.dequantize_absmax": [(lambda f: f(rand(3), torch.tensor(1.0)), "codes")],
    "fmref.compress.quant.quantize_zeropoint": [(lambda f: f(nan(3)), "w")],
    "fmref.compress.quant.dequantize_zeropoint": [
        (lambda f: f(rand(3), torch.tensor(1.0), torch.tensor(0)), "codes")
    ],
    "fmref.compress.quant.quantize_groupwise": [
        (lambda f: f(rand(2, 8), group_size=0), "group_size")
    ],
    "fmref.compress.quant.dequantize_groupwise": [
        (lambda f: f(INT, rand(2, 1), group_size=0), "group_size")
    ],
    "fmref.compress.quant.QuantLinear": [(lambda f: f(rand(2, 4), bits=3), "bits")],
    # data
    "fmref.data.contamination.ngrams": [(lambda f: f("a b c", n=0), "n")],
    "fmref.data.contamination.build_ngram_index": [(lambda f: f(["a b"], n=-1), "n")],
    "fmref.data.contamination.overlap_fraction": [(lambda f: f("a b", set(), n=0), "n")],
    "fmref.data.contamination.find_contaminated": [(lambda f: f(["a"], ["a"], n=0), "n")],
    "fmref.data.dedup.normalize_text": [(lambda f: f(3), "text")],
    "fmref.data.dedup.text_hash": [(lambda f: f(3), "text")],
    "fmref.data.dedup.exact_duplicates": [(lambda f: f("abc"), "docs")],
    "fmref.data.dedup.perturb": [(lambda f: f("a b c", n_edits=-1), "n_edits")],
    "fmref.data.filters.quality_signals": [(lambda f: f(3), "text")],
    "fmref.data.filters.quality_filter": [(lambda f: f("a b", min_words=-1), "min_words")],
    "fmref.data.filters.filter_corpus": [(lambda f: f("abc"), "docs")],
    "fmref.data.minhash.shingles": [(lambda f: f("a b", shingle=0), "shingle")],
    "fmref.data.minhash.jaccard": [(lambda f: f("ab", {1}), "a")],
    "fmref.data.minhash.minhash_signature": [(lambda f: f("a b", num_perm=0), "num_perm")],
    "fmref.data.minhash.estimate_jaccard": [(lambda f: f(INT[0], INT[0, :2]), "sig_b")],
    "fmref.data.minhash.lsh_params": [(lambda f: f(1.5), "threshold")],
    "fmref.data.minhash.candidate_pairs": [(lambda f: f([INT[0]], 0, 3), "bands")],
    "fmref.data.minhash.near_duplicates": [(lambda f: f(["a"], threshold=0.0), "threshold")],
    "fmref.data.quality.hashed_ngram_features": [(lambda f: f(["a"], dim=0), "dim"),
                                                  (lambda f: f("abc", dim=4), "texts")],
    "fmref.data.quality.NgramClassifier": [(lambda f: f(dim=-1), "dim")],
    "fmref.data.quality.doc_paragraphs": [(lambda f: f("test"), "split")],
    "fmref.data.quality.junk_snippets": [(lambda f: f(2, "ads"), "kind"),
                                         (lambda f: f(-1, "spam"), "n"),
                                         (lambda f: f(1, "spam", source=[]), "source")],
    "fmref.data.quality.quality_examples": [(lambda f: f(3), "n"),
                                            (lambda f: f(4, kinds=[]), "kinds")],
    "fmref.data.quality.web_crawl": [(lambda f: f(10, junk_fraction=1.5), "junk_fraction"),
                                     (lambda f: f(5000, junk_fraction=0.0), "n_docs")],
    "fmref.data.quality.perplexity_scores": [(lambda f: f("abc", None, None), "docs")],
    "fmref.data.quality.filtering_effect": [(lambda f: f(stepz=3), "overrides")],
    "fmref.data.mixing.temperature_weights": [(lambda f: f([1, 2], temperature=0), "temperature"),
                                              (lambda f: f([1, -2]), "sizes")],
    "fmref.data.mixing.mixture_counts": [(lambda f: f([0.5, 0.5], 0), "n"),
                                         (lambda f: f([0, 0], 3), "weights")],
    "fmref.data.mixing.epochs_per_source": [(lambda f: f([1, 2], [1], 10), "weights"),
                                            (lambda f: f([1], [1], -1), "total")],
    "fmref.data.mixing.doremi_update": [(lambda f: f([0.5, 0.5], [1.0]), "excess_losses"),
                                        (lambda f: f([0.5, 0.5], [0, 1], smoothing=2),
                                         "smoothing")],
    "fmref.data.synthetic.lcs_length": [(lambda f: f(["a"], 3), "b")],
    "fmref.data.synthetic.rouge_l": [(lambda f: f(3, "a"), "candidate")],
    "fmref.data.synthetic.self_instruct": [(lambda f: f(lambda p, r: "x", ["a"], 1), "seed_tasks"),
                                           (lambda f: f(3, ["a", "b", "c"], 1), "generate")],
    "fmref.data.packing.pack_documents": [(lambda f: f([[1, 2]], 0, sep_id=3), "block_size")],
    "fmref.data.packing.document_mask": [(lambda f: f(rand(4)), "doc_ids")],
    "fmref.data.packing.document_positions": [(lambda f: f(rand(4)), "doc_ids")],
    "fmref.data.packing.padding_fraction": [(lambda f: f([3, 4], 0), "block_size")],
    # diffusion
    "fmref.diffusion.denoisers.timestep_embedding": [(lambda f: f(torch.tensor([1]), 3), "dim")],
    "fmref.diffusion.denoisers.MLPDenoiser": [(lambda f: f(data_dim=0), "data_dim")],
    "fmref.diffusion.denoisers.TinyUNet": [(lambda f: f(in_channels=0), "in_channels")],
    "fmref.diffusion.denoisers.DigitsDiffusionConfig": [(lambda f: f(T=0), "T")],
    "fmref.diffusion.denoisers.digits_denoiser": [(lambda f: f(config=3), "config")],
    "fmref.diffusion.denoisers.swiss_roll_denoiser": [(lambda f: f(stepz=2), "overrides")],
    "fmref.diffusion.guidance.classifier_free_guidance": [
        (lambda f: f(rand(3), rand(3), float("nan")), "scale")
    ],
    "fmref.diffusion.guidance.drop_condition": [
        (lambda f: f(INT[0], 1.5, null_label=10), "p_uncond")
    ],
    "fmref.diffusion.samplers.ddpm_loss": [
        (lambda f: f(lambda x, t: x, rand(2, 3), E), "alphas_cumprod")
    ],
    "fmref.diffusion.samplers.predict_x0": [
        (lambda f: f(rand(3), 99, rand(3), torch.linspace(0.9, 0.1, 10)), "t")
    ],
    "fmref.diffusion.samplers.ddpm_step": [
        (lambda f: f(rand(3), -1, rand(3), torch.linspace(0.9, 0.1, 10)), "t")
    ],
    "fmref.diffusion.samplers.ddim_step": [
        (lambda f: f(rand(3), 5, 6, rand(3), torch.linspace(0.9, 0.1, 10)), "t_prev")
    ],
    "fmref.diffusion.samplers.inference_timesteps": [(lambda f: f(10, 0), "steps")],
    "fmref.diffusion.samplers.sample": [
        (lambda f: f(lambda x, t: x, (1, 2), torch.linspace(0.9, 0.1, 10), sampler="x"), "sampler")
    ],
    "fmref.diffusion.schedules.linear_beta_schedule": [(lambda f: f(T=0), "T")],
    "fmref.diffusion.schedules.cosine_beta_schedule": [(lambda f: f(T=-1), "T")],
    "fmref.diffusion.schedules.beta_schedule": [(lambda f: f("quadratic"), "name")],
    "fmref.diffusion.schedules.alphas_cumprod": [(lambda f: f(nan(4)), "betas")],
    "fmref.diffusion.schedules.signal_to_noise": [(lambda f: f(E), "alphas_cumprod")],
    "fmref.diffusion.schedules.q_sample": [
        (lambda f: f(rand(3), 20, rand(3), torch.linspace(0.9, 0.1, 10)), "t")
    ],
    # eval
    "fmref.eval.bootstrap.bootstrap_ci": [
        (lambda f: f([]), "scores"),
        (lambda f: f([1.0, float("nan")]), "scores"),
        (lambda f: f([1.0, 0.0], n_resamples=0), "n_resamples"),
    ],
    "fmref.eval.bootstrap.paired_bootstrap": [(lambda f: f([1.0], [1.0, 0.0]), "scores_b")],
    "fmref.eval.bootstrap.mcnemar": [(lambda f: f([True], [True, False]), "correct_b")],
    "fmref.eval.bootstrap.required_items": [(lambda f: f(0.5, 0.5), "accuracy_b")],
    "fmref.eval.calibration.reliability_bins": [
        (lambda f: f(rand(3), [1, 0, 1], n_bins=0), "n_bins")
    ],
    "fmref.eval.calibration.expected_calibration_error": [
        (lambda f: f(torch.tensor([0.5, float("nan")]), [1, 0]), "confidences")
    ],
    "fmref.eval.calibration.fit_temperature": [(lambda f: f(nan(3, 4), INT[0]), "logits")],
    "fmref.eval.judge.judge_pair": [(lambda f: f(3, "q", "a", "b"), "judge")],
    "fmref.eval.judge.judge_pairs": [(lambda f: f(lambda *a: "A", "items"), "items")],
    "fmref.eval.judge.grade_single": [
        (lambda f: f(lambda *a: "5", "q", "a", scale=(5, 1)), "scale")
    ],
    "fmref.eval.judge.position_bias": [(lambda f: f(lambda *a: "A", []), "items")],
    "fmref.eval.judge.pad_answer": [(lambda f: f("a", sentences=-1), "sentences")],
    "fmref.eval.judge.verbosity_bias": [(lambda f: f(lambda *a: "A", [], []), "items")],
    "fmref.eval.judge.agreement": [(lambda f: f([1], [1, 0]), "reference")],
    "fmref.eval.judge.judge_items": [(lambda f: f(n=0), "n")],
    "fmref.eval.judge.SimulatedJudge": [(lambda f: f(skill=1.5), "skill")],
    "fmref.eval.judge.cohen_kappa": [(lambda f: f([], []), "labels_1")],
    "fmref.eval.multiple_choice.continuation_logprob": [
        (lambda f: f(_gpt(), [1], []), "continuation_ids")
    ],
    "fmref.eval.multiple_choice.score_choices": [
        (lambda f: f(_gpt(), list, "ab", ["a"], normalize="max"), "normalize")
    ],
    "fmref.eval.multiple_choice.multiple_choice_accuracy": [
        (lambda f: f(_gpt(), list, [], normalize="max"), "normalize")
    ],
    "fmref.eval.passk.pass_at_k": [(lambda f: f(0, 0, 1), "n"), (lambda f: f(5, 2, 1.5), "k")],
    "fmref.eval.passk.mean_pass_at_k": [(lambda f: f([], 1), "results")],
    "fmref.eval.testtime.best_of_n": [
        (lambda f: f([], []), "answers"),  # N < 1: no sample
        (lambda f: f(["a", "b"], [0.1]), "scores"),
    ],
    "fmref.eval.testtime.best_of_n_accuracy": [
        (lambda f: f([True, False], [1.0, 0.0], 0), "k"),  # N < 1
        (lambda f: f([], [], 1), "correct"),
    ],
    "fmref.eval.testtime.vote_accuracy": [
        (lambda f: f(["a"], "a", 2), "k"),
        (lambda f: f(["a", "b"], "a", 1, draws=0), "draws"),
        (lambda f: f(["a", "b"], "a", 1, weights=[1.0]), "weights"),
    ],
    "fmref.eval.testtime.accuracy_against_n": [
        (lambda f: f([], [], [1]), "samples"),
        (lambda f: f({"answer": []}, [], [1]), "samples"),
    ],
    "fmref.eval.testtime.sample_sums_answers": [(lambda f: f(n=0), "n")],
    "fmref.eval.perplexity.perplexity": [(lambda f: f(_gpt(), ids(20), 0, 4), "context_len")],
    "fmref.eval.perplexity.window_nll": [
        (lambda f: f(_gpt(), ids(20), 8, 4), "rows"),  # 1-D: one row needs shape (1, N)
        (lambda f: f(_gpt(), ids(20)[None].float(), 8, 4), "rows"),
        (lambda f: f(_gpt(), ids(20)[None], 8, 8), "stride"),
    ],
    "fmref.eval.long_context.extension_scaling": [
        (lambda f: f("rope", 2, 64), "method"),
        (lambda f: f("pi", 0.5, 64), "factor"),
    ],
    "fmref.eval.long_context.with_rope_scaling": [(lambda f: f(3, None, 8), "model")],
    "fmref.eval.long_context.long_context_llama": [(lambda f: f(stepz=1), "overrides")],
    "fmref.eval.long_context.context_extension_perplexity": [(lambda f: f(3), "model")],
    "fmref.eval.seeds.seed_runs": [(lambda f: f(seeds=()), "seeds")],
    "fmref.eval.seeds.spread": [(lambda f: f([]), "values")],
    # generative
    "fmref.generative.autoregressive.quantize_pixels": [(lambda f: f(rand(3), 1), "levels")],
    "fmref.generative.autoregressive.dequantize_pixels": [(lambda f: f(INT, 0), "levels")],
    "fmref.generative.autoregressive.MaskedLinear": [(lambda f: f(2, 3, torch.ones(2, 2)), "mask")],
    "fmref.generative.autoregressive.MADE": [(lambda f: f(0, 4), "seq_len")],
    "fmref.generative.fid.feature_statistics": [(lambda f: f(nan(4, 2)), "features")],
    "fmref.generative.fid.frechet_distance": [
        (lambda f: f(rand(2), torch.eye(2), rand(3), torch.eye(3)), "mu2")
    ],
    "fmref.generative.fid.digits_features": [(lambda f: f(rand(2, 8, 8)), "images")],
    "fmref.generative.fid.digits_fid": [
        (lambda f: f(rand(2, 1, 8, 8), rand(2, 8, 8)), "reference")
    ],
    "fmref.generative.gan.discriminator_loss": [(lambda f: f(INT[0], rand(3)), "real_logits")],
    "fmref.generative.gan.generator_loss": [(lambda f: f(rand(3), kind="wasserstein"), "kind")],
    "fmref.generative.vae.reparameterize": [(lambda f: f(rand(2, 3), rand(2, 4)), "logvar")],
    "fmref.generative.vae.gaussian_kl": [(lambda f: f(nan(2, 3), rand(2, 3)), "mu")],
    "fmref.generative.vae.VAE": [(lambda f: f(latent_dim=0), "latent_dim")],
    "fmref.generative.vae.digits_vae": [(lambda f: f(epoch=1), "overrides")],
    "fmref.generative.vae.vae_loss": [
        (lambda f: f(rand(2, 3), rand(2, 3), rand(2, 2), rand(2, 2), beta=-1.0), "beta")
    ],
    "fmref.generative.vq.VectorQuantizer": [(lambda f: f(0, 4), "num_codes")],
    "fmref.generative.vq.codebook_usage": [(lambda f: f(INT, 0), "num_codes")],
    "fmref.generative.vq.PatchVQAE": [
        (lambda f: f(codes=0), "codes"),
        (lambda f: f(dim=-1), "dim"),
    ],
    "fmref.generative.vq.digits_patch_vqae": [(lambda f: f(step=1), "overrides")],
    # infer
    "fmref.infer.batching.Request": [(lambda f: f(0.0, 0, 4), "prompt_len")],
    "fmref.infer.batching.StepCost": [(lambda f: f(base=-1.0), "base")],
    "fmref.infer.batching.poisson_trace": [(lambda f: f(0, 1.0), "n_requests")],
    "fmref.infer.batching.simulate_batching": [(lambda f: f([], policy="greedy"), "policy")],
    "fmref.infer.batching.shared_prompt_trace": [(lambda f: f(3, 1.0, 0), "n_system_prompts")],
    "fmref.infer.generate.context_length": [(lambda f: f(3), "model")],
    "fmref.infer.generate.generate": [
        (lambda f: f(_gpt(), ids(1, 3), max_new_tokens=-1), "max_new_tokens"),
        (lambda f: f(_gpt(), ids(1, 3, high=50), 2), "idx"),
    ],
    "fmref.infer.kv.kv_cache_bytes": [(lambda f: f(0, 1, 8), "n_layers")],
    "fmref.infer.kv.mla_cache_bytes": [
        (lambda f: f(61, 0, 64), "kv_lora_rank"),
        (lambda f: f(61, 512, 64, seq_len=0), "seq_len"),
    ],
    "fmref.infer.kv.model_kv_cache_bytes": [(lambda f: f(_llama_cfg(), seq_len=0), "seq_len")],
    "fmref.infer.kv.QuantizedKVCache": [(lambda f: f(0), "n_layers")],
    "fmref.infer.medusa.MedusaHeads": [(lambda f: f(0, 5), "n_embd")],
    "fmref.infer.medusa.final_hidden": [(lambda f: f(torch.nn.Identity(), ids(1, 2)), "model")],
    "fmref.infer.medusa.medusa_loss": [(lambda f: f(3, rand(1, 4, 8), ids(1, 4)), "heads")],
    "fmref.infer.medusa.train_medusa_heads": [
        (lambda f: f(_gpt(), ids(100), stepz=1), "overrides")
    ],
    "fmref.infer.medusa.tiny_gpt_medusa": [(lambda f: f(stepz=1), "overrides")],
    "fmref.infer.paged.PagedKVAllocator": [(lambda f: f(0, 16), "n_blocks")],
    "fmref.infer.prefix.RadixCache": [(lambda f: f(0), "capacity_tokens")],
    "fmref.infer.prefix.generate_with_prefix_cache": [
        (lambda f: f(_gpt(), ids(1, 3), 2, "not a cache"), "cache")
    ],
    "fmref.infer.roofline.roofline": [(lambda f: f(0, 1, 1, 1), "flops")],
    "fmref.infer.roofline.forward_cost": [(lambda f: f(1e9, 0), "n_tokens")],
    "fmref.infer.sampling.top_k_filter": [
        (lambda f: f(rand(5), 0), "k"),
        (lambda f: f(INT, 2), "logits"),
    ],
    "fmref.infer.sampling.top_p_filter": [(lambda f: f(rand(5), 0.0), "p")],
    "fmref.infer.sampling.sampling_probs": [
        (lambda f: f(nan(5)), "logits"),
        (lambda f: f(torch.tensor([0.0, float("inf")])), "logits"),
        (lambda f: f(torch.full((3,), float("-inf"))), "logits"),
        (lambda f: f(rand(5), temperature=-1.0), "temperature"),
    ],
    "fmref.infer.sampling.sample_next": [(lambda f: f(nan(2, 5)), "logits")],
    "fmref.infer.speculative.expected_tokens_per_step": [(lambda f: f(1.5, 4), "alpha")],
    "fmref.infer.speculative.speculative_generate": [
        (lambda f: f(_gpt(), _gpt(), ids(1, 3), 2, gamma=0), "gamma")
    ],
    # models
    "fmref.models.bert.BertConfig": [(lambda f: f(vocab_size=0), "vocab_size")],
    "fmref.models.bert.BertEmbeddings": [(lambda f: f(3), "config")],
    "fmref.models.bert.BertLayer": [(lambda f: f(3), "config")],
    "fmref.models.bert.Bert": [(lambda f: f(3), "config")],
    "fmref.models.gpt.GPTConfig": [(lambda f: f(n_head=0), "n_head")],
    "fmref.models.gpt.count_gpt_parameters": [(lambda f: f(3), "config")],
    "fmref.models.gpt.MLP": [(lambda f: f(3), "config")],
    "fmref.models.gpt.Block": [(lambda f: f(3), "config")],
    "fmref.models.gpt.GPT": [
        (lambda f: f(3), "config"),
        (lambda f: _gpt()(ids(1, 3, high=50)), "idx"),  # an id outside the vocabulary
        (lambda f: _gpt()(ids(1, 0)), "idx"),  # T = 0
        (lambda f: _gpt()(torch.tensor([[-1, 2]])), "idx"),
    ],
    "fmref.models.llama.LlamaConfig": [(lambda f: _llama_cfg(n_heads=0), "n_heads")],
    "fmref.models.llama.swiglu_hidden_dim": [(lambda f: f(0), "dim")],
    "fmref.models.llama.SwiGLU": [(lambda f: f(0, 4), "dim")],
    "fmref.models.llama.LlamaBlock": [(lambda f: f(3, 0), "config")],
    "fmref.models.llama.LlamaAttention": [(lambda f: f(3, 0), "config")],
    "fmref.models.llama.SparseMoE": [(lambda f: f(8, 16, 4, 5), "top_k")],
    "fmref.models.llama.Llama": [
        (lambda f: f(3), "config"),
        (lambda f: f(_llama_cfg())(ids(1, 3, high=50)), "idx"),
        (lambda f: f(_llama_cfg())(ids(1, 0)), "idx"),
    ],
    "fmref.models.mamba.MambaConfig": [(lambda f: f(11, 8, 1, d_state=0), "d_state")],
    "fmref.models.mamba.selective_scan": [
        (lambda f: f(rand(1, 4, 3), rand(1, 4, 3), rand(3, 2), rand(1, 3, 2), rand(1, 4, 2)), "B"),
        (lambda f: f(INT, rand(2, 3), rand(3, 2), rand(2, 2), rand(2, 2)), "u"),
    ],
    "fmref.models.mamba.selective_scan_step": [
        (lambda f: f(rand(1, 3), rand(1, 3), rand(3, 2), rand(1, 2), rand(2, 2)), "C")
    ],
    "fmref.models.mamba.MambaCache": [(lambda f: f(0), "n_layers")],
    "fmref.models.mamba.MambaMixer": [(lambda f: f(3, 0), "config")],
    "fmref.models.mamba.MambaBlock": [(lambda f: f(3, 0), "config")],
    "fmref.models.mamba.Mamba": [
        (lambda f: f(3), "config"),
        (lambda f: f(_mamba_cfg())(ids(1, 3, high=50)), "idx"),
    ],
    "fmref.models.mamba.mamba_state_bytes": [(lambda f: f(_mamba_cfg(), batch=0), "batch")],
    "fmref.models.mamba.selective_copy_batch": [(lambda f: f(2, n_noise=-1), "n_noise")],
    "fmref.models.mamba.train_selective_copy": [
        (lambda f: f(torch.nn.Linear(2, 2), steps=0), "steps")
    ],
    "fmref.models.deepseek.DeepSeekV3Config": [
        (lambda f: _deepseek_cfg(kv_lora_rank=0), "kv_lora_rank"),
        (lambda f: _deepseek_cfg(qk_rope_head_dim=3), "qk_rope_head_dim"),
        (lambda f: _deepseek_cfg(num_experts_per_tok=9), "num_experts_per_tok"),
        (lambda f: _deepseek_cfg(n_group=3), "n_group"),
    ],
    "fmref.models.deepseek.DeepSeekV3Block": [(lambda f: f(3, 0), "config")],
    "fmref.models.deepseek.MultiTokenPrediction": [(lambda f: f(_deepseek_cfg(), 0), "depth")],
    "fmref.models.deepseek.DeepSeekV3": [
        (lambda f: f(3), "config"),
        (lambda f: f(_deepseek_cfg())(ids(1, 3, high=80)), "idx"),
    ],
    "fmref.models.deepseek.mtp_lm_loss": [(lambda f: f(_llama_cfg(), ids(1, 3)), "model")],
    "fmref.models.deepseek.train_mtp_pair": [(lambda f: f(stepz=1), "overrides")],
    "fmref.models.deepseek.mtp_acceptance": [
        (lambda f: f(_deepseek_model(), ids(1, 3), n_new=1), "n_new")
    ],
    "fmref.models.seq2seq.AdditiveAttention": [(lambda f: f(0, 4, 4), "query_dim")],
    "fmref.models.seq2seq.Seq2SeqConfig": [(lambda f: f(0, 4), "src_vocab")],
    "fmref.models.seq2seq.Seq2Seq": [(lambda f: f(3), "config")],
    "fmref.models.seq2seq.MultiplicativeAttention": [
        (lambda f: f(4, 0), "key_dim"),
        (lambda f: f(4, 4, score="concat"), "score"),
        (lambda f: f(3, 4, score="dot"), "query_dim == key_dim"),
    ],
    "fmref.models.seq2seq.reversal_batch": [(lambda f: f(2, 3, 2), "vocab"),
                                            (lambda f: f(0, 3, 5), "batch")],
    "fmref.models.seq2seq.train_reversal": [(lambda f: f(torch.nn.Linear(2, 2)), "model")],
    "fmref.models.transformer.EncoderLayer": [(lambda f: f(8, 3, 16), "n_heads")],
    "fmref.models.transformer.DecoderLayer": [(lambda f: f(8, 2, 0), "d_ff")],
    "fmref.models.transformer.TransformerConfig": [(lambda f: f(0, 5), "src_vocab")],
    "fmref.models.transformer.Transformer": [(lambda f: f(3), "config")],
    "fmref.models.transformer.relative_position_bucket": [
        (lambda f: f(INT, num_buckets=0), "num_buckets")
    ],
    "fmref.models.transformer.RelativePositionBias": [(lambda f: f(0), "n_heads")],
    "fmref.models.transformer.MemoryAttention": [(lambda f: f(8, 2, -1), "mem_len")],
    "fmref.models.vit.ViTConfig": [(lambda f: f(patch_size=0), "patch_size")],
    "fmref.models.vit.count_vit_parameters": [(lambda f: f(3), "config")],
    "fmref.models.vit.vit_forward_flops": [(lambda f: f(3), "config")],
    "fmref.models.vit.ViTBlock": [(lambda f: f(3), "config")],
    "fmref.models.vit.ViT": [(lambda f: f(3), "config")],
    "fmref.models.vit.digits_split": [(lambda f: f(test_size=1.5), "test_size")],
    "fmref.models.vit.interpolate_pos_embed": [
        (lambda f: f(nan(1, 17, 4), 8), "pos_embed"),
        (lambda f: f(rand(2, 17, 4), 8), "pos_embed"),
        (lambda f: f(rand(1, 17, 4), 0), "grid"),
        (lambda f: f(rand(1, 17, 4), 8, n_prefix=-1), "n_prefix"),
    ],
    "fmref.models.vit.train_image_classifier": [
        (lambda f: f(torch.nn.Linear(2, 2), (None,) * 4, epochs=0), "epochs")
    ],
    # multimodal
    "fmref.multimodal.audio.hz_to_mel": [(lambda f: f(-1.0), "freq")],
    "fmref.multimodal.audio.mel_to_hz": [(lambda f: f(float("nan")), "mel")],
    "fmref.multimodal.audio.mel_filter_bank": [(lambda f: f(201, 0, 16000), "n_mels")],
    "fmref.multimodal.audio.log_mel_spectrogram": [(lambda f: f(E), "waveform")],
    "fmref.multimodal.clip.CLIPConfig": [(lambda f: f(patch_size=0), "patch_size")],
    "fmref.multimodal.clip.quick_gelu": [(lambda f: f(3), "x")],
    "fmref.multimodal.clip.CLIPEncoderLayer": [(lambda f: f(8, 3, 16), "heads")],
    "fmref.multimodal.clip.CLIP": [(lambda f: f(3), "config")],
    "fmref.multimodal.clip.zero_shot_classify": [(lambda f: f(3, rand(1, 3, 8, 8), INT), "model")],
    "fmref.multimodal.contrastive.clip_loss": [
        (lambda f: f(rand(0, 4), rand(0, 4)), "image_embeds"),
        (lambda f: f(nan(2, 4), rand(2, 4)), "image_embeds"),
    ],
    "fmref.multimodal.contrastive.siglip_loss": [
        (lambda f: f(rand(2, 4), inf(2, 4)), "text_embeds")
    ],
    "fmref.multimodal.digits.WordTokenizer": [(lambda f: f("abc"), "words")],
    "fmref.multimodal.digits.zero_shot_accuracy": [(lambda f: f(3, None, E, E, []), "templates")],
    "fmref.multimodal.digits.answer": [(lambda f: f(3, rand(1, 1, 8, 8), "q"), "model")],
    "fmref.multimodal.lmm.image_token_count": [(lambda f: f(8, 0), "patch_size")],
    "fmref.multimodal.lmm.VisionProjector": [(lambda f: f(0, 8), "vision_dim")],
    "fmref.multimodal.lmm.splice_image_tokens": [
        (lambda f: f(rand(1, 3, 4), rand(1, 3), rand(1, 1, 4), 7), "input_ids")
    ],
    "fmref.multimodal.lmm.LLaVA": [(lambda f: f(3, _gpt(), 8, 7), "vision_encoder")],
    "fmref.multimodal.lmm.GatedCrossAttention": [(lambda f: f(8, 3), "n_heads")],
    "fmref.multimodal.lmm.FlamingoLM": [(lambda f: f(3, 8), "lm")],
    "fmref.multimodal.lmm.PerceiverResampler": [(lambda f: f(8, n_latents=0), "n_latents")],
    # nn
    "fmref.nn.attention.attention_weights": [(lambda f: f(rand(2, 3), rand(2, 4)), "k")],
    "fmref.nn.attention.scaled_dot_product_attention": [
        (lambda f: f(rand(2, 3), rand(2, 3), rand(4, 3)), "v")
    ],
    "fmref.nn.attention.causal_mask": [
        (lambda f: f(-1, 3), "t_q"),
        (lambda f: f(2, 3, window=0), "window"),
    ],
    "fmref.nn.attention.KVCache": [(lambda f: f(0), "n_layers")],
    "fmref.nn.attention.MultiHeadAttention": [
        (lambda f: f(8, 3), "n_heads"),
        (lambda f: f(8, 2)(INT.float()), "x"),
        (lambda f: f(8, 2)(rand(1, 2, 8).long()), "x"),
        (lambda f: f(8, 2)(rand(1, 2, 8), context=rand(1, 2, 8), rope=rand(4, 2)), "context"),
    ],
    "fmref.nn.conv.conv_output_size": [(lambda f: f(8, 0), "kernel")],
    "fmref.nn.conv.conv2d": [(lambda f: f(rand(1, 1, 4, 4), rand(1, 1, 2, 2), stride=0), "stride")],
    "fmref.nn.conv.max_pool2d": [(lambda f: f(rand(1, 1, 4, 4), 0), "kernel_size")],
    "fmref.nn.conv.receptive_field": [(lambda f: f([(0, 1)]), "layers")],
    "fmref.nn.conv.Conv2d": [(lambda f: f(0, 1, 3), "in_channels")],
    "fmref.nn.conv.CNNConfig": [(lambda f: f(in_channels=0), "in_channels")],
    "fmref.nn.conv.SmallCNN": [(lambda f: f(3), "config")],
    "fmref.nn.efficient.tiled_attention": [
        (lambda f: f(rand(2, 4), rand(2, 4), rand(2, 4), tile_size=0), "tile_size")
    ],
    "fmref.nn.efficient.sliding_window_mask": [(lambda f: f(4, 0), "window")],
    "fmref.nn.efficient.strided_mask": [(lambda f: f(0, 2), "seq_len")],
    "fmref.nn.efficient.fixed_mask": [(lambda f: f(8, 0), "stride")],
    "fmref.nn.efficient.global_tokens_mask": [(lambda f: f(8, 2, [9]), "global_idx")],
    "fmref.nn.efficient.linear_attention": [(lambda f: f(rand(2, 4), rand(2, 4), rand(3, 4)), "v")],
    "fmref.nn.efficient.attention_memory_bytes": [(lambda f: f(0), "seq_len")],
    "fmref.nn.moe.top_k_gating": [(lambda f: f(rand(3, 4), 5), "top_k")],
    "fmref.nn.moe.expert_capacity": [
        (lambda f: f(8, n_experts=0), "n_experts"),
        (lambda f: f(8, 4, capacity_factor=0), "capacity_factor"),
    ],
    "fmref.nn.moe.load_balancing_loss": [(lambda f: f(rand(3, 4), rand(3, 5)), "expert_mask")],
    "fmref.nn.moe.MoE": [(lambda f: f(8, 16, 0), "n_experts")],
    "fmref.nn.moe.sigmoid_gating": [
        (lambda f: f(rand(3, 8), 9), "top_k"),
        (lambda f: f(rand(3, 8), 2, n_group=3), "n_group"),
    ],
    "fmref.nn.moe.update_routing_bias": [(lambda f: f(rand(4), rand(5)), "tokens_per_expert")],
    "fmref.nn.moe.DeepSeekMoE": [
        (lambda f: f(8, 4, 8, top_k=9), "top_k"),
        (lambda f: f(8, 4, 8, 2, n_group=3), "n_group"),
        (lambda f: f(8, 4, 8, 2, n_group=4, topk_group=5), "topk_group"),
    ],
    "fmref.nn.mla.MLACache": [(lambda f: f(0), "n_layers")],
    "fmref.nn.mla.MultiHeadLatentAttention": [
        (lambda f: f(32, 4, kv_lora_rank=0, qk_rope_head_dim=4, qk_nope_head_dim=8,
                     v_head_dim=8), "kv_lora_rank"),  # fmt: skip
        (lambda f: f(32, 4, kv_lora_rank=16, qk_rope_head_dim=5, qk_nope_head_dim=8,
                     v_head_dim=8), "qk_rope_head_dim"),  # fmt: skip
    ],
    "fmref.nn.norm.LayerNorm": [(lambda f: f(0), "d")],
    "fmref.nn.norm.RMSNorm": [(lambda f: f(4, eps=-1.0), "eps")],
    "fmref.nn.position.sinusoidal_positions": [(lambda f: f(4, 0), "d_model")],
    "fmref.nn.position.rope_angles": [
        (lambda f: f(3, 4), "d_head"),
        (lambda f: f(4, 4, scaling={"rope_type": "linear", "factor": 1.0}), "factor"),
    ],
    "fmref.nn.position.rope_inv_freq": [
        (lambda f: f(8, scaling={"rope_type": "ntk", "factor": 2.0}), "rope_type"),
        (lambda f: f(8, scaling={"rope_type": "yarn", "factor": 2.0}), "original_max_position"),
        (lambda f: f(8, seq_len=0, scaling={"rope_type": "dynamic", "factor": 2.0,
                                            "max_position_embeddings": 4}), "seq_len"),
    ],
    "fmref.nn.position.apply_rope": [(lambda f: f(rand(1, 4, 6), rand(4, 2)), "angles")],
    "fmref.nn.position.apply_rope_interleaved": [
        (lambda f: f(rand(1, 4, 6), rand(4, 2)), "angles")
    ],
    "fmref.nn.position.alibi_slopes": [(lambda f: f(0), "n_heads")],
    "fmref.nn.position.alibi_bias": [(lambda f: f(2, -1, 3), "t_q")],
    "fmref.nn.recurrent.rnn_cell": [
        (
            lambda f: f(rand(1, 2), rand(1, 3), rand(3, 2), rand(3, 3), nonlinearity="gelu"),
            "nonlinearity",
        )
    ],
    "fmref.nn.recurrent.lstm_cell": [
        (lambda f: f(rand(1, 2), rand(1, 3), rand(12, 2), rand(12, 3)), "state")
    ],
    "fmref.nn.recurrent.gru_cell": [
        (lambda f: f(rand(1, 2), rand(1, 3), rand(8, 2), rand(9, 3)), "weight_ih")
    ],
    "fmref.nn.recurrent.RNNCell": [(lambda f: f(0, 3), "input_size")],
    "fmref.nn.recurrent.LSTMCell": [(lambda f: f(2, 0), "hidden_size")],
    "fmref.nn.recurrent.GRUCell": [(lambda f: f(-1, 3), "input_size")],
    "fmref.nn.recurrent.RNN": [(lambda f: f(2, 3, num_layers=0), "num_layers")],
    "fmref.nn.recurrent.LSTM": [(lambda f: f(2, 3, dropout=1.5), "dropout")],
    "fmref.nn.recurrent.GRU": [(lambda f: f(2, 0), "hidden_size")],
    "fmref.nn.recurrent.detach_state": [(lambda f: f(3), "state")],
    # optim
    "fmref.optim.sgd_step": [(lambda f: f(rand(3), rand(3), {}, lr=-1.0), "lr")],
    "fmref.optim.adam_step": [(lambda f: f(rand(3), rand(4), {}), "grad")],
    "fmref.optim.adamw_step": [(lambda f: f(rand(3), rand(3), {}, lr=float("nan")), "lr")],
    "fmref.optim.state_numel": [(lambda f: f(3), "states")],
    # peft
    "fmref.peft.adapters.BottleneckAdapter": [(lambda f: f(8, 0), "bottleneck")],
    "fmref.peft.adapters.Adapted": [(lambda f: f(3, torch.nn.Linear(2, 2)), "layer")],
    "fmref.peft.adapters.apply_adapters": [(lambda f: f(_gpt(), 8, 0), "bottleneck")],
    "fmref.peft.adapters.adapter_parameter_count": [(lambda f: f(8, 0, 2), "n_layers")],
    "fmref.peft.bitfit.apply_bitfit": [(lambda f: f(3), "model")],
    "fmref.peft.experiment.reverse_words": [(lambda f: f(3), "text")],
    "fmref.peft.experiment.prepare": [(lambda f: f(_gpt(), "qlora9"), "method")],
    "fmref.peft.experiment.run_methods": [(lambda f: f(["qlora9"]), "methods")],
    "fmref.peft.ia3.IA3Linear": [(lambda f: f(3), "base")],
    "fmref.peft.ia3.apply_ia3": [(lambda f: f(_gpt(), target_modules="c_attn"), "target_modules")],
    "fmref.peft.lora.LoRALinear": [(lambda f: f(torch.nn.Linear(4, 4), 0, 1.0), "r")],
    "fmref.peft.lora.apply_lora": [(lambda f: f(_gpt(), r=2, alpha=0.0), "alpha")],
    "fmref.peft.lora.merge_lora": [(lambda f: f(3), "model")],
    "fmref.peft.lora.trainable_parameters": [(lambda f: f(3), "model")],
    "fmref.peft.lora.lora_parameter_count": [(lambda f: f(8, 2, 0), "r")],
    "fmref.peft.prompts.PromptTuning": [(lambda f: f(_gpt(), 0), "n_tokens")],
    "fmref.peft.prompts.PrefixTuning": [(lambda f: f(_gpt(), -1), "n_tokens")],
    # prompting
    "fmref.prompting.consistency.extract_answer": [(lambda f: f(3), "text")],
    "fmref.prompting.consistency.majority_vote": [
        (lambda f: f([]), "answers"),
        (lambda f: f(["a"], weights=[-1.0]), "weights"),
    ],
    "fmref.prompting.consistency.self_consistency": [(lambda f: f(str, 0), "n_samples")],
    "fmref.prompting.constrained.RegexFSM": [(lambda f: f("(a"), "pattern")],
    "fmref.prompting.constrained.json_schema_regex": [(lambda f: f({"type": "date"}), "schema")],
    "fmref.prompting.constrained.allowed_token_mask": [(lambda f: f(3, [0], ["a"]), "fsm")],
    "fmref.prompting.constrained.constrained_generate": [
        (lambda f: f(_gpt(), ids(1, 2), ["a"] * 11, "a+", max_new_tokens=-1), "max_new_tokens")
    ],
    "fmref.prompting.icl.random_function_batch": [(lambda f: f(0, 4), "batch")],
    "fmref.prompting.icl.train_icl_model": [(lambda f: f(steps=0), "steps")],
    "fmref.prompting.icl.icl_accuracy": [(lambda f: f(_gpt(), n_sequences=0), "n_sequences")],
    "fmref.prompting.icl.copy_batch": [(lambda f: f(0), "n"), (lambda f: f(2, 2.0), "length")],
    "fmref.prompting.icl.copy_gpt": [(lambda f: f(stepz=2), "overrides")],
    "fmref.prompting.templates.PromptTemplate": [(lambda f: f(3), "template")],
    "fmref.prompting.templates.few_shot_prompt": [(lambda f: f("i", [], "q", 0), "max_tokens")],
    # rag
    "fmref.rag.bm25.tokenize": [(lambda f: f(3), "text")],
    "fmref.rag.bm25.BM25": [(lambda f: f([["a"]], k1=-1.0), "k1")],
    "fmref.rag.chunk.chunk_text": [(lambda f: f("a b c", 0), "max_tokens")],
    "fmref.rag.dense.DenseIndex": [(lambda f: f(nan(3, 4)), "embeddings")],
    "fmref.rag.dense.reciprocal_rank_fusion": [(lambda f: f([[1]], k=-1), "k")],
    "fmref.rag.evalset.topic_ranking": [(lambda f: f([1, 2], [0]), "chunk_topics")],
    "fmref.rag.evalset.evaluate": [(lambda f: f([], k_recall=0), "k_recall")],
    "fmref.rag.ivf.kmeans": [(lambda f: f(rand(5, 2), 0), "n_clusters")],
    "fmref.rag.ivf.IVFIndex": [(lambda f: f(rand(5, 2), 0), "n_lists")],
    "fmref.rag.metrics.recall_at_k": [(lambda f: f([1, 2], {1}, 0), "k")],
    "fmref.rag.metrics.reciprocal_rank": [(lambda f: f([1, 2], 3), "relevant")],
    "fmref.rag.metrics.mrr": [(lambda f: f([[1]], [{1}, {2}]), "relevants")],
    "fmref.rag.metrics.ndcg_at_k": [(lambda f: f([1, 2], {1: 1}, 0), "k")],
    "fmref.rag.minilm.mean_pool": [(lambda f: f(rand(1, 3, 4), rand(1, 4)), "attention_mask")],
    "fmref.rag.minilm.SentenceEncoder": [(lambda f: f(3, None), "model")],
    "fmref.rag.minilm.load_minilm": [(lambda f: f(max_seq_length=1), "max_seq_length")],
    "fmref.rag.prompt.build_prompt": [(lambda f: f("q", "passage"), "passages")],
    "fmref.rag.evalset.load_evalset": [(lambda f: f("dev"), "split")],
    "fmref.rag.late.maxsim": [
        (lambda f: f(torch.zeros(0, 4), rand(2, 4)), "query_tokens"),
        (lambda f: f(rand(2, 4), rand(3, 5)), "doc_tokens"),
        (lambda f: f(rand(2, 4), nan(3, 4)), "doc_tokens"),
    ],
    "fmref.rag.late.LateInteractionIndex": [
        (lambda f: f([]), "doc_tokens"),
        (lambda f: f([rand(2, 4), rand(2, 3)]), "doc_tokens"),
    ],
    "fmref.rag.late.document_token_vectors": [(lambda f: f(None, "one text"), "texts")],
    "fmref.rag.late.late_interaction_rankings": [
        (lambda f: f(None, ["  "], [rand(2, 4)], 1), "queries"),  # empty query
        (lambda f: f(None, ["q"], [rand(2, 4)], 0), "k"),
        (lambda f: f(None, ["q"], [rand(2, 4)], -2), "k"),
    ],
    "fmref.rag.baselines.first_stage_rankings": [
        (lambda f: f([""]), "questions"),
        (lambda f: f([]), "questions"),
    ],
    "fmref.rag.rerank.encode_pairs": [(lambda f: f(None, "", ["p"]), "query")],
    "fmref.rag.rerank.CrossEncoder": [(lambda f: f(3), "bert")],
    "fmref.rag.rerank.rerank": [
        (lambda f: f(len, [1, 2], 0), "k"),
        (lambda f: f(len, [1, 2], -1), "k"),
        (lambda f: f(len, [], 3), "ranking"),
    ],
    "fmref.rag.rerank.train_reranker": [(lambda f: f(stepz=1), "overrides")],
    "fmref.rag.rerank.cross_encoder_rankings": [
        (lambda f: f(None, None, ["q"], [], [], 1), "rankings")
    ],
    "fmref.rag.agentic.content_words": [(lambda f: f(3), "text")],
    "fmref.rag.agentic.search_tool": [(lambda f: f(lambda q: [0], ["a"], ["t"], k=0), "k")],
    "fmref.rag.agentic.FeedbackPolicy": [(lambda f: f(hops=0), "hops")],
    "fmref.rag.agentic.agentic_rankings": [
        (lambda f: f(lambda q: [0], ["a"], ["t"], []), "questions")
    ],
    "fmref.rag.agentic.recall_within_budget": [
        (lambda f: f([[0]], [{"relevant": {"t": 1}}], [1], ["t"], -1), "budget")
    ],
    "fmref.rag.faithfulness.split_sentences": [(lambda f: f(3), "text")],
    "fmref.rag.faithfulness.citations": [(lambda f: f(None), "sentence")],
    "fmref.rag.faithfulness.word_support": [(lambda f: f("a claim", 3), "passage")],
    "fmref.rag.faithfulness.check_grounding": [
        (lambda f: f("", ["p"]), "answer"),
        (lambda f: f("a [1].", ["p"], sim_threshold=1.5), "sim_threshold"),
    ],
    "fmref.rag.faithfulness.labelled_agreement": [
        (lambda f: f(word_threshold=2), "word_threshold")
    ],
    "fmref.rag.compare.heldout_comparison": [(lambda f: f(kepp=3), "overrides")],
    "fmref.rag.compare.format_table": [(lambda f: f({}), "result")],
    # results
    "fmref.results.load": [(lambda f: f(3), "name"), (lambda f: f("../etc"), "name")],
    "fmref.results.check_load": [(lambda f: f(float("nan")), "load_average")],
    "fmref.results.save": [(lambda f: f("kv cache", {}, {}), "name")],
    # scaling
    "fmref.scaling.fit.huber": [(lambda f: f(rand(3), delta=0), "delta")],
    "fmref.scaling.fit.fit_scaling_law": [(lambda f: f([1e6], [1e9], [float("nan")]), "losses")],
    "fmref.scaling.fit.fit_power_law": [(lambda f: f([1e18, -1.0], [3.0, 2.0]), "compute")],
    "fmref.scaling.fit.mini_scaling_run": [
        (lambda f: f(0, 10), "width"),
        (lambda f: f(8, 10, block=-1), "block"),
        (lambda f: f(8, 10, lr=float("nan")), "lr"),
    ],
    "fmref.scaling.flops.training_flops": [(lambda f: f(0, 1e9), "n_params")],
    "fmref.scaling.flops.flops_per_token": [(lambda f: f(_llama_cfg(), seq_len=0), "seq_len")],
    "fmref.scaling.laws.kaplan_loss": [(lambda f: f(n_params=-1.0), "n_params")],
    "fmref.scaling.laws.kaplan_compute_optimal": [(lambda f: f(float("inf")), "compute")],
    "fmref.scaling.laws.chinchilla_loss": [(lambda f: f(1e9, 0), "n_tokens")],
    "fmref.scaling.laws.compute_optimal": [(lambda f: f(-1.0), "compute")],
    "fmref.scaling.laws.tokens_per_parameter_allocation": [
        (lambda f: f(1e21, tokens_per_parameter=0), "tokens_per_parameter")
    ],
    "fmref.scaling.params.parameter_breakdown": [(lambda f: f(3), "config")],
    "fmref.scaling.params.count_parameters": [(lambda f: f(3), "config")],
    "fmref.scaling.params.active_parameters": [(lambda f: f(3), "config")],
    # text
    "fmref.text.bpe.BPETokenizer": [(lambda f: f(merges=[(1,)]), "merges")],
    "fmref.text.corpus.python_docs": [(lambda f: f("dev"), "split")],
    "fmref.text.functional.softmax": [(lambda f: f(rand(3), temperature=0), "temperature")],
    "fmref.text.functional.log_softmax": [(lambda f: f(INT), "x")],
    "fmref.text.functional.cosine_similarity": [(lambda f: f(rand(3), rand(4)), "b")],
    "fmref.text.wordpiece.basic_tokenize": [(lambda f: f(3), "text")],
    "fmref.text.wordpiece.WordPieceTokenizer": [(lambda f: f(["a"]), "vocab")],
    # train
    "fmref.train.distributed.byte_dataset": [(lambda f: f(n_sequences=0), "n_sequences")],
    "fmref.train.distributed.make_model": [(lambda f: f(seq_len=0), "seq_len")],
    "fmref.train.distributed.train": [(lambda f: f(steps=0, distributed=False), "steps")],
    "fmref.train.distributed.main": [(lambda f: f(["--steps", "0"]), "steps")],
    "fmref.train.distributed.torchrun_command": [(lambda f: f(0), "nproc_per_node")],
    "fmref.train.efficient.zero_memory_per_gpu": [(lambda f: f(1e9, 8, 4), "stage")],
    "fmref.train.efficient.activation_memory": [
        (lambda f: f(0, 1, 8, 1, 1), "seq_len"),
        (lambda f: f(8, 1, 8, 1, 1, sequence_parallel=1), "sequence_parallel"),
    ],
    "fmref.train.efficient.gpt_forward": [(lambda f: f(_gpt(), ids(1, 3, high=50)), "idx")],
    "fmref.train.efficient.accumulate_gradients": [
        (lambda f: f(_gpt(), ids(4, 5), micro_batches=0), "micro_batches")
    ],
    "fmref.train.efficient.train_step": [
        (lambda f: f(_gpt(), None, ids(4, 5), precision="fp8"), "precision")
    ],
    "fmref.train.parallel.common.tiny_llama": [(lambda f: f(n_experts=-1), "n_experts")],
    "fmref.train.parallel.common.global_batch": [(lambda f: f(-1), "step")],
    "fmref.train.parallel.common.reference_run": [(lambda f: f(0), "steps")],
    "fmref.train.parallel.common.state_bytes": [(lambda f: f("net", None), "model")],
    "fmref.train.parallel.common.max_abs_diff": [(lambda f: f({}, {"w": rand(2)}), "state")],
    "fmref.train.parallel.context.sequence_positions": [(lambda f: f(8, 3, 0), "seq_len")],
    "fmref.train.parallel.context.causal_attention_work": [(lambda f: f(8, 0), "n_ranks")],
    "fmref.train.parallel.context.online_softmax_step": [
        (lambda f: f(None, rand(1, 1, 2, 4), rand(1, 1, 2, 3), rand(1, 1, 2, 3),
                     torch.arange(2), torch.arange(2)), "k")  # fmt: skip
    ],
    "fmref.train.parallel.context.ring_attention": [
        (lambda f: f(rand(2, 3), rand(2, 3), rand(2, 3), torch.arange(2), 2), "q")
    ],
    "fmref.train.parallel.data_parallel.ShardedGradAdamW": [(lambda f: f([], lr=-1.0), "lr")],
    "fmref.train.parallel.expert.ExpertParallelMoE": [(lambda f: f("moe"), "moe")],
    "fmref.train.parallel.formulas.allreduce_bytes": [
        (lambda f: f(0, 10), "n_ranks"),
        (lambda f: f(2, 10, "tree"), "algorithm"),
    ],
    "fmref.train.parallel.formulas.collective_bytes": [(lambda f: f("gather", 2, 10), "op")],
    "fmref.train.parallel.formulas.pipeline_bubble": [
        (lambda f: f(0, 4), "p"),
        (lambda f: f(2, 4, "dualpipe"), "schedule"),
    ],
    "fmref.train.parallel.formulas.pipeline_schedule": [
        (lambda f: f(0, 4), "p"),
        (lambda f: f(2, 4, "zb-h1"), "schedule"),
        (lambda f: f(2, 4, "1f1b", float("nan")), "backward_ratio"),
    ],
    "fmref.train.parallel.formulas.parallel_memory": [
        (lambda f: f(1e9, dp=0), "dp"),
        (lambda f: f("70B"), "model"),
        (lambda f: f(1e9, zero_stage=4), "zero_stage"),
    ],
    "fmref.train.parallel.formulas.fitting_layouts": [
        (lambda f: f(_llama_cfg(), 0, 80e9, 8), "n_gpus")
    ],
    "fmref.train.parallel.pipeline.LlamaStage": [(lambda f: f("model", 0, 1), "model")],
    "fmref.train.parallel.pipeline.record_schedule": [(lambda f: f(object(), []), "stage")],
    "fmref.train.parallel.pipeline.idle_fraction": [(lambda f: f([], 1.0, 0.0), "end")],
    "fmref.train.parallel.precision.DelayedScaling": [(lambda f: f(torch.float16), "dtype")],
    "fmref.train.parallel.precision.Float8Linear": [(lambda f: f("linear"), "linear")],
    "fmref.train.parallel.precision.to_float8": [(lambda f: f("model"), "model")],
    "fmref.train.parallel.precision.precision_losses": [(lambda f: f(steps=0), "steps")],
    "fmref.train.parallel.run.check_layout": [
        (lambda f: f(0), "world_size"),
        (lambda f: f(6, tp=4), "world_size"),
        (lambda f: f(2, pp=2, micro_batches=1), "micro_batches"),
        (lambda f: f(2, ep=2, n_experts=3), "ep"),
    ],
    "fmref.train.parallel.run.main": [
        (lambda f: f(["--strategy", "ddp", "--steps", "0"]), "steps"),
        (lambda f: f(["--strategy", "hybrid"]), "strategy"),
    ],
    "fmref.train.parallel.run.torchrun_command": [(lambda f: f(0), "nproc_per_node")],
    "fmref.train.parallel.run.launch": [(lambda f: f(0), "nproc_per_node")],
    "fmref.train.parallel.run.parallel_runs": [(lambda f: f(steps=0), "steps")],
    "fmref.train.parallel.tensor.tensor_parallel_plan": [(lambda f: f(1), "sequence_parallel")],
    "fmref.train.loop.fit": [
        (lambda f: f(torch.nn.Linear(2, 2), iter(()), lambda m, b: m(b).sum(), steps=0), "steps")
    ],
    "fmref.train.loop.epoch_batches": [(lambda f: list(f(10, 0, 1)), "batch_size")],
    "fmref.train.loop.chunk_means": [(lambda f: f([1.0, 2.0], 0), "size")],
    "fmref.train.loop.minimize_lbfgs": [
        (lambda f: f(3, [torch.zeros(2, requires_grad=True)]), "objective"),
        (lambda f: f(lambda: torch.zeros(()), []), "params"),
        (lambda f: f(lambda: torch.zeros(()), [torch.zeros(2, dtype=torch.long)]), "params"),
        (lambda f: f(lambda: torch.zeros(()), [torch.zeros(2)]), "params"),
        (lambda f: f(lambda: torch.zeros(()), [torch.zeros(2, requires_grad=True)], 0), "steps"),
    ],
    "fmref.train.loop.TrainConfig": [(lambda f: f(steps=0), "steps")],
    "fmref.train.loop.cosine_schedule": [(lambda f: f(0, -1, 10, 1.0, 0.1), "warmup")],
    "fmref.train.loop.configure_optimizer": [(lambda f: f(_gpt(), lr=0.0), "lr")],
    "fmref.train.loop.get_batch": [(lambda f: f(ids(20), 0, 4), "batch_size")],
    "fmref.train.loop.evaluate": [(lambda f: f(_gpt(), ids(20), 2, 4, 0), "batches")],
    "fmref.train.loop.train": [(lambda f: f(_gpt(), rand(20)), "train_data")],
    "fmref.train.objectives.causal_lm_loss": [(lambda f: f(nan(1, 3, 5), ids(1, 3)), "logits")],
    "fmref.train.objectives.mask_tokens": [
        (lambda f: f(ids(2, 4), 4, 5, mlm_probability=1.5), "mlm_probability")
    ],
    "fmref.train.objectives.span_corruption": [
        (lambda f: f(ids(8), [9], noise_density=0.0), "noise_density")
    ],
    "fmref.train.objectives.merge_spans": [(lambda f: f(rand(3), ids(3), [9]), "inputs")],
    # vision
    "fmref.vision.sample_image": [(lambda f: f(4), "size")],
    "fmref.vision.to_tensor": [(lambda f: f([1, 2]), "image")],
    "fmref.vision.normalize": [(lambda f: f(rand(1, 3, 4, 4), std=(0.0, 1.0, 1.0)), "std")],
    "fmref.vision.denormalize": [(lambda f: f(INT), "images")],
    "fmref.vision.patchify": [
        (lambda f: f(rand(1, 1, 4, 4), 0), "patch_size"),  # was a ZeroDivisionError
        (lambda f: f(rand(1, 1, 4, 4), -2), "patch_size"),
        (lambda f: f(torch.ones(1, 1, 4, 4, dtype=torch.long), 2), "images"),
    ],
    "fmref.vision.unpatchify": [(lambda f: f(rand(1, 4, 4), 0, 4), "patch_size")],
    "fmref.vision.filter2d": [(lambda f: f(rand(1, 1, 4, 4), rand(3, 3), padding=-1), "padding")],
    # zoo
    "fmref.zoo.get": [(lambda f: f("no-such-model"), "name")],
    "fmref.zoo.tiny_gpt": [(lambda f: f(stepz=10), "overrides")],
    "fmref.zoo.selective_copy": [(lambda f: f(stepz=10), "overrides")],
    "fmref.zoo.seq2seq_reversal": [(lambda f: f(stepz=10), "overrides")],
}

# Callables with no row, each with the reason.
EXEMPT = {
    # no arguments
    "fmref.agents.memory.LongTermMemory": "takes no arguments",
    "fmref.agents.traces.PolicyTokenizer": "takes no arguments",
    "fmref.align.verifiable.SumsTokenizer": "takes no arguments",
    "fmref.compress.nf4.nf4_codebook": "takes no arguments",
    "fmref.models.llama.llama_7b": "takes no arguments (a published config)",
    "fmref.models.llama.llama_13b": "takes no arguments (a published config)",
    "fmref.models.llama.llama2_70b": "takes no arguments (a published config)",
    "fmref.models.llama.mistral_7b": "takes no arguments (a published config)",
    "fmref.models.llama.llama3_8b": "takes no arguments (a published config)",
    "fmref.models.llama.llama3_70b": "takes no arguments (a published config)",
    "fmref.models.llama.qwen3_8b": "takes no arguments (a published config)",
    "fmref.models.llama.mixtral_8x7b": "takes no arguments (a published config)",
    "fmref.models.llama.gpt_oss_120b": "takes no arguments (a published config)",
    "fmref.models.llama.gemma3_27b": "takes no arguments (a published config)",
    "fmref.models.mamba.mamba_2_8b": "takes no arguments (a published config)",
    "fmref.models.deepseek.deepseek_v3": "takes no arguments (a published config)",
    "fmref.models.deepseek.deepseek_tiny": "takes no arguments (a fixed example config)",
    "fmref.models.vit.train_digits_vit": "takes no arguments (a recipe's training)",
    "fmref.models.vit.train_digits_cnn": "takes no arguments (a recipe's training)",
    "fmref.zoo.digits_vit": "takes no arguments (a cached recipe)",
    "fmref.zoo.digits_cnn": "takes no arguments (a cached recipe)",
    "fmref.zoo.deepseek_mtp": "takes no arguments (a cached recipe)",
    "fmref.zoo.list": "takes no arguments",
    "fmref.agents.guard.default_detector": "takes no arguments",
    "fmref.agents.guard.Verdict": "a result record of InjectionDetector",
    "fmref.agents.mcp.MCPError": "an exception class",
    "fmref.agents.mcp.main": "the command line: argparse reports a bad argument and exits with 2",
    "fmref.zoo.Recipe": "a registry record built by fmref.zoo itself",
    "fmref.multimodal.digits.digits_tokenizer": "takes no arguments",
    "fmref.multimodal.digits.digits_clip": "takes no arguments (a cached recipe)",
    "fmref.multimodal.digits.digits_lmm": "takes no arguments (a cached recipe)",
    "fmref.rag.late.corpus_token_vectors": "takes no arguments (a cached recipe)",
    "fmref.rag.faithfulness.load_faithfulness_labels": "takes no arguments (packaged data)",
    "fmref.rag.evalset.corpus_chunks": "takes no arguments (packaged data)",
    "fmref.rag.evalset.corpus_embeddings": "takes no arguments (packaged data)",
    "fmref.rag.minilm.minilm_files": "takes no arguments (packaged weights)",
    "fmref.text.corpus.python_docs_topics": "takes no arguments (packaged data)",
    "fmref.results.names": "takes no arguments",
    "fmref.results.machine_info": "takes only free-form keywords recorded as given",
    "fmref.train.parallel.common.bytes_sent": "takes no arguments",
    "fmref.train.parallel.context.RingPass": "an autograd Function, used as RingPass.apply(x)",
    # result records: built by fmref's own functions, never from user input
    "fmref.agents.parse.ToolCall": "a result record (parse_tool_call checks the text)",
    "fmref.agents.react.Step": "a result record of run_agent",
    "fmref.agents.react.AgentResult": "a result record of run_agent",
    "fmref.agents.tools.ToolCallError": "an exception class",
    "fmref.results.LoadTooHighError": "an exception class",
    "fmref.compress.nf4.NF4Tensor": "a result record of quantize_nf4",
    "fmref.eval.bootstrap.BootstrapResult": "a result record of bootstrap_ci",
    "fmref.eval.bootstrap.PairedResult": "a result record of paired_bootstrap",
    "fmref.infer.batching.BatchingReport": "a result record of simulate_batching",
    "fmref.infer.roofline.RooflinePoint": "a result record of roofline",
    "fmref.infer.speculative.SpeculativeStats": "a result record of speculative_generate",
    "fmref.nn.moe.RouterOutput": "a result record of top_k_gating",
    "fmref.scaling.fit.ScalingLawFit": "a result record of fit_scaling_law",
    "fmref.scaling.fit.PowerLawFit": "a result record of fit_power_law",
    # training recipes whose only argument is validated by the function they call
    "fmref.peft.experiment.task_data": "tokenizer and settings are checked by finetune",
    "fmref.peft.experiment.finetune": "trains a model; its method is checked by prepare (walked)",
}


def _public_callables():
    """(qualified name, object) of every public function and class of fmref's public modules."""
    found = {}
    modules = [fmref, *(
        importlib.import_module(m.name)
        for m in pkgutil.walk_packages(fmref.__path__, "fmref.")
        if not any(part.startswith("_") for part in m.name.split("."))
    )]  # fmt: skip
    for mod in modules:
        for name, obj in vars(mod).items():
            if name.startswith("_") or getattr(obj, "__module__", None) != mod.__name__:
                continue
            if inspect.isfunction(obj) or inspect.isclass(obj):
                found[f"{mod.__name__}.{name}"] = obj
    return found


PUBLIC = _public_callables()


def test_every_public_callable_is_walked():
    missing = sorted(set(PUBLIC) - set(CASES) - set(EXEMPT))
    assert not missing, f"public callables with neither a bad-input row nor an exemption: {missing}"
    stale = sorted((set(CASES) | set(EXEMPT)) - set(PUBLIC))
    assert not stale, f"rows for names that are not public callables: {stale}"
    assert not set(CASES) & set(EXEMPT)
    assert all(reason.strip() for reason in EXEMPT.values())
    assert len(PUBLIC) == len(CASES) + len(EXEMPT)


@pytest.mark.parametrize(
    "qualname,call,argname",
    [(q, call, arg) for q, rows in CASES.items() for call, arg in rows],
    ids=[f"{q.removeprefix('fmref.')}-{i}" for q, rows in CASES.items() for i in range(len(rows))],
)
def test_bad_input_raises_an_error_naming_the_argument(qualname, call, argname):
    with pytest.raises((ValueError, TypeError)) as info:
        call(PUBLIC[qualname])
    assert argname in str(info.value), f"{qualname}: {info.value!r} does not name {argname!r}"
