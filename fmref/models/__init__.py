"""Complete models built from :mod:`fmref.nn`.

Import from the modules, for example ``from fmref.models.gpt import GPT, GPTConfig``.
"""
