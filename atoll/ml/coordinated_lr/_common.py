"""Parameters, model, result and the declared messages of coordinated LR (all roles)."""

from __future__ import annotations

import dataclasses
import itertools
import math
import secrets
from collections.abc import Callable, Mapping
from typing import Any

import numpy as np

from atoll.crypto.he import (
    SCHEMES,
    EncryptedVector,
    EncryptedVectorMessage,
    PublicKey,
    public_key_from_message,
)
from atoll.federation import Context, declare
from atoll.ml.linear import (
    EARLY_STOPS,
    INITS,
    OPTIMIZERS,
    PENALTIES,
    Optimizer,
    init_weights,
)

__all__ = [
    "ARBITER_RECEIVES",
    "GUEST_RECEIVES",
    "HOST_RECEIVES",
    "CoordinatedLRParams",
    "EpochCallback",
    "LRModel",
    "TrainResult",
]

EpochCallback = Callable[[int, dict[str, float]], None]

#: Fractional bits of the encrypted residual pieces ``[[0.25 wx_h]]`` (free: they are the
#: bases of the multi-exponentiations, not the exponents).
RESIDUAL_FRAC_BITS = 32
#: Fractional bits of the plaintext multipliers in the loss's dot products.
LOSS_FRAC_BITS = 24
#: Fractional bits of the scalar factors (1/batch, 1/batches) applied to encrypted scalars.
SCALE_FRAC_BITS = 40
#: Statistical security of the gradient masks: ``g + r`` with ``r`` uniform on
#: ``[0, 2^(bits(bound) + MASK_BITS))`` is within ``2^-MASK_BITS`` of independent of ``g``.
MASK_BITS = 64
#: Where a host computes its encryptions and encrypted gradients (``host_compute``).
HOST_COMPUTES = ("local", "table")


