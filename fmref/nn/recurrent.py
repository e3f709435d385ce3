"""Recurrent layers written from their equations: Elman RNN, LSTM and GRU.

Each cell is a few lines of tensor algebra. The parameter names and the gate
order are those of :class:`torch.nn.LSTM` and :class:`torch.nn.GRU` (LSTM gates
``i, f, g, o``; GRU gates ``r, z, n``), so ``load_state_dict`` works in both
directions between fmref and torch layers. The sequence layers are
``batch_first`` by default and unidirectional.

References
----------
.. [1] Elman, "Finding structure in time", Cognitive Science, 1990.
.. [2] Hochreiter and Schmidhuber, "Long short-term memory", 1997.
.. [3] Cho et al., "Learning phrase representations using RNN encoder-decoder
   for statistical machine translation", EMNLP 2014.
"""

from __future__ import annotations

import math

import torch
from torch import nn

__all__ = [
    "rnn_cell",
    "lstm_cell",
    "gru_cell",
    "RNNCell",
    "LSTMCell",
    "GRUCell",
    "RNN",
    "LSTM",
    "GRU",
    "detach_state",
]

_GATES = {"rnn": 1, "lstm": 4, "gru": 3}


def _linear(x, w, b):
    return x @ w.T if b is None else x @ w.T + b


def rnn_cell(x, h, weight_ih, weight_hh, bias_ih=None, bias_hh=None, nonlinearity="tanh"):
    r"""One step of an Elman RNN: :math:`h' = \tanh(W_{ih} x + b_{ih} + W_{hh} h + b_{hh})`.

    Parameters
    ----------
    x : torch.Tensor
        Input of shape ``(B, input_size)``.
    h : torch.Tensor
        Hidden state of shape ``(B, hidden_size)``.
    weight_ih, weight_hh : torch.Tensor
        Weights of shape ``(hidden_size, input_size)`` and ``(hidden_size, hidden_size)``.
    bias_ih, bias_hh : torch.Tensor or None
        Biases of shape ``(hidden_size,)``.
    nonlinearity : {"tanh", "relu"}
        The activation.

    Returns
    -------
    torch.Tensor
        The new hidden state ``(B, hidden_size)``.

    Raises
    ------
    ValueError
        If ``nonlinearity`` is not "tanh" or "relu".

    Examples
    --------
    >>> import torch
    >>> from fmref.nn.recurrent import rnn_cell
    >>> x, h = torch.ones(2, 3), torch.zeros(2, 4)
    >>> rnn_cell(x, h, torch.zeros(4, 3), torch.eye(4)).abs().sum().item()
    0.0
    """
    if nonlinearity not in ("tanh", "relu"):
        raise ValueError(f"nonlinearity must be 'tanh' or 'relu', got {nonlinearity!r}")
    pre = _linear(x, weight_ih, bias_ih) + _linear(h, weight_hh, bias_hh)
    return torch.tanh(pre) if nonlinearity == "tanh" else torch.relu(pre)


def lstm_cell(x, state, weight_ih, weight_hh, bias_ih=None, bias_hh=None):
    r"""One step of an LSTM with torch's gate order ``i, f, g, o``.

    .. math::

        i, f, g, o &= \sigma, \sigma, \tanh, \sigma\,(W_{ih} x + b_{ih} + W_{hh} h + b_{hh}) \\
        c' &= f \odot c + i \odot g, \qquad h' = o \odot \tanh(c')

    Parameters
    ----------
    x : torch.Tensor
        Input ``(B, input_size)``.
    state : tuple of torch.Tensor
        ``(h, c)``, each ``(B, hidden_size)``.
    weight_ih, weight_hh : torch.Tensor
        ``(4 * hidden_size, input_size)`` and ``(4 * hidden_size, hidden_size)``.
    bias_ih, bias_hh : torch.Tensor or None
        ``(4 * hidden_size,)``.

    Returns
    -------
    tuple of torch.Tensor
        The new ``(h, c)``.

    References
    ----------
    .. [1] Hochreiter and Schmidhuber, "Long short-term memory", 1997.

    Examples
    --------
    >>> import torch
    >>> from fmref.nn.recurrent import lstm_cell
    >>> h, c = lstm_cell(torch.ones(2, 3), (torch.zeros(2, 4), torch.zeros(2, 4)),
    ...                  torch.zeros(16, 3), torch.zeros(16, 4))
    >>> h.shape, round(c[0, 0].item(), 4)  # c = 0.5 * 0 + 0.5 * tanh(0)
    (torch.Size([2, 4]), 0.0)
    """
    if not isinstance(state, (tuple, list)) or len(state) != 2:
        raise TypeError(f"state must be a pair (h, c), got {type(state).__name__}")
    h, c = state
    gates = _linear(x, weight_ih, bias_ih) + _linear(h, weight_hh, bias_hh)  # (B, 4H)
    i, f, g, o = gates.chunk(4, dim=-1)
    c = torch.sigmoid(f) * c + torch.sigmoid(i) * torch.tanh(g)
    h = torch.sigmoid(o) * torch.tanh(c)
    return h, c


