"""kdash: decision support for ketamine and esketamine clinics treating resistant depression.

The packages are floors (docs/architecture.md): store, access, importers, clinical, present, ui, with the CLI and
the benchmarks on top; kdash/_moved.py keeps the old flat module names working for outside scripts."""

from kdash import _moved

__version__ = "0.1.0"
_moved.install()
