"""kdash: decision support for ketamine and esketamine clinics treating resistant depression."""

__version__ = "0.1.0"