@dataclasses.dataclass(frozen=True)
class CoordinatedLRParams:
    """Parameters of every role (they must agree; the guest checks the hosts' and arbiter's).

    * ``epochs``: the most epochs to run; ``batch_size``: rows per mini-batch (``None`` or
      ``-1``: the full batch).
    * ``learning_rate``, ``optimizer`` (``sgd``, ``momentum``, ``nesterov_momentum``,
      ``adagrad``, ``rmsprop``, ``adam``), ``decay`` and ``decay_sqrt``
      (``lr / (1 + decay t)`` or ``lr / sqrt(1 + decay t)``, ``t`` the epoch): see
      :mod:`atoll.ml.linear.optim`.
    * ``penalty`` (``l1``, ``l2`` or None) and ``alpha``: the objective is
      ``mean(taylor_loss) + alpha/2 |w|^2`` (l2) or ``+ alpha |w|_1`` (l1, proximal step);
      the intercept is never penalised. scikit-learn's ``LogisticRegression(C=...)`` with
      the same L2 strength is ``C = 1 / (alpha * n_rows)``.
    * ``fit_intercept`` (the guest holds the intercept), ``init`` (``zeros``,
      ``random_uniform``, ``random_normal``, ``const`` with ``init_const``), ``seed`` (the
      initial weights and the guest's batch shuffling; None: fresh randomness).
    * ``early_stop`` (``diff``: loss change, ``abs``: loss, ``weight_diff``: the L2 norm of
      the change of all parties' weights over an epoch) below ``tol`` stops training.
    * ``scheme`` (``paillier``, ``ou``; ``plain`` encrypts nothing and needs
      ``insecure=True``), ``key_bits`` (>= 1024; 2048 by default), ``workers`` (processes
      for the HE operations).
    * ``feature_frac_bits``: fixed-point fractional bits of the features in the encrypted
      gradient ``[[d]] @ X`` (16: an absolute rounding error of ``2^-17`` per feature; the
      cost of the multi-exponentiation grows with the exponents' bits).
    * ``shuffle``: a new row order for the mini-batches of every epoch (a full batch is
      never shuffled: its gradient does not depend on the order).
    * ``host_compute`` (a host's own choice; the other roles ignore it): ``local`` does the
      host's encryption and encrypted gradient in this process (with ``workers``);
      ``table`` keeps the host's encoded features in a Table of its computing session
      (standalone or Spark, as the site is configured) and runs the forward encryption and
      the gradient ``[[d]]^T X`` as Table work, partition by partition
      (:mod:`atoll.ml.coordinated_lr._table`). Both give the same integers, so the same
      model; without a computing session ``table`` falls back to ``local`` with a warning.
    """

    epochs: int = 20
    batch_size: int | None = None
    learning_rate: float = 0.1
    optimizer: str = "rmsprop"
    decay: float = 0.0
    decay_sqrt: bool = True
    penalty: str | None = "l2"
    alpha: float = 0.01
    fit_intercept: bool = True
    init: str = "zeros"
    init_const: float = 0.0
    seed: int | None = None
    early_stop: str = "diff"
    tol: float = 1e-4
    scheme: str = "paillier"
    key_bits: int = 2048
    insecure: bool = False
    workers: int = 1
    feature_frac_bits: int = 16
    shuffle: bool = True
    host_compute: str = "local"

    def __post_init__(self) -> None:
        def bad(name: str, why: str) -> ValueError:
            return ValueError(f"CoordinatedLRParams.{name} {why}, got {getattr(self, name)!r}")

        def is_int(v: object) -> bool:
            return isinstance(v, int | np.integer) and not isinstance(v, bool)

        def is_num(v: object) -> bool:
            return isinstance(v, int | float | np.integer | np.floating) and not isinstance(v, bool)

        if not is_int(self.epochs) or self.epochs < 1:
            raise bad("epochs", "must be an int >= 1")
        if self.batch_size is not None and (
            not is_int(self.batch_size) or not (self.batch_size == -1 or self.batch_size >= 1)
        ):
            raise bad("batch_size", "must be None, -1 (full batch) or an int >= 1")
        if not is_num(self.learning_rate) or not (
            math.isfinite(self.learning_rate) and self.learning_rate > 0
        ):
            raise bad("learning_rate", "must be a finite number > 0")
        if self.optimizer not in OPTIMIZERS:
            raise bad("optimizer", f"must be one of {OPTIMIZERS}")
        if not is_num(self.decay) or not (math.isfinite(self.decay) and self.decay >= 0):
            raise bad("decay", "must be a finite number >= 0")
        if not isinstance(self.decay_sqrt, bool):
            raise bad("decay_sqrt", "must be a bool")
        if self.penalty not in PENALTIES:
            raise bad("penalty", f"must be one of {PENALTIES}")
        if not is_num(self.alpha) or not (math.isfinite(self.alpha) and self.alpha >= 0):
            raise bad("alpha", "must be a finite number >= 0")
        if not isinstance(self.fit_intercept, bool):
            raise bad("fit_intercept", "must be a bool")
        if self.init not in INITS:
            raise bad("init", f"must be one of {INITS}")
        if not is_num(self.init_const) or not math.isfinite(self.init_const):
            raise bad("init_const", "must be a finite number")
        if self.seed is not None and (not is_int(self.seed) or self.seed < 0):
            raise bad("seed", "must be None or an int >= 0")
        if self.early_stop not in EARLY_STOPS:
            raise bad("early_stop", f"must be one of {EARLY_STOPS}")
        if not is_num(self.tol) or not (math.isfinite(self.tol) and self.tol >= 0):
            raise bad("tol", "must be a finite number >= 0")
        if self.scheme not in SCHEMES:
            raise bad("scheme", f"must be one of {SCHEMES}")
        if self.scheme == "plain" and not self.insecure:
            raise bad("scheme", "'plain' does no encryption: set insecure=True to use it")
        if not is_int(self.key_bits) or self.key_bits < 1024:
            raise bad("key_bits", "must be an int >= 1024")
        if not is_int(self.workers) or self.workers < 1:
            raise bad("workers", "must be an int >= 1")
        if not is_int(self.feature_frac_bits) or not 0 <= self.feature_frac_bits <= 52:
            raise bad("feature_frac_bits", "must be an int in [0, 52]")
        if not isinstance(self.shuffle, bool):
            raise bad("shuffle", "must be a bool")
        if self.host_compute not in HOST_COMPUTES:
            raise bad("host_compute", f"must be one of {HOST_COMPUTES}")

    def shared(self) -> dict[str, Any]:
        """The parameters every role must agree on (the guest sends them for checking)."""
        return {
            "epochs": int(self.epochs),
            "early_stop": self.early_stop,
            "tol": float(self.tol),
            "scheme": self.scheme,
            "feature_frac_bits": int(self.feature_frac_bits),
        }

    def optimizer_for(self) -> Optimizer:
        return Optimizer(
            self.optimizer,
            self.learning_rate,
            decay=self.decay,
            decay_sqrt=self.decay_sqrt,
            penalty=self.penalty,
            alpha=self.alpha,
        )


