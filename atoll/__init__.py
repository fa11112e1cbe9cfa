"""Atoll: federated learning across data islands.

Layers, lowest first (a layer never imports one above it)::

    codec -> computing -> federation -> crypto -> ml -> flow -> board / serving

See ``DESIGN.md`` in the shared folder for the target architecture.
"""

__version__ = "0.1.0"

__all__ = ["__version__"]
