"""Tests for fmref.nn.recurrent: equivalence with torch's recurrent layers."""

import pytest
import torch

from fmref.nn.recurrent import (
    GRU,
    LSTM,
    RNN,
    GRUCell,
    LSTMCell,
    RNNCell,
    detach_state,
    gru_cell,
    rnn_cell,
)


@pytest.mark.parametrize("nonlinearity", ["tanh", "relu"])
def test_rnn_cell_matches_torch_rnn_cell(nonlinearity):
    torch.manual_seed(0)
    theirs = torch.nn.RNNCell(3, 5, nonlinearity=nonlinearity)
    ours = RNNCell(3, 5, nonlinearity=nonlinearity)
    ours.load_state_dict(theirs.state_dict())
    x, h = torch.randn(4, 3), torch.randn(4, 5)
    torch.testing.assert_close(ours(x, h), theirs(x, h))
    torch.testing.assert_close(ours(x), theirs(x))


def test_lstm_and_gru_cells_match_torch_cells():
    torch.manual_seed(0)
    x, h, c = torch.randn(4, 3), torch.randn(4, 5), torch.randn(4, 5)
    t_lstm, o_lstm = torch.nn.LSTMCell(3, 5), LSTMCell(3, 5)
    o_lstm.load_state_dict(t_lstm.state_dict())
    for a, b in zip(o_lstm(x, (h, c)), t_lstm(x, (h, c))):
        torch.testing.assert_close(a, b)
    for a, b in zip(o_lstm(x), t_lstm(x)):
        torch.testing.assert_close(a, b)
    t_gru, o_gru = torch.nn.GRUCell(3, 5), GRUCell(3, 5)
    o_gru.load_state_dict(t_gru.state_dict())
    torch.testing.assert_close(o_gru(x, h), t_gru(x, h))
    torch.testing.assert_close(o_gru(x), t_gru(x))


@pytest.mark.parametrize("batch_first", [True, False])
@pytest.mark.parametrize("bias", [True, False])
def test_multilayer_lstm_matches_torch_with_loaded_weights(batch_first, bias):
    torch.manual_seed(0)
    theirs = torch.nn.LSTM(3, 6, num_layers=3, bias=bias, batch_first=batch_first)
    ours = LSTM(3, 6, num_layers=3, bias=bias, batch_first=batch_first)
    ours.load_state_dict(theirs.state_dict())  # strict: the names are torch's
    x = torch.randn(2, 7, 3) if batch_first else torch.randn(7, 2, 3)
    h0, c0 = torch.randn(3, 2, 6), torch.randn(3, 2, 6)
    out_o, (h_o, c_o) = ours(x, (h0, c0))
    out_t, (h_t, c_t) = theirs(x, (h0, c0))
    torch.testing.assert_close(out_o, out_t)
    torch.testing.assert_close(h_o, h_t)
    torch.testing.assert_close(c_o, c_t)


@pytest.mark.parametrize("cls,torch_cls", [(GRU, torch.nn.GRU), (RNN, torch.nn.RNN)])
def test_multilayer_gru_and_rnn_match_torch_with_loaded_weights(cls, torch_cls):
    torch.manual_seed(0)
    theirs = torch_cls(4, 5, num_layers=2, batch_first=True)
    ours = cls(4, 5, num_layers=2)
    ours.load_state_dict(theirs.state_dict())
    x = torch.randn(3, 6, 4)
    out_o, h_o = ours(x)
    out_t, h_t = theirs(x)
    torch.testing.assert_close(out_o, out_t)
    torch.testing.assert_close(h_o, h_t)
    h0 = torch.randn(2, 3, 5)
    torch.testing.assert_close(ours(x, h0)[0], theirs(x, h0)[0])


def test_torch_layer_loads_fmref_weights_too():
    ours, theirs = GRU(2, 3), torch.nn.GRU(2, 3, batch_first=True)
    theirs.load_state_dict(ours.state_dict())
    x = torch.randn(1, 4, 2)
    torch.testing.assert_close(ours(x)[0], theirs(x)[0])


def test_gradients_match_torch_lstm():
    torch.manual_seed(0)
    theirs, ours = torch.nn.LSTM(3, 4, batch_first=True), LSTM(3, 4)
    ours.load_state_dict(theirs.state_dict())
    x = torch.randn(2, 5, 3)
    ours(x)[0].pow(2).sum().backward()
    theirs(x)[0].pow(2).sum().backward()
    torch.testing.assert_close(ours.weight_hh_l0.grad, theirs.weight_hh_l0.grad)


def test_dropout_between_layers_only_in_training():
    torch.manual_seed(0)
    m = LSTM(3, 4, num_layers=2, dropout=0.5)
    x = torch.randn(2, 5, 3)
    m.eval()
    a, b = m(x)[0], m(x)[0]
    torch.testing.assert_close(a, b)
    m.train()
    assert not torch.allclose(m(x)[0], a)


def test_detach_state_cuts_graph_and_keeps_values():
    h = torch.randn(2, 3, requires_grad=True) * 2
    assert not detach_state(h).requires_grad
    pair = detach_state((h, h))
    assert isinstance(pair, tuple) and not pair[1].requires_grad
    torch.testing.assert_close(pair[0], h.detach())
    with pytest.raises(TypeError, match="state"):
        detach_state([h])


def test_bad_input_raises_naming_the_argument():
    with pytest.raises(ValueError, match="nonlinearity"):
        rnn_cell(
            torch.ones(1, 1),
            torch.ones(1, 1),
            torch.ones(1, 1),
            torch.ones(1, 1),
            nonlinearity="gelu",
        )
    with pytest.raises(ValueError, match="nonlinearity"):
        RNNCell(2, 3, nonlinearity="sigmoid")
    with pytest.raises(ValueError, match="nonlinearity"):
        RNN(2, 3, nonlinearity="sigmoid")
    with pytest.raises(ValueError, match="input_size"):
        LSTM(0, 3)
    with pytest.raises(ValueError, match="hidden_size"):
        GRUCell(2, -1)
    with pytest.raises(ValueError, match="num_layers"):
        GRU(2, 3, num_layers=0)
    with pytest.raises(ValueError, match="dropout"):
        GRU(2, 3, dropout=1.0)
    with pytest.raises(ValueError, match="x must have shape"):
        GRU(2, 3)(torch.ones(4, 2))
    with pytest.raises(ValueError, match="hx"):
        GRU(2, 3)(torch.ones(1, 4, 2), torch.zeros(2, 1, 3))


def test_gru_cell_golden_value():
    # With zero weights: r = z = sigmoid(0) = 0.5, n = tanh(0) = 0, h' = 0.5 * h.
    h = torch.tensor([[2.0, -4.0]])
    out = gru_cell(torch.ones(1, 3), h, torch.zeros(6, 3), torch.zeros(6, 2))
    torch.testing.assert_close(out, torch.tensor([[1.0, -2.0]]))