@dataclasses.dataclass(frozen=True, eq=False)
class LRModel:
    """One party's share of a trained model: only its own weights.

    ``weights``: one coefficient per feature of this party; ``intercept``: the guest's
    (always 0.0 for a host); ``fit_intercept`` as trained; ``role``: ``guest`` or ``host``.
    :meth:`to_dict` / :meth:`from_dict` give and accept JSON-able plain data.
    """

    role: str
    weights: np.ndarray
    intercept: float = 0.0
    fit_intercept: bool = True

    def __post_init__(self) -> None:
        if self.role not in ("guest", "host"):
            raise ValueError(f"LRModel.role must be 'guest' or 'host', got {self.role!r}")
        w = np.array(self.weights, dtype=np.float64)
        if w.ndim != 1:
            raise ValueError(f"LRModel.weights must be 1-D, got shape {w.shape}")
        if not np.isfinite(w).all():
            raise ValueError("LRModel.weights must be finite (no NaN or inf)")
        w.setflags(write=False)
        object.__setattr__(self, "weights", w)
        if not isinstance(self.fit_intercept, bool):
            raise ValueError(f"LRModel.fit_intercept must be a bool, got {self.fit_intercept!r}")
        try:
            b = float(self.intercept)
        except (TypeError, ValueError):
            raise ValueError(
                f"LRModel.intercept must be a number, got {self.intercept!r}"
            ) from None
        if not math.isfinite(b):
            raise ValueError(f"LRModel.intercept must be finite, got {b!r}")
        if b != 0.0 and (self.role == "host" or not self.fit_intercept):
            raise ValueError(
                f"LRModel.intercept must be 0 for a {self.role} "
                f"{'without fit_intercept' if self.role == 'guest' else ''}".rstrip()
                + f", got {b!r}"
            )
        object.__setattr__(self, "intercept", b)

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, LRModel):
            return NotImplemented
        return (
            self.role == other.role
            and self.fit_intercept == other.fit_intercept
            and self.intercept == other.intercept
            and np.array_equal(self.weights, other.weights)
        )

    __hash__ = None  # type: ignore[assignment]

    def to_dict(self) -> dict[str, Any]:
        return {
            "role": self.role,
            "weights": [float(v) for v in self.weights.tolist()],
            "intercept": float(self.intercept),
            "fit_intercept": bool(self.fit_intercept),
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> LRModel:
        if not isinstance(data, Mapping):
            raise ValueError(f"LRModel.from_dict needs a mapping, got {type(data).__name__}")
        for field in ("role", "weights"):
            if field not in data:
                raise ValueError(f"LRModel.from_dict: missing field {field!r}")
        unknown = set(data) - {"role", "weights", "intercept", "fit_intercept"}
        if unknown:
            raise ValueError(f"LRModel.from_dict: unknown field(s) {sorted(unknown)}")
        weights = data["weights"]
        if not isinstance(weights, list | tuple) or not all(
            isinstance(v, int | float) and not isinstance(v, bool) for v in weights
        ):
            raise ValueError("LRModel.from_dict: field 'weights' must be a list of numbers")
        intercept = data.get("intercept", 0.0)
        if not isinstance(intercept, int | float) or isinstance(intercept, bool):
            raise ValueError(
                f"LRModel.from_dict: field 'intercept' must be a number, got {intercept!r}"
            )
        fit = data.get("fit_intercept", data["role"] == "guest")
        if not isinstance(fit, bool):
            raise ValueError(
                f"LRModel.from_dict: field 'fit_intercept' must be a bool, got {fit!r}"
            )
        return cls(str(data["role"]), np.array(weights, dtype=np.float64), float(intercept), fit)


@dataclasses.dataclass(frozen=True)
class TrainResult:
    """One role's outcome: its model (None for the arbiter), the loss of every epoch run,
    the number of epochs run, whether early stopping fired, and the wall time in seconds."""

    model: LRModel | None
    loss_history: list[float]
    epochs: int
    converged: bool
    seconds: float


# -- messages ------------------------------------------------------------------------------
PUBLIC_KEY = declare("clr_public_key", sender="arbiter", receiver=("guest", "host"))
HOST_ROWS = declare("clr_host_rows", sender="host", receiver="guest", payload=int)
SETUP = declare("clr_setup", sender="guest", receiver=("host", "arbiter"), payload=dict)
BATCH_ORDER = declare("clr_batch_order", sender="guest", receiver="host", payload=np.ndarray)
HOST_FORWARD = declare(
    "clr_host_forward", sender="host", receiver="guest", payload=EncryptedVectorMessage
)
HOST_LOSS = declare(
    "clr_host_loss", sender="host", receiver="guest", payload=EncryptedVectorMessage
)
PEER_FORWARDS = declare("clr_peer_forwards", sender="guest", receiver="host", payload=list)
CROSS_LOSS = declare(
    "clr_cross_loss", sender="host", receiver="guest", payload=EncryptedVectorMessage
)
RESIDUAL = declare("clr_residual", sender="guest", receiver="host", payload=EncryptedVectorMessage)
ENC_MASKED_GRADIENT = declare(
    "clr_enc_masked_gradient",
    sender=("guest", "host"),
    receiver="arbiter",
    payload=EncryptedVectorMessage,
)
MASKED_GRADIENT = declare(
    "clr_masked_gradient", sender="arbiter", receiver=("guest", "host"), payload=list
)
HOST_WEIGHT_DIFF = declare(
    "clr_host_weight_diff", sender="host", receiver="guest", payload=EncryptedVectorMessage
)
LOSS = declare("clr_loss", sender="guest", receiver="arbiter", payload=EncryptedVectorMessage)
WEIGHT_DIFF = declare(
    "clr_weight_diff", sender="guest", receiver="arbiter", payload=EncryptedVectorMessage
)
EPOCH_END = declare("clr_epoch_end", sender="arbiter", receiver=("guest", "host"), payload=dict)
PREDICT_SCORE = declare("clr_predict_score", sender="host", receiver="guest", payload=np.ndarray)

#: What each role receives during training (name: sender, form, content). The role
#: modules' docstrings repeat these lists; a transcript test checks them.
GUEST_RECEIVES: dict[str, str] = {
    "clr_public_key": "arbiter; public key",
    "clr_host_rows": "each host; plaintext int: its row count",
    "clr_host_forward": "each host, per batch; ciphertext [[0.25 X_h w_h]]",
    "clr_host_loss": "each host, per batch; ciphertext of its loss term",
    "clr_cross_loss": "hosts after the first, per batch (2+ hosts); ciphertext cross term",
    "clr_masked_gradient": "arbiter, per batch; plaintext g_guest + r_guest (r: guest's mask)",
    "clr_host_weight_diff": "each host, per epoch (weight_diff only); ciphertext |dw_h|^2",
    "clr_epoch_end": "arbiter, per epoch; plaintext loss and stop flag",
}
HOST_RECEIVES: dict[str, str] = {
    "clr_public_key": "arbiter; public key",
    "clr_setup": "guest; plaintext rows, batch size, batches, shared parameters",
    "clr_batch_order": "guest, per epoch (mini-batches only); plaintext row order",
    "clr_peer_forwards": "guest, per batch (hosts after the first); ciphertexts of earlier hosts' [[0.25 X w]]",
    "clr_residual": "guest, per batch; ciphertext [[d]]",
    "clr_masked_gradient": "arbiter, per batch; plaintext g_host + r_host (r: this host's mask)",
    "clr_epoch_end": "arbiter, per epoch; plaintext loss and stop flag",
}
ARBITER_RECEIVES: dict[str, str] = {
    "clr_setup": "guest; plaintext rows, batch size, batches, shared parameters",
    "clr_enc_masked_gradient": "guest and each host, per batch; ciphertext [[g + r]]",
    "clr_loss": "guest, per epoch; ciphertext [[loss]]",
    "clr_weight_diff": "guest, per epoch (weight_diff only); ciphertext sum of |dw|^2",
}


# -- helpers shared by the roles -----------------------------------------------------------
def check_features(x: object, what: str) -> np.ndarray:
    """A finite float64 (n, k) matrix, or a ValueError naming ``what`` and the bad cell."""
    try:
        a = np.array(x, dtype=np.float64)
    except (TypeError, ValueError) as exc:
        raise ValueError(f"{what}: not a numeric matrix ({exc})") from None
    if a.ndim == 1:
        a = a[:, None]
    if a.ndim != 2 or a.shape[0] == 0:
        raise ValueError(f"{what}: expected a non-empty 2-D matrix, got shape {a.shape}")
    if not np.isfinite(a).all():
        row, col = np.argwhere(~np.isfinite(a))[0]
        raise ValueError(f"{what}: row {row}, column {col} is {a[row, col]} (NaN or inf)")
    return a


def check_labels(y: object, rows: int, what: str) -> np.ndarray:
    """Labels as float64 0/1, or a ValueError naming ``what``."""
    try:
        a = np.array(y, dtype=np.float64).ravel()
    except (TypeError, ValueError) as exc:
        raise ValueError(f"{what}: not numeric ({exc})") from None
    if a.shape[0] != rows:
        raise ValueError(f"{what}: {a.shape[0]} labels for {rows} rows of features")
    if not np.isfinite(a).all():
        raise ValueError(f"{what}: row {int(np.argmax(~np.isfinite(a)))} is NaN or inf")
    bad = ~np.isin(a, (0.0, 1.0))
    if bad.any():
        values = sorted(set(np.unique(a[bad]).tolist()))[:5]
        raise ValueError(f"{what}: the label must be binary 0/1, found {values}")
    return a


def initial_weights(
    params: CoordinatedLRParams, k: int, role: str, warm_start: LRModel | None, what: str
) -> tuple[np.ndarray, float]:
    if warm_start is None:
        return init_weights(
            k,
            params.init,
            const=params.init_const,
            seed=params.seed,
            fit_intercept=params.fit_intercept and role == "guest",
        )
    if not isinstance(warm_start, LRModel):
        raise ValueError(f"{what}: warm_start must be an LRModel, got {type(warm_start).__name__}")
    if warm_start.role != role:
        raise ValueError(f"{what}: warm_start is a {warm_start.role}'s model, not a {role}'s")
    if len(warm_start.weights) != k:
        raise ValueError(
            f"{what}: warm_start has {len(warm_start.weights)} weights for {k} features"
        )
    if role == "guest" and warm_start.fit_intercept != params.fit_intercept:
        raise ValueError(
            f"{what}: warm_start has fit_intercept={warm_start.fit_intercept}, "
            f"params.fit_intercept={params.fit_intercept}"
        )
    return warm_start.weights.copy(), warm_start.intercept


def receive_public_key(ctx: Context, params: CoordinatedLRParams, what: str) -> PublicKey:
    pk = public_key_from_message(ctx.arbiter.get(PUBLIC_KEY))
    if pk.scheme != params.scheme:
        raise ValueError(f"{what}: the arbiter's key is {pk.scheme}, params.scheme {params.scheme}")
    if not pk.insecure and pk.n_bits < 1024:
        raise ValueError(f"{what}: the arbiter's key has only {pk.n_bits} bits")
    return pk


def batch_count(rows: int, batch_size: int | None) -> tuple[int, int]:
    """``(rows per batch, batches)``; None or -1 (or more than ``rows``) is the full batch."""
    b = rows if batch_size is None or batch_size == -1 or batch_size >= rows else batch_size
    return b, -(-rows // b)


def batch_bounds(rows: int, batches: int) -> list[tuple[int, int]]:
    """``batches`` near-equal ``[start, stop)`` ranges of the row order (sizes differ by at
    most one, so no batch is a small remainder whose gradient would say more per row)."""
    cuts = [i * rows // batches for i in range(batches + 1)]
    return list(itertools.pairwise(cuts))


def encode_features(x: np.ndarray, frac_bits: int, what: str) -> np.ndarray:
    """``round(x * 2^frac_bits)`` as int64 (the exponents of the encrypted gradient)."""
    scaled = np.rint(np.ldexp(x, frac_bits))
    if scaled.size and float(np.max(np.abs(scaled))) >= 2.0**62:
        raise ValueError(
            f"{what}: a feature of magnitude {float(np.max(np.abs(x))):.3g} does not fit "
            f"{frac_bits} fractional bits; scale the features or lower feature_frac_bits"
        )
    return scaled.astype(np.int64)


def mask(v: EncryptedVector) -> tuple[EncryptedVector, list[int]]:
    """``[[v + r]]`` with a fresh uniform integer mask ``r`` per element (kept by the caller),
    added to the encoded integers so no fractional bit stays unmasked."""
    bits = v.bound.bit_length() + MASK_BITS
    pk = v.public_key
    rs = [secrets.randbits(bits) for _ in range(len(v))]
    data = [pk.add_plain(c, r) for c, r in zip(v.data, rs, strict=True)]
    return EncryptedVector(pk, data, v.frac_bits, v.bound + (1 << bits)), rs


def unmask(masked: list[int], rs: list[int], frac_bits: int, what: str) -> np.ndarray:
    """``(masked - r) / 2^frac_bits`` as float64, each correctly rounded."""
    if len(masked) != len(rs) or not all(type(m) is int for m in masked):
        raise ValueError(f"{what}: the arbiter returned {len(masked)} values for {len(rs)}")
    scale = 1 << frac_bits
    return np.array([(m - r) / scale for m, r in zip(masked, rs, strict=True)], dtype=np.float64)


def encrypt_scalar(
    pk: PublicKey, value: float, frac_bits: int = RESIDUAL_FRAC_BITS
) -> EncryptedVector:
    return EncryptedVector.encrypt(pk, np.array([value], dtype=np.float64), frac_bits=frac_bits)


def sum_vectors(vs: list[EncryptedVector]) -> EncryptedVector:
    total = vs[0]
    for v in vs[1:]:
        total = total.add(v)
    return total


def callback(on_epoch: EpochCallback | None, epoch: int, stats: dict[str, float]) -> None:
    if on_epoch is not None:
        on_epoch(epoch, dict(stats))