def gru_cell(x, h, weight_ih, weight_hh, bias_ih=None, bias_hh=None):
    r"""One step of a GRU with torch's gate order ``r, z, n``.

    .. math::

        r &= \sigma(W_{ir} x + b_{ir} + W_{hr} h + b_{hr}), \quad
        z = \sigma(W_{iz} x + b_{iz} + W_{hz} h + b_{hz}) \\
        n &= \tanh(W_{in} x + b_{in} + r \odot (W_{hn} h + b_{hn})), \quad
        h' = (1 - z) \odot n + z \odot h

    Parameters
    ----------
    x : torch.Tensor
        Input ``(B, input_size)``.
    h : torch.Tensor
        Hidden state ``(B, hidden_size)``.
    weight_ih, weight_hh : torch.Tensor
        ``(3 * hidden_size, input_size)`` and ``(3 * hidden_size, hidden_size)``.
    bias_ih, bias_hh : torch.Tensor or None
        ``(3 * hidden_size,)``.

    Returns
    -------
    torch.Tensor
        The new hidden state ``(B, hidden_size)``.

    References
    ----------
    .. [1] Cho et al., "Learning phrase representations using RNN
       encoder-decoder for statistical machine translation", 2014.

    Examples
    --------
    >>> import torch
    >>> from fmref.nn.recurrent import gru_cell
    >>> h = torch.ones(1, 2)
    >>> gru_cell(torch.ones(1, 3), h, torch.zeros(6, 3), torch.zeros(6, 2))  # z = 0.5, n = 0
    tensor([[0.5000, 0.5000]])
    """
    H = h.shape[-1]
    for name, w, cols in (("weight_ih", weight_ih, x.shape[-1]), ("weight_hh", weight_hh, H)):
        if tuple(w.shape) != (3 * H, cols):
            raise ValueError(
                f"{name} must have shape {(3 * H, cols)} (3H, ...), got {tuple(w.shape)}"
            )
    gi = _linear(x, weight_ih, bias_ih)  # (B, 3H)
    gh = _linear(h, weight_hh, bias_hh)  # (B, 3H)
    i_r, i_z, i_n = gi.chunk(3, dim=-1)
    h_r, h_z, h_n = gh.chunk(3, dim=-1)
    r = torch.sigmoid(i_r + h_r)
    z = torch.sigmoid(i_z + h_z)
    n = torch.tanh(i_n + r * h_n)
    return (1 - z) * n + z * h


def _check_sizes(input_size, hidden_size):
    if not isinstance(input_size, int) or input_size < 1:
        raise ValueError(f"input_size must be a positive int, got {input_size!r}")
    if not isinstance(hidden_size, int) or hidden_size < 1:
        raise ValueError(f"hidden_size must be a positive int, got {hidden_size!r}")


class _CellBase(nn.Module):
    mode = "rnn"

    def __init__(self, input_size: int, hidden_size: int, bias: bool = True):
        super().__init__()
        _check_sizes(input_size, hidden_size)
        self.input_size, self.hidden_size = input_size, hidden_size
        g = _GATES[self.mode] * hidden_size
        self.weight_ih = nn.Parameter(torch.empty(g, input_size))
        self.weight_hh = nn.Parameter(torch.empty(g, hidden_size))
        self.bias_ih = nn.Parameter(torch.empty(g)) if bias else None
        self.bias_hh = nn.Parameter(torch.empty(g)) if bias else None
        self.reset_parameters()

    def reset_parameters(self) -> None:
        # torch's initialisation: U(-1/sqrt(H), 1/sqrt(H)) for every parameter
        bound = 1.0 / math.sqrt(self.hidden_size)
        for p in self.parameters():
            nn.init.uniform_(p, -bound, bound)

    def _zeros(self, x):
        return x.new_zeros(x.shape[0], self.hidden_size)


