"""``python -m benchmarks.validation``: run the validation benchmark and print its table."""

from .run import main

main()
