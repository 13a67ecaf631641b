"""PyTorch's torch.nn.modules.rnn: its classes, served from minigrad.nn (_reexport)."""
from ._reexport import reexport

__getattr__, __dir__ = reexport(__name__, (
    "GRU", "GRUCell", "LSTM", "LSTMCell", "RNN", "RNNBase", "RNNCell", "RNNCellBase",
))
