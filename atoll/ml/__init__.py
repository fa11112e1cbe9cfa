"""Federated algorithms, one package per algorithm, its roles side by side.

Each algorithm is a protocol between roles (``guest``, ``host``, ``arbiter``):
a package holds its declared messages and one module per role, and takes a
federation context, never a socket.
"""
