"""Training utilities: gradient clipping and gradient-flow-through-time inspection."""
from .clip_grad import *  # noqa: F401,F403
from .gradient_flow import *  # noqa: F401,F403