class RNNCell(_CellBase):
    """Elman RNN cell; parameters named as in :class:`torch.nn.RNNCell`.

    Parameters
    ----------
    input_size : int
        Features of the input.
    hidden_size : int
        Features of the hidden state.
    bias : bool
        Whether to use ``bias_ih`` and ``bias_hh`` (default True).
    nonlinearity : {"tanh", "relu"}
        Activation (default "tanh").

    Raises
    ------
    ValueError
        If a size is not a positive int or ``nonlinearity`` is unknown.

    Examples
    --------
    >>> import torch
    >>> from fmref.nn.recurrent import RNNCell
    >>> cell = RNNCell(3, 5)
    >>> cell(torch.randn(2, 3)).shape
    torch.Size([2, 5])
    """

    mode = "rnn"

    def __init__(
        self, input_size: int, hidden_size: int, bias: bool = True, nonlinearity: str = "tanh"
    ):
        if nonlinearity not in ("tanh", "relu"):
            raise ValueError(f"nonlinearity must be 'tanh' or 'relu', got {nonlinearity!r}")
        super().__init__(input_size, hidden_size, bias)
        self.nonlinearity = nonlinearity

    def forward(self, x: torch.Tensor, h: torch.Tensor | None = None) -> torch.Tensor:
        h = self._zeros(x) if h is None else h
        return rnn_cell(
            x, h, self.weight_ih, self.weight_hh, self.bias_ih, self.bias_hh, self.nonlinearity
        )


class LSTMCell(_CellBase):
    """LSTM cell; parameters named as in :class:`torch.nn.LSTMCell`.

    Parameters
    ----------
    input_size : int
        Features of the input.
    hidden_size : int
        Features of the hidden and cell states.
    bias : bool
        Whether to use biases (default True).

    Raises
    ------
    ValueError
        If a size is not a positive int.

    Examples
    --------
    >>> import torch
    >>> from fmref.nn.recurrent import LSTMCell
    >>> h, c = LSTMCell(3, 5)(torch.randn(2, 3))
    >>> h.shape, c.shape
    (torch.Size([2, 5]), torch.Size([2, 5]))
    """

    mode = "lstm"

    def forward(self, x, state=None):
        state = (self._zeros(x), self._zeros(x)) if state is None else state
        return lstm_cell(x, state, self.weight_ih, self.weight_hh, self.bias_ih, self.bias_hh)


class GRUCell(_CellBase):
    """GRU cell; parameters named as in :class:`torch.nn.GRUCell`.

    Parameters
    ----------
    input_size : int
        Features of the input.
    hidden_size : int
        Features of the hidden state.
    bias : bool
        Whether to use biases (default True).

    Raises
    ------
    ValueError
        If a size is not a positive int.

    Examples
    --------
    >>> import torch
    >>> from fmref.nn.recurrent import GRUCell
    >>> GRUCell(3, 5)(torch.randn(2, 3)).shape
    torch.Size([2, 5])
    """

    mode = "gru"

    def forward(self, x, h=None):
        h = self._zeros(x) if h is None else h
        return gru_cell(x, h, self.weight_ih, self.weight_hh, self.bias_ih, self.bias_hh)


