"""brian2modelfitting's own ``Inferencer`` API, translated onto ours.

brian2modelfitting's GitHub master has an ``Inferencer`` of its own (its documentation is
where this project started). Scripts written for it run here with the import changed to
``from brian2modelfitting_sbi import Inferencer``: this package holds the translation of its
arguments and the results in its shapes, so that the Inferencer itself only delegates.

================  ======================================================================
module            job
================  ======================================================================
``arguments``     keyword checks with suggestions, upstream's option names, its helpers
``steps``         the step API: prior, training data, summary statistics, init_inference
``fitting``       ``infer`` with upstream's options, ``train``/``build_posterior`` steps,
                  ``infer_step``, the saved posterior
``results``       ``sample(shape)``, ``generate_traces``, ``conditional_corrcoeff``
``plots``         ``pairplot``/``conditional_pairplot`` on pyplot figures
``attributes``    :class:`UpstreamAttributes`, the Inferencer's mixin of upstream's names
================  ======================================================================

It imports the layers below the inference orchestration (problem, simulation, backends,
posterior results), never :mod:`~brian2modelfitting_sbi.inference` or the Inferencer: the
functions take the Inferencer as an argument and use its public state and methods.

Where the two APIs differ:

- ``sample((n,))`` (a shape) returns an array ``(n, d)`` of SI floats, columns in
  ``param_names`` order, as upstream; ``sample(n)`` (an int) keeps our dict of quantities.
- ``pairplot``/``conditional_pairplot`` called with upstream's keywords (``labels``,
  ``ticks``, ``subset``, ``samples``, sbi plot options such as ``points_offdiag``) or with an
  array ``condition`` draw on a pyplot figure and return ``(fig, axes)``, as upstream
  (:mod:`~brian2modelfitting_sbi.upstream.plots`); values are shown in display units.
- ``generate_traces`` without any of our keywords (``params``, ``n_draws``, ``variables``,
  ``seed``, ``return_params``) has upstream's meaning: one simulation at the mean of ``n_samples``
  posterior draws, a Quantity ``(n_traces, n_steps)``; our posterior-predictive form is
  :meth:`~brian2modelfitting_sbi.Inferencer.predictive_traces`.
- ``train(inference, theta, x)`` and ``build_posterior(inference)`` (a backend as first
  argument) are upstream's steps; ``train('snpe', ...)``/``build_posterior()`` are ours.
- ``init_inference`` returns our backend object (it wraps the sbi trainer as ``.trainer``);
  ``save_posterior``/``load_posterior`` write and read our zip format
  (:mod:`~brian2modelfitting_sbi.archive`), not a pickled posterior.
"""

from .arguments import calc_prior, get_param_dict
from .attributes import UpstreamAttributes

__all__ = ["UpstreamAttributes", "calc_prior", "get_param_dict"]
