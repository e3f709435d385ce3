"""
GRPO with a verifiable reward: accuracy rises and answers grow longer
=====================================================================

DeepSeek-R1-Zero was trained from a base model by reinforcement learning alone,
with a reward that a program computes: is the final answer right? Its accuracy
rose, and its answers grew longer as it learned to work problems through.

This is that recipe at toy scale (:func:`fmref.align.rlvr.train_rlvr`, from the
shared cache). The base model (:func:`fmref.align.verifiable.train_base_model`)
was pretrained on sums of digits, ``4+7+2=``, where most answers in the corpus
are given at once (``answer 13``) and a few are worked step by step
(``4+7=11, 11+2=13, answer 13``). GRPO samples 8 answers per question, rewards
the right ones with 1, normalises the rewards within each group, and takes a
policy-gradient step with a KL penalty to the base model. No reward model, no
supervised data.

The left panel shows pass@1 on held-out questions (whose last
digit is 5, never trained on) and the mean reward of the training samples;
the right panel shows the mean length of the sampled answers and the share of
them that work through the sum.
"""

# %%
# The run
# -------
import matplotlib.pyplot as plt
import torch

from fmref.zoo import get

torch.set_num_threads(1)  # tiny models: one thread is fastest and never oversubscribes

policy, history = get("sums-rlvr").load()
acc = history["heldout_accuracy"]
print(f"held-out pass@1: {acc[0]:.0%} before GRPO, {acc[-1]:.0%} after "
      f"{history['step'][-1]} steps")
print(f"mean sampled answer length: {history['length'][0]:.1f} tokens at step 1, "
      f"{history['length'][-1]:.1f} at the last step")
print(f"share of samples that work through the sum: {history['worked'][0]:.0%} -> "
      f"{history['worked'][-1]:.0%}")

# %%
# Before and after, on one held-out question
# ------------------------------------------
from fmref.align.rlvr import sample_responses
from fmref.align.verifiable import TOKENIZER

base, _ = get("sums-base").load()
prompt = TOKENIZER.encode("6+8+3+5=")
for name, model in (("base", base), ("GRPO", policy)):
    (answer,), = sample_responses(model, [prompt], 1, temperature=0)
    print(f"{name:>5}: 6+8+3+5= {TOKENIZER.decode(answer)}")

# %%
# The curves
# ----------
fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(10, 3.8))
from fmref.align.rlvr import RLVR_SETTINGS

ax1.plot(history["eval_step"], acc, "o-",
         label=f"held-out pass@1 ({RLVR_SETTINGS['eval_samples']} samples per question)")
ax1.plot(history["step"], history["reward"], alpha=0.6, label="mean reward of the samples")
ax1.set(xlabel="GRPO step", ylabel="accuracy / reward", ylim=(0, 1))
ax1.legend(loc="lower right")
ax2.plot(history["step"], history["length"], color="tab:green", label="mean answer length")
ax2.set(xlabel="GRPO step", ylabel="tokens per sampled answer")
twin = ax2.twinx()
twin.plot(history["step"], history["worked"], color="tab:purple", alpha=0.6,
          label="share that write steps")
twin.set(ylabel="share of samples that write steps", ylim=(0, 1))
ax2.legend(loc="upper left")
twin.legend(loc="lower right")
fig.suptitle(f"A rule-based reward alone: held-out pass@1 {acc[0]:.0%} -> {acc[-1]:.0%}, "
             f"answers {history['length'][0]:.1f} -> {history['length'][-1]:.1f} tokens")
fig.tight_layout()
plt.show()