class _RecurrentBase(nn.Module):
    mode = "rnn"

    def __init__(
        self, input_size, hidden_size, num_layers=1, bias=True, batch_first=True, dropout=0.0
    ):
        super().__init__()
        _check_sizes(input_size, hidden_size)
        if not isinstance(num_layers, int) or num_layers < 1:
            raise ValueError(f"num_layers must be a positive int, got {num_layers!r}")
        if not 0.0 <= dropout < 1.0:
            raise ValueError(f"dropout must be in [0, 1), got {dropout!r}")
        self.input_size, self.hidden_size, self.num_layers = input_size, hidden_size, num_layers
        self.bias, self.batch_first, self.dropout = bias, batch_first, dropout
        g = _GATES[self.mode] * hidden_size
        for layer in range(num_layers):
            d_in = input_size if layer == 0 else hidden_size
            # torch's names: weight_ih_l0, weight_hh_l0, bias_ih_l0, bias_hh_l0, ...
            self.register_parameter(f"weight_ih_l{layer}", nn.Parameter(torch.empty(g, d_in)))
            self.register_parameter(
                f"weight_hh_l{layer}", nn.Parameter(torch.empty(g, hidden_size))
            )
            if bias:
                self.register_parameter(f"bias_ih_l{layer}", nn.Parameter(torch.empty(g)))
                self.register_parameter(f"bias_hh_l{layer}", nn.Parameter(torch.empty(g)))
        self.reset_parameters()

    def reset_parameters(self) -> None:
        bound = 1.0 / math.sqrt(self.hidden_size)
        for p in self.parameters():
            nn.init.uniform_(p, -bound, bound)

    def _weights(self, layer):
        get = lambda name: getattr(self, f"{name}_l{layer}", None)  # noqa: E731
        return get("weight_ih"), get("weight_hh"), get("bias_ih"), get("bias_hh")

    def _step(self, x, state, weights):  # pragma: no cover - overridden
        raise NotImplementedError

    def forward(self, x: torch.Tensor, hx=None):
        """Run the layers over a whole sequence.

        Parameters
        ----------
        x : torch.Tensor
            ``(B, T, input_size)`` if ``batch_first`` else ``(T, B, input_size)``.
        hx : torch.Tensor or tuple of torch.Tensor, optional
            Initial state ``(num_layers, B, hidden_size)`` (a pair ``(h0, c0)``
            for the LSTM); zeros if omitted.

        Returns
        -------
        output : torch.Tensor
            Hidden states of the last layer at every step, laid out like ``x``.
        state : torch.Tensor or tuple of torch.Tensor
            Final state ``(num_layers, B, hidden_size)`` (``(h_n, c_n)`` for the LSTM).
        """
        if x.dim() != 3 or x.shape[-1] != self.input_size:
            raise ValueError(f"x must have shape (B, T, {self.input_size}) , got {tuple(x.shape)}")
        if not self.batch_first:
            x = x.transpose(0, 1)
        B, T, _ = x.shape
        zeros = x.new_zeros(self.num_layers, B, self.hidden_size)
        if self.mode == "lstm":
            h0, c0 = (zeros, zeros) if hx is None else hx
        else:
            h0, c0 = (zeros if hx is None else hx), None
        if h0.shape != zeros.shape:
            raise ValueError(f"hx must have shape {tuple(zeros.shape)}, got {tuple(h0.shape)}")
        h_n, c_n = [], []
        inp = x  # (B, T, C)
        for layer in range(self.num_layers):
            w = self._weights(layer)
            state = (h0[layer], c0[layer]) if self.mode == "lstm" else h0[layer]
            outs = []
            for t in range(T):
                state = self._step(inp[:, t], state, w)
                outs.append(state[0] if self.mode == "lstm" else state)
            inp = torch.stack(outs, dim=1)  # (B, T, H)
            if self.mode == "lstm":
                h_n.append(state[0])
                c_n.append(state[1])
            else:
                h_n.append(state)
            if self.dropout > 0 and self.training and layer < self.num_layers - 1:
                inp = nn.functional.dropout(inp, self.dropout, training=True)
        out = inp if self.batch_first else inp.transpose(0, 1)
        h_n = torch.stack(h_n)  # (L, B, H)
        return (out, (h_n, torch.stack(c_n))) if self.mode == "lstm" else (out, h_n)


class RNN(_RecurrentBase):
    """Multi-layer Elman RNN; ``load_state_dict`` compatible with :class:`torch.nn.RNN`.

    Parameters
    ----------
    input_size : int
        Features of the input.
    hidden_size : int
        Features of the hidden state.
    num_layers : int
        Stacked layers (default 1).
    bias : bool
        Whether to use biases (default True).
    batch_first : bool
        Input and output are ``(B, T, C)`` when True (default True), else ``(T, B, C)``.
    dropout : float
        Dropout between layers during training (default 0.0).
    nonlinearity : {"tanh", "relu"}
        Activation (default "tanh").

    Raises
    ------
    ValueError
        If a size, ``num_layers``, ``dropout`` or ``nonlinearity`` is invalid,
        or the input or initial state has the wrong shape.

    References
    ----------
    .. [1] Elman, "Finding structure in time", Cognitive Science, 1990.

    Examples
    --------
    >>> import torch
    >>> from fmref.nn.recurrent import RNN
    >>> out, h_n = RNN(3, 8, num_layers=2)(torch.randn(4, 10, 3))
    >>> out.shape, h_n.shape
    (torch.Size([4, 10, 8]), torch.Size([2, 4, 8]))
    """

    mode = "rnn"

    def __init__(
        self,
        input_size,
        hidden_size,
        num_layers=1,
        bias=True,
        batch_first=True,
        dropout=0.0,
        nonlinearity="tanh",
    ):
        if nonlinearity not in ("tanh", "relu"):
            raise ValueError(f"nonlinearity must be 'tanh' or 'relu', got {nonlinearity!r}")
        super().__init__(input_size, hidden_size, num_layers, bias, batch_first, dropout)
        self.nonlinearity = nonlinearity

    def _step(self, x, h, w):
        return rnn_cell(x, h, *w, nonlinearity=self.nonlinearity)


