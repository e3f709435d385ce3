"""fmref.text.wordpiece against transformers' BertTokenizer on real text."""

import pytest
import transformers
from hypothesis import given, settings
from hypothesis import strategies as st

from fmref.rag import minilm
from fmref.text.corpus import python_docs_topics
from fmref.text.wordpiece import WordPieceTokenizer, basic_tokenize


@pytest.fixture(scope="module")
def vocab_path():
    return minilm.minilm_files() / "vocab.txt"  # in the test extra: required


@pytest.fixture(scope="module")
def tokenizers(vocab_path):
    return (
        WordPieceTokenizer.from_file(vocab_path),
        transformers.BertTokenizer(str(vocab_path)),
        transformers.BertTokenizerFast(str(vocab_path)),
    )


def test_ids_equal_transformers_on_every_python_docs_topic(tokenizers):
    ours, slow, fast = tokenizers
    for name, text in python_docs_topics().items():
        ids = ours.encode(text)
        assert ids == slow(text)["input_ids"], name
        assert ids == fast(text)["input_ids"], name


EDGE_CASES = [
    "Café naïve résumé Ångström",  # accents stripped
    "東京タワー and 北京",  # CJK ideographs split, kana kept in words
    "zero\u200bwidth x\x00y tab\there\r\nline",  # control and format characters
    "ＡＢＣ ﬁne ½ ™",  # compatibility characters are not NFKC-normalised
    "a" * 100 + " " + "b" * 101,  # longer than 100 characters: [UNK]
    "don't stop-me now... $x^2 + y_1 = `z`",  # ASCII punctuation
    "¿Qué? «quoted» — em-dash… ‘curly’",  # Unicode punctuation
    "unknownish ☃ 🙂",  # symbols outside the vocabulary
    "a[SEP]b [CLS] [sep]",  # special tokens written in the text stay special (case-sensitive)
    "",
]


@pytest.mark.parametrize("text", EDGE_CASES)
def test_edge_cases_equal_transformers(tokenizers, text):
    ours, slow, fast = tokenizers
    assert ours.tokenize(text) == slow.tokenize(text)
    assert ours.encode(text) == fast(text)["input_ids"]


@settings(max_examples=200, deadline=None)
@given(
    st.lists(
        st.one_of(
            st.text(
                # The Unicode tables of Python and of the tokenizers library differ in
                # version: characters added since Unicode 9 (U+2E43 is punctuation to
                # Python, a letter to tokenizers) are classified differently. The random
                # text stays in Latin, Greek and Cyrillic; CJK and emoji are in EDGE_CASES.
                alphabet=st.characters(max_codepoint=0x052F, exclude_categories=["Cn", "Cs"]),
                max_size=12,
            ),
            st.just("[SEP]"),
        ),
        max_size=5,
    ).map(" ".join)
)
def test_random_text_equals_transformers(tokenizers, text):
    ours, slow, _ = tokenizers
    assert ours.encode(text) == slow(text)["input_ids"]


def test_truncation_equals_transformers(tokenizers):
    ours, _, fast = tokenizers
    text = python_docs_topics()["for"]
    ref = fast(text, truncation=True, max_length=64)["input_ids"]
    assert ours.encode(text, max_length=64) == ref
    assert len(ref) == 64


def test_greedy_longest_match_first():
    tok = WordPieceTokenizer(["[PAD]", "[UNK]", "[CLS]", "[SEP]", "un", "unaff", "##aff", "##able"])
    # "unaff" is longer than "un", so it is taken first even though "un ##aff ##able" also works
    assert tok.tokenize("unaffable") == ["unaff", "##able"]
    assert tok.tokenize("unafx") == ["[UNK]"]
    assert tok.vocab_size == 8
    assert tok.convert_tokens_to_ids(["un", "nope"]) == [4, 1]


def test_cased_mode_keeps_case_and_accents():
    assert basic_tokenize("Café", lower_case=False) == ["Café"]
    tok = WordPieceTokenizer(["[PAD]", "[UNK]", "[CLS]", "[SEP]", "Café"], lower_case=False)
    assert tok.tokenize("Café") == ["Café"]


def test_bad_input_is_refused(tmp_path):
    with pytest.raises(ValueError, match="special token"):
        WordPieceTokenizer(["[PAD]", "[UNK]", "[CLS]"])
    with pytest.raises(ValueError, match="repeat"):
        WordPieceTokenizer(["[PAD]", "[UNK]", "[CLS]", "[SEP]", "a", "a"])
    tok = WordPieceTokenizer(["[PAD]", "[UNK]", "[CLS]", "[SEP]"])
    with pytest.raises(TypeError, match="text"):
        tok.tokenize(b"bytes")
    with pytest.raises(TypeError, match="text"):
        basic_tokenize(None)
    with pytest.raises(ValueError, match="max_length"):
        tok.encode("a", max_length=1)
    path = tmp_path / "vocab.txt"
    path.write_text("[PAD]\r\n[UNK]\r\n[CLS]\r\n[SEP]\r\n", encoding="utf-8")
    assert WordPieceTokenizer.from_file(path).vocab_size == 4


def test_remembered_pieces_are_bounded(monkeypatch):
    from fmref.text import wordpiece

    tok = WordPieceTokenizer(["[PAD]", "[UNK]", "[CLS]", "[SEP]", "a", "##b", "b"])
    monkeypatch.setattr(wordpiece, "_MAX_CACHED_WORDS", 2)
    assert tok.tokenize("ab b ab a abb") == ["a", "##b", "b", "a", "##b", "a", "a", "##b", "##b"]
    assert len(tok._pieces) == 2  # cleared when full (at "a"), then refilled
