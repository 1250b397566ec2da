"""Compatibility path: the defaults now live in :mod:`.backends.defaults`, the thread
control in :mod:`.threads`."""

from .backends.defaults import *  # noqa: F403
from .backends.defaults import _check_sizes  # noqa: F401
from .errors import check_seed  # noqa: F401
from .threads import check_threads, torch_threads  # noqa: F401
