"""``coordinated_lr`` (FATE: HeteroLR, CoordinatedLR): guest, hosts and an arbiter with the key.

Inputs and outputs are those of every vertical binary model
(:mod:`atoll.ml.component._vertical`): ``train_data`` (and ``input_model`` for a
warm start) to train, or ``input_model`` with ``test_data`` to predict;
``output_model`` at each party, scores only at the guest. The arbiter takes
part in training only.
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
from atoll.ml.coordinated_lr import (
    CoordinatedLRParams,
    LRModel,
    arbiter,
    guest,
    host,
    predict_guest,
    predict_host,
)

__all__ = ["ALGORITHM", "CoordinatedLRComponentParams", "run"]

ALGORITHM = VerticalBinary(
    "coordinated_lr",
    CoordinatedLRParams,
    LRModel,
    guest,
    host,
    predict_guest,
    predict_host,
    arbiter,
)

CoordinatedLRComponentParams: type[Params] = params_from_dataclass(
    CoordinatedLRParams,
    "CoordinatedLRComponentParams",
    exclude=("workers", "insecure"),
    extra={"threshold": (float, 0.5)},
)


@component(
    "coordinated_lr",
    roles=("guest", "host", "arbiter"),
    params=CoordinatedLRComponentParams,
    inputs=VERTICAL_INPUTS,
    outputs=VERTICAL_OUTPUTS,
    fate_names=("HeteroLR", "CoordinatedLR", "hetero_lr"),
)
def run(ctx: TaskContext, params: Params, inputs: dict[str, Any]) -> dict[str, Any]:
    """Vertical logistic regression under Paillier, coordinated by an arbiter."""
    return run_vertical_binary(ALGORITHM, ctx, params, inputs)
