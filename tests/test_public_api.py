"""Pin the exported names of each public module, so API changes are deliberate."""

from __future__ import annotations

import importlib

import pytest

import atoll

EXPORTS = {
    "atoll.computing": {
        "ComputingError",
        "ComputingSession",
        "InvalidArgumentError",
        "KeyTypeError",
        "SerializationError",
        "SessionClosedError",
        "Table",
        "TableExistsError",
        "TableNotFoundError",
        "TableWriter",
        "TaskError",
        "WorkerCrashedError",
        "open_session",
    },
    "atoll.computing.standalone": {"StandaloneSession", "StandaloneTable", "StandaloneWriter"},
    "atoll.codec": {
        "FORMAT_VERSION",
        "CodecError",
        "Limits",
        "allow_secrets",
        "decode",
        "encode",
        "message",
    },
}


@pytest.mark.parametrize("module_name", sorted(EXPORTS))
def test_exported_names(module_name):
    module = importlib.import_module(module_name)
    assert set(module.__all__) == EXPORTS[module_name]
    for name in module.__all__:
        assert hasattr(module, name), f"{module_name}.{name} is in __all__ but missing"


def test_version_is_a_string():
    assert isinstance(atoll.__version__, str) and atoll.__version__.count(".") == 2
