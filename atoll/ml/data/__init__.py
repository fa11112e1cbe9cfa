"""Data inside a party: :class:`Frame` (ids, features, label) and :class:`Predictions`."""

from atoll.ml.data.frame import Frame, Predictions, write_atomic

__all__ = ["Frame", "Predictions", "write_atomic"]
