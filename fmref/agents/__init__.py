"""Tool-augmented language models: tool schemas, tool calls, agent loops and memory.

The code of Chapter XXI. Import from this package or from its modules, for example
``from fmref.agents.tools import Tool``:

- :mod:`fmref.agents.tools`: :class:`~fmref.agents.tools.Tool` with a JSON schema built
  from a function's type hints and numpydoc docstring, argument validation,
  :class:`~fmref.agents.tools.ToolRegistry` and :class:`~fmref.agents.tools.ToolCallError`;
- :mod:`fmref.agents.parse`: the ``<tool_call>`` format, parsed and checked without ``eval``;
- :mod:`fmref.agents.calculator`: arithmetic through a whitelist of Python's syntax tree,
  with bounds on exponents and result sizes;
- :mod:`fmref.agents.react`: the ReAct loop with its trace, a step limit and tool errors
  fed back as observations, and a scripted policy;
- :mod:`fmref.agents.plan`: plan-then-execute, beside ReAct;
- :mod:`fmref.agents.mcp`: the Model Context Protocol over stdio: JSON-RPC messages, a
  server exposing a registry (``python -m fmref.agents.mcp --serve``) and a client whose
  tools the ReAct loop can call;
- :mod:`fmref.agents.guard`: guardrails: a prompt-injection detector for tool output,
  PII redaction, per-tool allow-lists, and the hooks of the ReAct loop that apply them;
- :mod:`fmref.agents.memory`: a conversation buffer with a token budget and a rolling
  summary, and long-term memory as BM25 retrieval over past turns;
- :mod:`fmref.agents.traces`: synthetic ReAct transcripts of arithmetic word problems and
  their tokenizer;
- :mod:`fmref.agents.policy`: a tiny GPT trained on those transcripts, used as the policy
  of the loop.
"""

from fmref._lazy import attach as _attach

__getattr__, __dir__ = _attach(__name__, __path__)
