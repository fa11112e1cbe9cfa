"""The error of the FATE importer: a FATE job Atoll cannot run as given."""

from __future__ import annotations

from atoll.flow.spec import JobSpecError


class FateImportError(JobSpecError):
    """A FATE job Atoll cannot run as given; the message names the task, module and parameter."""
