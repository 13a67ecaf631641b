"""Training utilities: gradient clipping, gradient flow through time, parameter vectors,
parametrizations (weight and spectral norm), model summaries and beam search."""
from .clip_grad import *  # noqa: F401,F403
from .gradient_flow import *  # noqa: F401,F403
from . import parametrizations, parametrize, rnn  # noqa: F401
from .convert_parameters import *  # noqa: F401,F403
from .parametrizations import spectral_norm, weight_norm  # noqa: F401
from .summary import summary  # noqa: F401  (the function shadows its module's name)
from .beam_search import BeamSearchResult, beam_search  # noqa: F401  (shadows its module too)