class LSTM(_RecurrentBase):
    """Multi-layer LSTM; ``load_state_dict`` compatible with :class:`torch.nn.LSTM`.

    Parameters
    ----------
    input_size : int
        Features of the input.
    hidden_size : int
        Features of the hidden and cell states.
    num_layers : int
        Stacked layers (default 1).
    bias : bool
        Whether to use biases (default True).
    batch_first : bool
        ``(B, T, C)`` layout when True (default True).
    dropout : float
        Dropout between layers during training (default 0.0).

    Raises
    ------
    ValueError
        If a size, ``num_layers`` or ``dropout`` is invalid, or the input or
        initial state has the wrong shape.

    References
    ----------
    .. [1] Hochreiter and Schmidhuber, "Long short-term memory", 1997.

    Examples
    --------
    >>> import torch
    >>> from fmref.nn.recurrent import LSTM
    >>> ours, theirs = LSTM(3, 8), torch.nn.LSTM(3, 8, batch_first=True)
    >>> _ = ours.load_state_dict(theirs.state_dict())
    >>> x = torch.randn(2, 5, 3)
    >>> torch.allclose(ours(x)[0], theirs(x)[0], atol=1e-6)
    True
    """

    mode = "lstm"

    def _step(self, x, state, w):
        return lstm_cell(x, state, *w)


class GRU(_RecurrentBase):
    """Multi-layer GRU; ``load_state_dict`` compatible with :class:`torch.nn.GRU`.

    Parameters
    ----------
    input_size : int
        Features of the input.
    hidden_size : int
        Features of the hidden state.
    num_layers : int
        Stacked layers (default 1).
    bias : bool
        Whether to use biases (default True).
    batch_first : bool
        ``(B, T, C)`` layout when True (default True).
    dropout : float
        Dropout between layers during training (default 0.0).

    Raises
    ------
    ValueError
        If a size, ``num_layers`` or ``dropout`` is invalid, or the input or
        initial state has the wrong shape.

    References
    ----------
    .. [1] Cho et al., "Learning phrase representations using RNN
       encoder-decoder for statistical machine translation", 2014.

    Examples
    --------
    >>> import torch
    >>> from fmref.nn.recurrent import GRU
    >>> out, h_n = GRU(3, 8)(torch.randn(2, 5, 3))
    >>> torch.equal(out[:, -1], h_n[-1])
    True
    """

    mode = "gru"

    def _step(self, x, h, w):
        return gru_cell(x, h, *w)


def detach_state(state):
    """Cut the autograd graph at a recurrent state, for truncated BPTT.

    Between two chunks of a long sequence, the state carries the values forward
    while ``detach`` stops gradients from flowing into the previous chunk.

    Parameters
    ----------
    state : torch.Tensor or tuple of torch.Tensor
        A hidden state, or an LSTM's ``(h, c)``.

    Returns
    -------
    torch.Tensor or tuple of torch.Tensor
        The same values with no gradient history.

    Raises
    ------
    TypeError
        If ``state`` is neither a tensor nor a tuple of tensors.

    Examples
    --------
    >>> import torch
    >>> from fmref.nn.recurrent import LSTM, detach_state
    >>> lstm, x = LSTM(2, 4), torch.randn(1, 20, 2)
    >>> state = None
    >>> for chunk in x.split(5, dim=1):  # truncated BPTT, 5 steps per chunk
    ...     out, state = lstm(chunk, state)
    ...     out.sum().backward()
    ...     state = detach_state(state)
    >>> state[0].requires_grad
    False
    """
    if isinstance(state, torch.Tensor):
        return state.detach()
    if isinstance(state, tuple) and all(isinstance(s, torch.Tensor) for s in state):
        return tuple(s.detach() for s in state)
    raise TypeError(f"state must be a tensor or a tuple of tensors, got {type(state).__name__}")
