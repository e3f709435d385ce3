"""Tests of fmref.train.loop: schedule, optimiser groups, batches, evaluation, training."""

import math

import pytest
import torch
from torch import nn

from fmref.models.gpt import GPT, GPTConfig
from fmref.train.loop import (
    TrainConfig,
    configure_optimizer,
    cosine_schedule,
    evaluate,
    get_batch,
    train,
)


@pytest.fixture(autouse=True)
def _one_thread():
    """Tiny models gain nothing from threads, and a busy machine makes them slower."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


DATA = torch.tensor([0, 1, 2, 3, 4, 5, 6, 7, 6, 5, 4, 3, 2, 1] * 40)  # a pattern to learn


def tiny_model(seed=0):
    torch.manual_seed(seed)
    return GPT(GPTConfig(vocab_size=8, block_size=16, n_layer=1, n_head=2, n_embd=16))


CONFIG = TrainConfig(
    steps=40,
    batch_size=8,
    block_size=16,
    lr_max=1e-2,
    lr_min=1e-3,
    warmup=5,
    eval_interval=10,
    eval_batches=2,
)


# --------------------------------------------------------------------------- schedule
def test_cosine_schedule_shape():
    lrs = [cosine_schedule(s, 10, 100, 1.0, 0.1) for s in range(120)]
    assert lrs[0] == pytest.approx(0.1) and lrs[9] == pytest.approx(1.0)  # linear warm-up
    assert all(a <= b for a, b in zip(lrs[:10], lrs[1:10]))
    assert all(a >= b for a, b in zip(lrs[10:100], lrs[11:100]))  # monotone decay
    assert lrs[55] == pytest.approx(0.55)  # halfway: the mean of max and min
    assert lrs[100:] == [0.1] * 20
    assert cosine_schedule(0, 0, 10, 1.0, 0.0) == 1.0  # no warm-up


def test_cosine_schedule_bad_input_raises():
    with pytest.raises(ValueError, match="step must be >= 0"):
        cosine_schedule(-1, 0, 10, 1.0, 0.1)
    with pytest.raises(ValueError, match="warmup must be in"):
        cosine_schedule(0, 11, 10, 1.0, 0.1)


# --------------------------------------------------------------------------- optimiser
def test_weight_decay_on_matrices_only_and_tied_weights_once():
    model = tiny_model()
    opt = configure_optimizer(model, lr=1e-3, weight_decay=0.1)
    decay, no_decay = opt.param_groups
    assert decay["weight_decay"] == 0.1 and no_decay["weight_decay"] == 0.0
    assert all(p.dim() >= 2 for p in decay["params"])
    assert all(p.dim() == 1 for p in no_decay["params"])
    ids = [id(p) for g in opt.param_groups for p in g["params"]]
    assert len(ids) == len(set(ids)) == len(list(model.parameters()))
    assert any(p is model.wte.weight for p in decay["params"])  # the tied embedding, once


def test_decoupled_decay_shrinks_weights_without_gradient():
    # AdamW: with zero gradient the update is only w <- w - lr * wd * w (Loshchilov & Hutter)
    model = nn.Linear(3, 3)
    w0 = model.weight.detach().clone()
    b0 = model.bias.detach().clone()
    opt = configure_optimizer(model, lr=0.1, weight_decay=0.5)
    model.weight.grad = torch.zeros_like(model.weight)
    model.bias.grad = torch.zeros_like(model.bias)
    opt.step()
    torch.testing.assert_close(model.weight.detach(), w0 * (1 - 0.1 * 0.5))
    torch.testing.assert_close(model.bias.detach(), b0)


# --------------------------------------------------------------------------- batches
def test_get_batch_returns_windows_of_the_stream():
    data = torch.arange(50)
    batch = get_batch(data, 6, 5, torch.Generator().manual_seed(0))
    assert batch.shape == (6, 5) and batch.dtype == torch.long
    assert ((batch[:, 1:] - batch[:, :-1]) == 1).all()
    assert batch.max() < 50
    with pytest.raises(ValueError, match="data must be a 1-D tensor longer than block_size=50"):
        get_batch(data, 2, 50)


def test_evaluate_is_fixed_and_restores_mode():
    model = tiny_model().train()
    a = evaluate(model, DATA, 4, 16, 2)
    b = evaluate(model, DATA, 4, 16, 2)
    assert a == b and model.training
    assert abs(a - math.log(8)) < 0.5  # an untrained model is close to uniform
    with pytest.raises(ValueError, match="data must be a 1-D tensor"):
        evaluate(model, DATA[None], 4, 16, 2)


# --------------------------------------------------------------------------- training
def test_loss_falls_on_a_tiny_corpus():
    history = train(tiny_model(), DATA, CONFIG, val_data=DATA)
    first = sum(history["train_loss"][:5]) / 5
    last = sum(history["train_loss"][-5:]) / 5
    assert last < 0.5 * first
    assert history["val_loss"][-1] < history["val_loss"][0]
    assert history["val_step"] == [10, 20, 30, 40]
    assert history["step"] == list(range(1, 41))
    assert history["lr"][4] == pytest.approx(1e-2) and history["lr"][-1] < 2e-3


def test_same_seed_gives_same_history_and_caller_rng_untouched():
    config = TrainConfig(**{**CONFIG.__dict__, "steps": 15})
    model = tiny_model()
    torch.manual_seed(123)
    before = torch.rand(1)
    torch.manual_seed(123)
    h1 = train(model, DATA, config, val_data=DATA)
    after = torch.rand(1)
    assert torch.equal(before, after)  # train() forked the global RNG
    h2 = train(tiny_model(), DATA, config, val_data=DATA)
    for key in ("step", "lr", "train_loss", "grad_norm", "val_step", "val_loss", "config"):
        assert h1[key] == h2[key], key
    h3 = train(tiny_model(), DATA, TrainConfig(**{**h1["config"], "seed": 1}), val_data=DATA)
    assert h3["train_loss"] != h1["train_loss"]


def test_gradient_clipping_bounds_the_gradient_norm():
    model = tiny_model()
    config = TrainConfig(steps=3, batch_size=4, block_size=16, warmup=0, grad_clip=1e-3)
    history = train(model, DATA, config)
    assert history["val_loss"] == [] and len(history["grad_norm"]) == 3
    # the gradients of the last step stay on the parameters, after clipping
    clipped = torch.linalg.vector_norm(torch.stack([p.grad.norm() for p in model.parameters()]))
    assert history["grad_norm"][-1] > 10 * 1e-3  # the norm before clipping was larger ...
    assert clipped.item() == pytest.approx(1e-3, rel=1e-3)  # ... and it was scaled down
    unclipped = tiny_model()
    train(unclipped, DATA, TrainConfig(**{**config.__dict__, "grad_clip": 0}))
    norm = torch.linalg.vector_norm(torch.stack([p.grad.norm() for p in unclipped.parameters()]))
    assert norm.item() > 10 * 1e-3


def test_progress_lines_and_custom_loss(capsys):
    calls = []

    def loss_fn(model, batch):
        calls.append(batch.shape)
        return model(batch).float().pow(2).mean()

    config = TrainConfig(
        steps=4,
        batch_size=2,
        block_size=8,
        warmup=1,
        eval_interval=2,
        eval_batches=1,
        log_interval=2,
    )
    history = train(tiny_model(), DATA, config, val_data=DATA, loss_fn=loss_fn)
    out = capsys.readouterr().out.splitlines()
    assert out[0].startswith("step     2/4  loss") and "val" in out[0]
    assert len(out) == 2 and history["seconds"] > 0
    assert calls[0] == (2, 8)


def test_train_bad_input_raises():
    with pytest.raises(ValueError, match="val_data must be a 1-D tensor longer than block_size"):
        train(tiny_model(), DATA, CONFIG, val_data=DATA[:10])
    with pytest.raises(ValueError, match="train_data must be a 1-D tensor"):
        train(tiny_model(), [1, 2, 3], CONFIG)


@pytest.mark.parametrize(
    "field, value, match",
    [
        ("steps", 0, "steps must be a positive int"),
        ("warmup", 500, "warmup must be in"),
        ("lr_min", 1.0, "lr_min must be in"),
        ("batch_size", 1.5, "batch_size must be"),
    ],
)
def test_train_config_validation(field, value, match):
    with pytest.raises(ValueError, match=match):
        TrainConfig(**{field: value})


def test_train_config_from_settings_takes_its_fields_and_the_overrides():
    settings = {"n_layer": 3, "vocab_size": 768, "steps": 40, "warmup": 4, "lr_max": 1e-2,
                "seed": 1}
    config = TrainConfig.from_settings(settings, seed=7, lr_min=1e-3)
    assert config == TrainConfig(steps=40, warmup=4, lr_max=1e-2, lr_min=1e-3, seed=7)
    assert TrainConfig.from_settings({}) == TrainConfig()
    with pytest.raises(TypeError, match="settings must be a Mapping"):
        TrainConfig.from_settings([("steps", 40)])
    with pytest.raises(TypeError, match="n_layers"):
        TrainConfig.from_settings(settings, n_layers=2)
    with pytest.raises(ValueError, match="warmup must be in"):
        TrainConfig.from_settings(settings, warmup=50)
