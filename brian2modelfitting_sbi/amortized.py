"""Compatibility path of the amortized results (:mod:`.posterior.conditioning`,
:mod:`.posterior.recordings`, :mod:`.posterior.batch`).

``RecordingPosterior`` is now :class:`~brian2modelfitting_sbi.posterior.Posterior`, the one
result type for the observed data and for new recordings.
"""

from .errors import NotAmortizedError  # noqa: F401
from .posterior.amortization import amortization_status  # noqa: F401
from .posterior.batch import batched_map, content_seed, draw_batched  # noqa: F401
from .posterior.conditioning import AmortizedResults  # noqa: F401
from .posterior.recordings import batch_result, check_protocol, normalize_recording  # noqa: F401
from .posterior.result import Posterior as RecordingPosterior  # noqa: F401

