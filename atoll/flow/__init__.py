"""Jobs: the job file, its validation into a plan per party, and running it.

:mod:`.spec` reads a job file (YAML) into a :class:`JobSpec` and checks it against the
component registry; :mod:`.local` runs every party of a job on this machine
(``atoll run``); :mod:`.party` is what each party's process executes.
"""

from atoll.flow.spec import JobSpec, JobSpecError, TaskSpec, load_job

__all__ = ["JobSpec", "JobSpecError", "TaskSpec", "load_job"]
