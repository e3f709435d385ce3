"""
A ReAct trace as a timeline, and a tiny GPT that learned to call a calculator
=============================================================================

The ReAct loop of :func:`fmref.agents.react.run_agent` alternates thoughts,
tool calls and observations until the policy answers. First a scripted policy
solves a two-step word problem and makes a mistake on the way: its first call
names an argument the calculator does not have. The loop does not crash; the
schema check's message comes back as an observation, and the policy fixes the
call. The figure draws the trace as a timeline, one lane per kind of event.

Then the policy is a small GPT (:func:`fmref.agents.policy.train_react_policy`,
from the shared cache) trained on synthetic ReAct transcripts of arithmetic
word problems. We run it through the same loop on problems with names it never
saw in training and count how often its final answer is right.
"""

# %%
# A scripted trace with a failed call
# -----------------------------------
import matplotlib.pyplot as plt
import torch

from fmref.agents.calculator import calculator
from fmref.agents.parse import format_tool_call
from fmref.agents.react import ScriptedPolicy, run_agent

torch.set_num_threads(1)  # tiny models: one thread is fastest and never oversubscribes

policy = ScriptedPolicy([
    "Thought: multiply the boxes by the eggs per box.\n"
    + format_tool_call("calculator", {"expr": "14 * 12"}),
    "Thought: the argument is called expression.\n"
    + format_tool_call("calculator", {"expression": "14 * 12"}),
    "Thought: now subtract the broken eggs.\n"
    + format_tool_call("calculator", {"expression": "168 - 9"}),
    "Thought: the calculator gave the total.\nAnswer: 159",
])
question = "A shop has 14 boxes of 12 eggs and 9 eggs break. How many eggs are left?"
result = run_agent(policy, [calculator], question, max_steps=6)
print(result.transcript)


# %%
# The timeline
# ------------
# Each step of the trace becomes up to three events: the thought, the action
# (the call), and the observation, or the answer on the last step.
import textwrap


def events(result):
    out = [("Question", question)]
    for step in result.steps:
        out.append(("Thought", step.thought))
        if step.answer is not None:
            out.append(("Answer", step.answer))
            continue
        call = step.action
        args = "" if call is None else ", ".join(f"{k}={v!r}" for k, v in call.arguments.items())
        out.append(("Action", "invalid call" if call is None else f"{call.name}({args})"))
        out.append(("Error" if step.observation.startswith("Error") else "Observation",
                    step.observation))
    return out


def draw_timeline(ax, evs, title):
    lanes = ["Question", "Thought", "Action", "Observation", "Error", "Answer"]
    colours = {"Question": "0.55", "Thought": "tab:blue", "Action": "tab:orange",
               "Observation": "tab:green", "Error": "tab:red", "Answer": "tab:purple"}
    for t, (kind, text) in enumerate(evs):
        y = lanes.index(kind)
        ax.barh(y, 0.9, left=t, height=0.5, color=colours[kind], alpha=0.85)
        lines = textwrap.wrap(text, 15)
        label = "\n".join(lines[:3]) + ("..." if len(lines) > 3 else "")
        ax.text(t + 0.45, y + 0.3, label, ha="center", va="bottom", fontsize=6.5,
                linespacing=1.0)
        if t:
            prev = lanes.index(evs[t - 1][0])
            ax.annotate("", (t, y), (t - 0.1, prev),
                        arrowprops=dict(arrowstyle="->", color="0.5", lw=0.8))
    ax.set_yticks(range(len(lanes)), lanes)
    ax.set_ylim(-0.5, len(lanes) + 0.2)
    ax.set_xlim(-0.2, len(evs) + 0.1)
    ax.set_xlabel("event in the trace (time →)")
    ax.set_ylabel("kind of event")
    ax.set_title(title)


fig, ax = plt.subplots(figsize=(11, 5))
draw_timeline(ax, events(result),
              f"The failed call comes back as an observation; the agent fixes it and "
              f"answers {result.answer} in {len(result.steps)} steps")
fig.tight_layout()
plt.show()

# %%
# A trained tiny policy
# ---------------------
# The policy is a two-layer GPT trained on synthetic transcripts (the loss only
# on the text the policy writes). We measure it on 100 fresh problems whose
# names never appeared in training.
import time

from fmref.agents.policy import ModelPolicy, success_rate, train_react_policy

start = time.process_time()
model, history = train_react_policy()
print(f"policy: {model.num_parameters():,} parameters, final training loss "
      f"{history[-1]:.3f} (loaded or trained in {time.process_time() - start:.1f} s of CPU)")
start = time.perf_counter()
held_out = success_rate(ModelPolicy(model), n=100)
print(f"success on held-out problems: {held_out['success']:.2f} "
      f"({time.perf_counter() - start:.1f} s for 100 runs)")
for kind, rate in held_out["by_kind"].items():
    print(f"  {kind:>8}: {rate:.2f}")

# %%
# One of its traces, and its success per kind of problem
# ------------------------------------------------------
first = held_out["results"][0]
print(first.transcript)

kinds = list(held_out["by_kind"])
fig, ax = plt.subplots(figsize=(7.2, 4))
ax.bar(kinds, [held_out["by_kind"][k] for k in kinds], color="tab:blue")
ax.axhline(held_out["success"], color="k", ls="--", lw=1,
           label=f"all problems: {held_out['success']:.0%}")
ax.set_ylim(0, 1.05)
ax.set_xlabel("kind of word problem")
ax.set_ylabel("share answered correctly")
ax.set_title(f"A {model.num_parameters() / 1e6:.2f}M-parameter GPT calling a calculator\n"
             f"solves {held_out['success']:.0%} of word problems it never saw")
ax.legend(loc="lower right")
fig.tight_layout()
plt.show()
