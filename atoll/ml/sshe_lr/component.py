"""``sshe_lr`` (FATE: SSHE-LR, HeteroSSHELR): two parties, no arbiter, shared weights.

Inputs and outputs are those of every vertical binary model
(:mod:`atoll.ml.component._vertical`): ``train_data`` (and ``input_model`` for a
warm start) to train, or ``input_model`` with ``test_data`` to predict;
``output_model`` at each party (its own revealed weights), scores only at the guest.
"""

from __future__ import annotations

from typing import Any

from atoll.ml.component import Params, TaskContext, component, params_from_dataclass
from atoll.ml.component._vertical import (
    VERTICAL_INPUTS,
    VERTICAL_OUTPUTS,
    VerticalBinary,
    run_vertical_binary,
)
from atoll.ml.sshe_lr import (
    SSHELRParams,
    SSHEModel,
    guest,
    host,
    predict_guest,
    predict_host,
)

__all__ = ["ALGORITHM", "SSHELRComponentParams", "run"]

ALGORITHM = VerticalBinary(
    "sshe_lr",
    SSHELRParams,
    SSHEModel,
    guest,
    host,
    predict_guest,
    predict_host,
)

SSHELRComponentParams: type[Params] = params_from_dataclass(
    SSHELRParams,
    "SSHELRComponentParams",
    exclude=("workers", "insecure"),
    extra={"threshold": (float, 0.5)},
)


@component(
    "sshe_lr",
    roles=("guest", "host"),
    params=SSHELRComponentParams,
    inputs=VERTICAL_INPUTS,
    outputs=VERTICAL_OUTPUTS,
    fate_names=("HeteroSSHELR", "SSHELR", "sshe_lr", "hetero_sshe_lr"),
)
def run(ctx: TaskContext, params: Params, inputs: dict[str, Any]) -> dict[str, Any]:
    """Vertical logistic regression of two parties: Paillier plus additive secret sharing."""
    return run_vertical_binary(ALGORITHM, ctx, params, inputs)
