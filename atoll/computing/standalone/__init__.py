"""The embedded ``standalone`` backend: LMDB on local disk and a pool of worker processes.

Modules, lowest first: ``_partitioner`` (deterministic key hashing), ``_storage``
(LMDB environments and blocks), ``_tasks`` (work on one partition, run in a
worker), ``_executor`` (inline or process pool), ``_table`` and ``_session``.
"""

from atoll.computing.standalone._session import StandaloneSession, StandaloneWriter
from atoll.computing.standalone._table import StandaloneTable

__all__ = ["StandaloneSession", "StandaloneTable", "StandaloneWriter"]
