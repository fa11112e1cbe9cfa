"""The one SparkContext of this process, shared by every Spark computing session.

Spark allows one SparkContext per process. The first session starts it with its
``master`` and Spark settings; later sessions share it and must not ask for a
different master or different values of settings already made (they are refused,
naming the setting). It stays up until the process exits (starting a JVM takes
seconds, so sessions opened one after another do not pay it again) or until
:func:`stop` is called.

Defaults, each overridable through the session's ``conf``: no web UI, no console
progress bar, a log4j2 configuration that keeps Spark's JVM at WARN and silences
the task-failure reports that Atoll turns into Python exceptions anyway, the
worker Python is this interpreter (``spark.pyspark.python``), and for ``local``
masters the workers get this process's ``sys.path`` so that functions defined in
the caller's modules can be imported there.
"""

from __future__ import annotations

import functools
import os
import re
import shutil
import subprocess
import sys
import tempfile
import threading
from collections.abc import Mapping
from typing import Any

from atoll.computing._errors import ComputingError, InvalidArgumentError

__all__ = ["LOG4J2_PROPERTIES", "acquire", "java_available", "stop", "unavailable"]

LOG4J2_PROPERTIES = """\
# Written by atoll.computing.spark: Spark's JVM at WARN; task failures are reported
# to the caller as Python exceptions, so their JVM-side reports are silenced.
rootLogger.level = warn
rootLogger.appenderRef.stderr.ref = console
appender.console.type = Console
appender.console.name = console
appender.console.target = SYSTEM_ERR
appender.console.layout.type = PatternLayout
appender.console.layout.pattern = %d{yy/MM/dd HH:mm:ss} %p %c{1}: %m%n%ex
logger.executor.name = org.apache.spark.executor.Executor
logger.executor.level = off
logger.tsm.name = org.apache.spark.scheduler.TaskSetManager
logger.tsm.level = off
# Not the whole org.apache.spark.api.python package: Spark's start-up compares the
# gateway's level with the root's and announces any difference on stderr.
logger.python.name = org.apache.spark.api.python.PythonRunner
logger.python.level = off
# "RDD n was locally checkpointed ... cannot be recomputed after unpersisting": by design.
logger.pythonrdd.name = org.apache.spark.api.python.PythonRDD
logger.pythonrdd.level = error
logger.native.name = org.apache.hadoop.util.NativeCodeLoader
logger.native.level = error
logger.blockmanager.name = org.apache.spark.storage.BlockManager
logger.blockmanager.level = error
logger.utils.name = org.apache.spark.util.Utils
logger.utils.level = error
"""

_lock = threading.Lock()
_state: dict[str, Any] = {}


def java_available() -> bool:
    """Whether a ``java`` executable can be found (``$JAVA_HOME/bin/java`` or on PATH)."""
    return _java() is not None


def _java() -> str | None:
    home = os.environ.get("JAVA_HOME")
    if home and os.access(os.path.join(home, "bin", "java"), os.X_OK):
        return os.path.join(home, "bin", "java")
    return shutil.which("java")


@functools.cache
def _java_major(java: str) -> int | None:
    """The major version of ``java`` (8 for 1.8), or None if it cannot be told."""
    try:
        out = subprocess.run(
            [java, "-version"], capture_output=True, text=True, timeout=60, check=False
        )
    except (OSError, subprocess.SubprocessError):
        return None
    match = re.search(r'version "(\d+)(?:\.(\d+))?', out.stderr + out.stdout)
    if match is None:
        return None
    major = int(match.group(1))
    return int(match.group(2) or 0) if major == 1 else major


def unavailable() -> str | None:
    """Why the spark engine cannot start here (no PySpark, no Java, too old a Java), or None."""
    try:
        import pyspark
    except ImportError:
        return "PySpark is not installed (pip install 'atoll[spark]')"
    java = _java()
    if java is None:
        return (
            "Java is not installed (a JRE 17 or newer; Debian: apt-get install "
            "default-jre-headless) and JAVA_HOME is not set"
        )
    need = 17 if int(pyspark.__version__.split(".")[0]) >= 4 else 8
    major = _java_major(java)
    if major is not None and major < need:
        return f"PySpark {pyspark.__version__} needs Java {need} or newer; {java} is Java {major}"
    return None


def _defaults(master: str, log_config: str) -> dict[str, str]:
    out = {
        "spark.app.name": "atoll",
        "spark.ui.enabled": "false",
        "spark.ui.showConsoleProgress": "false",
        "spark.sql.shuffle.partitions": "8",
        "spark.driver.extraJavaOptions": f"-Dlog4j2.configurationFile=file:{log_config}",
        "spark.pyspark.python": os.environ.get("PYSPARK_PYTHON") or sys.executable,
        "spark.pyspark.driver.python": sys.executable,
    }
    if master.startswith("local"):
        path = [p for p in sys.path if p and os.path.isdir(p)]
        out["spark.executorEnv.PYTHONPATH"] = os.pathsep.join([os.getcwd(), *path])
        out["spark.driver.memory"] = "2g"
    return out


def acquire(master: str, conf: Mapping[str, str]) -> Any:
    """The process's ``pyspark.sql.SparkSession``, started with ``master`` and ``conf``
    if there is none yet; otherwise checked against them."""
    reason = unavailable()
    if reason is not None:
        raise ComputingError(f"the spark computing engine cannot start: {reason}")
    from pyspark import SparkConf
    from pyspark.sql import SparkSession

    with _lock:
        spark = _state.get("spark")
        if spark is not None and spark.sparkContext._jsc is not None:
            _check_same(master, conf)
            return spark
        log_dir = tempfile.mkdtemp(prefix="atoll-spark-")
        log_config = os.path.join(log_dir, "log4j2.properties")
        with open(log_config, "w", encoding="utf-8") as fh:
            fh.write(LOG4J2_PROPERTIES)
        settings = _defaults(master, log_config)
        settings.update(conf)
        spark_conf = SparkConf().setMaster(master)
        for key, value in settings.items():
            spark_conf.set(key, value)
        try:
            spark = SparkSession.builder.config(conf=spark_conf).getOrCreate()
        finally:
            # The driver JVM has read its log configuration; nothing else needs the file.
            shutil.rmtree(log_dir, ignore_errors=True)
        actual = spark.sparkContext.master
        if actual != master:
            raise InvalidArgumentError(
                f"spark master {master!r} was asked for, but this process already runs a "
                f"SparkContext on {actual!r} (one per process)"
            )
        spark.sparkContext.setLogLevel("WARN")
        _state.update(spark=spark, master=master)
        return spark


def _check_same(master: str, conf: Mapping[str, str]) -> None:
    if master != _state["master"]:
        raise InvalidArgumentError(
            f"master: {master!r} differs from {_state['master']!r}, the master of the "
            "SparkContext this process already runs (one per process)"
        )
    running = dict(_state["spark"].sparkContext.getConf().getAll())
    for key, value in conf.items():
        if running.get(key) != value:
            now = "not set" if key not in running else repr(running[key])
            raise InvalidArgumentError(
                f"conf {key}: {value!r} cannot be applied: this process's SparkContext "
                f"runs with it {now} (one SparkContext per process)"
            )


def stop() -> None:
    """Stop the shared SparkContext (the next session starts a new one)."""
    with _lock:
        spark = _state.pop("spark", None)
        _state.clear()
        if spark is not None:
            spark.stop()
