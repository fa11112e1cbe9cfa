"""Saved Tables on the storage Spark uses: a local directory or any Hadoop URI (``hdfs://``).

Layout under the warehouse (default ``<data_dir>/spark-tables``)::

    <namespace>/<name>/data/        Parquet: partition int, seq long, rows long, block binary
                                    (block: the codec's [keys, values], as in memory)
    <namespace>/<name>/_atoll_meta  codec-encoded: format, partitions, row counts per
                                    partition, partitioner version

A save writes ``<namespace>/.tmp-<name>-<id>`` and renames it into place (replacing
an old one by two renames), so a reader sees the old Table or the new one. Files are
reached through Hadoop's FileSystem API in the JVM, so local paths and HDFS behave
the same. Nothing here unpickles: blocks and metadata are decoded by the codec.
"""

from __future__ import annotations

import os
import uuid
from typing import Any

from atoll.codec import encode
from atoll.computing._checks import META_FORMAT, parse_saved_meta
from atoll.computing._errors import ComputingError, TableNotFoundError
from atoll.computing.standalone._partitioner import PARTITIONER_VERSION

__all__ = ["META_FORMAT", "Warehouse"]

META_FILE = "_atoll_meta"
SCHEMA = "partition int, seq long, rows long, block binary"


class Warehouse:
    """Saved Tables under ``root`` (a path or URI), through the JVM's Hadoop FileSystem."""

    def __init__(self, spark: Any, root: str) -> None:
        self._spark = spark
        self._jvm = spark.sparkContext._jvm
        if "://" not in root and not root.startswith("file:"):
            root = "file://" + os.path.abspath(root)
        self.root = root.rstrip("/")
        self._fs = self._path(self.root).getFileSystem(
            spark.sparkContext._jsc.hadoopConfiguration()
        )
        self._fs.mkdirs(self._path(self.root))

    def _path(self, uri: str) -> Any:
        return self._jvm.org.apache.hadoop.fs.Path(uri)

    def table_uri(self, namespace: str, name: str) -> str:
        return f"{self.root}/{namespace}/{name}"

    def exists(self, namespace: str, name: str) -> bool:
        return bool(self._fs.exists(self._path(f"{self.table_uri(namespace, name)}/{META_FILE}")))

    def write(
        self, namespace: str, name: str, staged_rdd: Any, counts: list[int], overwrite: bool
    ) -> bool:
        """Write ``staged_rdd`` (rows of SCHEMA) and the metadata; False if it exists and
        not ``overwrite``."""
        final = self.table_uri(namespace, name)
        if not overwrite and self.exists(namespace, name):
            return False
        tmp = f"{self.root}/{namespace}/.tmp-{name}-{uuid.uuid4().hex[:12]}"
        try:
            frame = self._spark.createDataFrame(staged_rdd, SCHEMA)
            frame.write.parquet(f"{tmp}/data")
            meta = {
                "format": META_FORMAT,
                "partitions": len(counts),
                "counts": list(counts),
                "partitioner": PARTITIONER_VERSION,
            }
            out = self._fs.create(self._path(f"{tmp}/{META_FILE}"), True)
            try:
                out.write(bytearray(encode(meta)))
            finally:
                out.close()
            final_path = self._path(final)
            if self._fs.exists(final_path):
                if not overwrite:
                    return False
                trash = self._path(f"{self.root}/{namespace}/.old-{name}-{uuid.uuid4().hex[:12]}")
                self._fs.rename(final_path, trash)
                self._fs.rename(self._path(tmp), final_path)
                self._fs.delete(trash, True)
            elif not self._fs.rename(self._path(tmp), final_path):
                raise ComputingError(f"saving table {namespace}/{name}: could not rename {tmp}")
        finally:
            self._fs.delete(self._path(tmp), True)
        return True

    def read_meta(self, namespace: str, name: str) -> dict[str, Any]:
        meta_path = f"{self.table_uri(namespace, name)}/{META_FILE}"
        path = self._path(meta_path)
        if not self._fs.exists(path):
            raise TableNotFoundError(f"no saved table {namespace}/{name} under {self.root}")
        stream = self._fs.open(path)
        try:
            raw = bytes(self._jvm.org.apache.commons.io.IOUtils.toByteArray(stream))
        finally:
            stream.close()
        return parse_saved_meta(raw, namespace, name, meta_path)

    def read_rows(self, namespace: str, name: str) -> Any:
        """The saved blocks as an RDD of ``(partition, (seq, rows, blob))``."""
        frame = self._spark.read.parquet(f"{self.table_uri(namespace, name)}/data")
        return frame.rdd.map(_staged_row)

    def delete(self, namespace: str, name: str) -> None:
        self._fs.delete(self._path(self.table_uri(namespace, name)), True)


def _staged_row(row: Any) -> tuple[int, tuple[int, int, int, bytes]]:
    return row[0], (0, row[1], row[2], bytes(row[3]))
