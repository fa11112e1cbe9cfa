"""The ``psi`` component: rows of every party restricted to the ids they share, aligned.

The protocols themselves live in :mod:`atoll.crypto.psi`; this package runs them
on a :class:`~atoll.ml.data.Frame` and puts every party's rows in the same id order.
"""
