"""Current-clamp recordings from files, as Brian 2 quantities for the Inferencer.

* :func:`load_nwb`: Neurodata Without Borders files (DANDI, the Allen Cell Types database);
  the ``[nwb]`` extra (pynwb).
* :func:`load_neo`: Axon ABF and the other formats Neo reads; the ``[neo]`` extra.

Both return :class:`Recordings` (``.input``, ``.output``, ``.dt``; units kept), which goes
straight into the constructor, ``Inferencer(model=..., **rec.as_inferencer_kwargs(), ...)``;
:func:`condition_many_kwargs` turns many cells' recordings into the arguments of
:meth:`~brian2modelfitting_sbi.Inferencer.condition_many`. Mistakes raise
:class:`RecordingError` naming the file, the sweep and what is wrong.
"""

from ._common import RecordingError, Recordings, condition_many_kwargs
from .neo import load_neo
from .nwb import load_nwb

__all__ = ["RecordingError", "Recordings", "condition_many_kwargs", "load_neo", "load_nwb"]
