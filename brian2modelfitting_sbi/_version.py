"""The package version (one place, read by the file format and the top level)."""

__version__ = "0.1.0"
