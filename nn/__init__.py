"""minigrad.nn: layers, losses and utilities built only on minigrad's public API."""
from . import functional, init, modules, utils
from .activation import *  # noqa: F401,F403
from .adaptive_pooling import *  # noqa: F401,F403
from .attention import *  # noqa: F401,F403
from .batchnorm import *  # noqa: F401,F403
from .bilinear import *  # noqa: F401,F403
from .containers import *  # noqa: F401,F403
from .conv import *  # noqa: F401,F403
from .conv1d import *  # noqa: F401,F403
from .conv_transpose import *  # noqa: F401,F403
from .ctc import *  # noqa: F401,F403
from .distance import *  # noqa: F401,F403
from .dropout import *  # noqa: F401,F403
from .embedding_bag import *  # noqa: F401,F403
from .flatten import *  # noqa: F401,F403
from .linear import *  # noqa: F401,F403
from .loss import *  # noqa: F401,F403
from .margin_losses import *  # noqa: F401,F403
from .module import Module
from .normalization import *  # noqa: F401,F403
from .parameter import Parameter
from .pooling import *  # noqa: F401,F403
from .probability_losses import *  # noqa: F401,F403
from .regression_losses import *  # noqa: F401,F403
from .rnn import *  # noqa: F401,F403
from .sparse import *  # noqa: F401,F403
from .transformer import *  # noqa: F401,F403
from . import parallel  # noqa: E402  (DistributedDataParallel, over minigrad.distributed)
