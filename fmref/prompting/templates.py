"""Prompt templates and few-shot prompts that fit a token budget.

A prompt is a program whose variables are filled at run time. Keeping the
template separate from the values makes prompts testable (every field is filled,
no stray braces) and makes the boundary between *instructions* and *data*
explicit, which is where prompt injection attacks strike (Chapter XV). Chat
messages are rendered by :func:`fmref.align.sft.format_chat`.
"""

from __future__ import annotations

import string

__all__ = ["PromptTemplate", "few_shot_prompt"]


class PromptTemplate:
    """A ``str.format`` template whose fields must all be given, and only those.

    Parameters
    ----------
    template : str
        Text with ``{field}`` placeholders (``{{`` and ``}}`` for literal braces).

    Attributes
    ----------
    fields : tuple of str
        The placeholders, in order of first appearance.

    Raises
    ------
    ValueError
        If a placeholder is positional (``{}``, ``{0}``) or has a format spec.
    TypeError
        If ``template`` is not a string.

    Examples
    --------
    >>> from fmref.prompting.templates import PromptTemplate
    >>> t = PromptTemplate("Translate to {language}:\\n{text}")
    >>> t.fields
    ('language', 'text')
    >>> print(t.format(language="French", text="Good morning"))
    Translate to French:
    Good morning
    >>> t.format(language="French")
    Traceback (most recent call last):
    ...
    ValueError: missing fields: ['text']
    """

    def __init__(self, template):
        if not isinstance(template, str):
            raise TypeError(f"template must be a str, got {type(template).__name__}")
        fields = []
        for _, name, spec, conversion in string.Formatter().parse(template):
            if name is None:
                continue
            if not name.isidentifier() or spec or conversion:
                raise ValueError(
                    f"template fields must be plain names like {{text}}, "
                    f"got {{{name}{'!' + conversion if conversion else ''}"
                    f"{':' + spec if spec else ''}}}"
                )
            if name not in fields:
                fields.append(name)
        self.template, self.fields = template, tuple(fields)

    def format(self, **values):
        """Fill every field; raise ``ValueError`` on missing or unexpected ones."""
        missing = [f for f in self.fields if f not in values]
        extra = sorted(set(values) - set(self.fields))
        if missing:
            raise ValueError(f"missing fields: {missing}")
        if extra:
            raise ValueError(f"unexpected fields: {extra}")
        return self.template.format(**values)

    def __repr__(self):
        return f"PromptTemplate({self.template!r})"


def _count_words(text):
    return len(text.split())


def few_shot_prompt(
    instruction,
    examples,
    query,
    max_tokens,
    count_tokens=None,
    example_template="Input: {input}\nOutput: {output}",
    separator="\n\n",
):
    """Instruction, as many demonstrations as fit in ``max_tokens``, then the query.

    Demonstrations are added in the order given (put the most relevant first)
    until the next one would exceed the budget.

    Parameters
    ----------
    instruction : str
        Task description (may be empty).
    examples : list of dict
        Demonstrations with the fields of ``example_template``.
    query : str
        The input to answer; rendered with ``example_template`` and an empty output.
    max_tokens : int
        Budget for the whole prompt.
    count_tokens : callable, optional
        ``str -> int``; default counts whitespace-separated words. Pass
        ``lambda s: len(tokenizer.encode(s))`` for real token counts.
    example_template : str, default ``"Input: {input}\\nOutput: {output}"``
        Template of one demonstration (fields ``input`` and ``output``).
    separator : str, default ``"\\n\\n"``
        Between the parts.

    Returns
    -------
    prompt : str
    n_examples : int
        Demonstrations that fit.

    Raises
    ------
    ValueError
        If the instruction and query alone exceed ``max_tokens``.

    References
    ----------
    .. [1] Brown et al., "Language Models are Few-Shot Learners", NeurIPS 2020.

    Examples
    --------
    >>> from fmref.prompting.templates import few_shot_prompt
    >>> shots = [{"input": "cat", "output": "chat"}, {"input": "dog", "output": "chien"}]
    >>> prompt, n = few_shot_prompt("English to French.", shots, "bird", max_tokens=12)
    >>> n
    1
    >>> print(prompt)
    English to French.
    <BLANKLINE>
    Input: cat
    Output: chat
    <BLANKLINE>
    Input: bird
    Output:
    """
    count = _count_words if count_tokens is None else count_tokens
    template = PromptTemplate(example_template)
    tail = template.format(input=query, output="").rstrip()
    parts = [instruction] if instruction else []
    if count(separator.join(parts + [tail])) > max_tokens:
        raise ValueError(
            f"max_tokens={max_tokens} is too small for the instruction and query "
            f"({count(separator.join(parts + [tail]))} tokens)"
        )
    n = 0
    for example in examples:
        shot = template.format(**example)
        if count(separator.join(parts + [shot, tail])) > max_tokens:
            break
        parts.append(shot)
        n += 1
    return separator.join(parts + [tail]), n
