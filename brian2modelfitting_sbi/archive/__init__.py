"""The file format of a saved inference (see :mod:`.format`)."""

from .format import FORMAT, VERSION, SavedInference, load_saved, read, save
from .saved_features import SavedFeatures

__all__ = ["FORMAT", "VERSION", "SavedFeatures", "SavedInference", "load_saved", "read", "save"]
