"""Parameters, model, result and declared messages of SSHE-LR, shared by both roles."""

from __future__ import annotations

import dataclasses
import functools
import math
from collections.abc import Callable, Iterator
from typing import Any

import numpy as np

from atoll.crypto.he import SCHEMES, EncryptedVector, EncryptedVectorMessage, PrivateKey, PublicKey
from atoll.crypto.ss import (
    FRAC_BITS,
    RING,
    RING_BITS,
    STAT_BITS,
    encode,
    finish_product,
    owner_product,
    random_ring,
    receive_encrypted_share,
    ring_matmul,
    scale,
    send_encrypted_share,
    truncate,
)
from atoll.federation import Context, declare

__all__ = [
    "FEATURE_FRAC_BITS",
    "SSHELRParams",
    "SSHEModel",
    "TrainResult",
]

#: Fractional bits of the encoded features (the exponents of the HE products: short
#: exponents are what make the Pippenger products cheap). Features are quantised to
#: ``2^-12``; for standardised data that changes the fitted weights by ~1e-4.
FEATURE_FRAC_BITS = 12
#: Features must satisfy ``|x| < 2^FEATURE_MAX_BITS`` (standardise first).
FEATURE_MAX_BITS = 10
#: Fractional bits of the public constants (learning rate, penalty, momentum).
CONST_FRAC_BITS = 32
#: Scale of z = X w and of the error t = 4 (yhat - y): features' + weights'.
SCORE_FRAC_BITS = FEATURE_FRAC_BITS + FRAC_BITS

OnEpoch = Callable[[int, dict[str, float]], None]

_OPTIMIZERS = ("sgd",)
_PENALTIES = ("l2", None)
_INITS = ("zeros", "random_uniform")
_EARLY = ("diff", "abs")
_GUEST, _HOST = 0, 1  # party indices for truncation


@dataclasses.dataclass(frozen=True)
class SSHELRParams:
    """Training parameters; both roles must pass equal values (the host checks).

    ``epochs``: passes over the data. ``batch_size``: rows per step, ``None`` or ``-1`` for
    the full batch. ``learning_rate`` with ``decay``: epoch ``e`` uses
    ``learning_rate / (1 + decay * e)``. ``optimizer``: ``'sgd'``, with ``momentum`` in
    ``[0, 1)`` (heavy ball, linear so it runs on shares). ``penalty``: ``'l2'`` or None with
    strength ``alpha``: the objective is ``mean(log-loss) + alpha/2 * |w|^2`` (intercept not
    penalised), i.e. scikit-learn's ``C = 1 / (alpha * n_rows)``. ``fit_intercept``: the
    guest's model gets an intercept. ``init``: ``'zeros'`` or ``'random_uniform'`` (in
    ``[-init_scale, init_scale]``, from ``seed``). ``early_stop``: ``'diff'`` (stop when the
    revealed loss changes by less than ``tol``) or ``'abs'`` (stop when it is below ``tol``).
    ``reveal_loss_freq``: the Taylor loss is computed and revealed to the guest every that
    many epochs (0: never; early stopping then never triggers). ``reveal_every_epoch``: reveal
    each party's weights to their owner after every epoch (``on_epoch`` then sees them; costs
    privacy: the owner learns its weight trajectory). ``key_bits``: Paillier modulus (each
    party makes its own key). ``scheme``: ``'paillier'`` (or ``'ou'``); ``'plain'`` only with
    ``insecure=True``. ``workers``: local processes for the HE work. ``seed``: init weights and
    the mini-batch order (None: random). ``warm_start`` restarts from revealed weights;
    the momentum velocity restarts at zero.
    """

    epochs: int = 10
    batch_size: int | None = None
    learning_rate: float = 0.15
    optimizer: str = "sgd"
    momentum: float = 0.0
    decay: float = 0.0
    penalty: str | None = "l2"
    alpha: float = 0.01
    fit_intercept: bool = True
    init: str = "zeros"
    init_scale: float = 0.01
    early_stop: str = "diff"
    tol: float = 1e-4
    reveal_every_epoch: bool = False
    reveal_loss_freq: int = 1
    key_bits: int = 2048
    scheme: str = "paillier"
    insecure: bool = False
    workers: int = 1
    seed: int | None = None

    def __post_init__(self) -> None:
        def bad(name: str, msg: str) -> ValueError:
            return ValueError(f"SSHELRParams.{name} {msg}, got {getattr(self, name)!r}")

        def is_int(v: Any) -> bool:
            return isinstance(v, (int, np.integer)) and not isinstance(v, bool)

        def is_num(v: Any) -> bool:
            return isinstance(v, (int, float, np.number)) and not isinstance(v, bool)

        if not is_int(self.epochs) or self.epochs < 1:
            raise bad("epochs", "must be an integer >= 1")
        if self.batch_size is not None and (
            not is_int(self.batch_size) or (self.batch_size < 1 and self.batch_size != -1)
        ):
            raise bad("batch_size", "must be None, -1 (full batch) or an integer >= 1")
        if not is_num(self.learning_rate) or not 0 < self.learning_rate < math.inf:
            raise bad("learning_rate", "must be a positive number")
        if self.optimizer not in _OPTIMIZERS:
            raise bad("optimizer", f"must be one of {_OPTIMIZERS}")
        if not is_num(self.momentum) or not 0 <= self.momentum < 1:
            raise bad("momentum", "must be in [0, 1)")
        if not is_num(self.decay) or not 0 <= self.decay < math.inf:
            raise bad("decay", "must be a number >= 0")
        if self.penalty not in _PENALTIES:
            raise bad("penalty", "must be 'l2' or None")
        if not is_num(self.alpha) or not 0 <= self.alpha < math.inf:
            raise bad("alpha", "must be a number >= 0")
        if not isinstance(self.fit_intercept, bool):
            raise bad("fit_intercept", "must be a bool")
        if self.init not in _INITS:
            raise bad("init", f"must be one of {_INITS}")
        if not is_num(self.init_scale) or not 0 < self.init_scale <= 1:
            raise bad("init_scale", "must be in (0, 1]")
        if self.early_stop not in _EARLY:
            raise bad("early_stop", f"must be one of {_EARLY}")
        if not is_num(self.tol) or not 0 <= self.tol < math.inf:
            raise bad("tol", "must be a number >= 0")
        if not isinstance(self.reveal_every_epoch, bool):
            raise bad("reveal_every_epoch", "must be a bool")
        if not is_int(self.reveal_loss_freq) or self.reveal_loss_freq < 0:
            raise bad("reveal_loss_freq", "must be an integer >= 0")
        if not is_int(self.key_bits) or self.key_bits < 1024:
            raise bad("key_bits", "must be an integer >= 1024")
        if self.scheme not in SCHEMES:
            raise bad("scheme", f"must be one of {SCHEMES}")
        if self.scheme == "plain" and not self.insecure:
            raise bad("scheme", "'plain' does no encryption: it needs insecure=True")
        if not is_int(self.workers) or self.workers < 1:
            raise bad("workers", "must be an integer >= 1")
        if self.seed is not None and not is_int(self.seed):
            raise bad("seed", "must be None or an integer")

    def agreement(self) -> dict[str, Any]:
        """The fields both roles must agree on (sent guest -> host once and compared)."""
        d = dataclasses.asdict(self)
        for local_only in ("workers", "seed", "init", "init_scale"):
            d.pop(local_only)
        return d


@dataclasses.dataclass(frozen=True)
class SSHEModel:
    """One party's revealed model: its own weights (and the guest's intercept).

    ``role`` is ``'guest'`` or ``'host'``; a host's ``intercept`` is always 0.
    """

    role: str
    weights: np.ndarray
    intercept: float = 0.0
    fit_intercept: bool = True

    def __post_init__(self) -> None:
        if self.role not in ("guest", "host"):
            raise ValueError(f"SSHEModel.role must be 'guest' or 'host', got {self.role!r}")
        w = np.asarray(self.weights, dtype=np.float64)
        if w.ndim != 1 or not np.all(np.isfinite(w)):
            raise ValueError("SSHEModel.weights must be a finite 1-D array")
        object.__setattr__(self, "weights", w)
        if not isinstance(self.intercept, (int, float)) or not math.isfinite(self.intercept):
            raise ValueError(f"SSHEModel.intercept must be a finite number, got {self.intercept!r}")
        object.__setattr__(self, "intercept", float(self.intercept))

    def to_dict(self) -> dict[str, Any]:
        return {
            "role": self.role,
            "weights": [float(v) for v in self.weights],
            "intercept": self.intercept,
            "fit_intercept": self.fit_intercept,
        }

    @classmethod
    def from_dict(cls, d: Any) -> SSHEModel:
        if not isinstance(d, dict):
            raise ValueError(f"SSHEModel.from_dict: expected a dict, got {type(d).__name__}")
        for key in ("role", "weights"):
            if key not in d:
                raise ValueError(f"SSHEModel.from_dict: missing field {key!r}")
        weights = d["weights"]
        if not isinstance(weights, list) or not all(
            isinstance(v, (int, float)) and not isinstance(v, bool) for v in weights
        ):
            raise ValueError("SSHEModel.from_dict: field 'weights' must be a list of numbers")
        intercept = d.get("intercept", 0.0)
        if not isinstance(intercept, (int, float)) or isinstance(intercept, bool):
            raise ValueError("SSHEModel.from_dict: field 'intercept' must be a number")
        fit = d.get("fit_intercept", True)
        if not isinstance(fit, bool):
            raise ValueError("SSHEModel.from_dict: field 'fit_intercept' must be a bool")
        return cls(str(d["role"]), np.asarray(weights, dtype=np.float64), float(intercept), fit)


@dataclasses.dataclass(frozen=True)
class TrainResult:
    """What ``guest``/``host`` return. ``loss_history``: the revealed losses (guest only; a
    host's list is empty), one per revealing epoch."""

    model: SSHEModel
    loss_history: list[float]
    epochs: int
    converged: bool
    seconds: float


# -- messages (names are what the transcript shows) -------------------------------------
def _g2h(name: str, payload: Any = None) -> Any:
    return declare(name, sender="guest", receiver="host", payload=payload)


def _h2g(name: str, payload: Any = None) -> Any:
    return declare(name, sender="host", receiver="guest", payload=payload)


# setup
GUEST_SETUP = _g2h("sshe_guest_setup", dict)  # plaintext: rows, guest weight count, params
HOST_SETUP = _h2g("sshe_host_setup", dict)  # plaintext: rows, host weight count
GUEST_PUBLIC_KEY = _g2h("sshe_guest_public_key")
HOST_PUBLIC_KEY = _h2g("sshe_host_public_key")
GUEST_INIT_SHARE = _g2h("sshe_guest_init_share", list)  # host's share of the guest's w0
HOST_INIT_SHARE = _h2g("sshe_host_init_share", list)  # guest's share of the host's w0
# per batch: scores
ENC_HOST_WEIGHT_SHARE = _g2h("sshe_enc_host_weight_share", EncryptedVectorMessage)
ENC_GUEST_WEIGHT_SHARE = _h2g("sshe_enc_guest_weight_share", EncryptedVectorMessage)
MASKED_GUEST_SCORE = _g2h("sshe_masked_guest_score", EncryptedVectorMessage)
MASKED_HOST_SCORE = _h2g("sshe_masked_host_score", EncryptedVectorMessage)
# per batch: gradients
ENC_GUEST_ERROR_SHARE = _g2h("sshe_enc_guest_error_share", EncryptedVectorMessage)
ENC_HOST_ERROR_SHARE = _h2g("sshe_enc_host_error_share", EncryptedVectorMessage)
MASKED_GUEST_GRADIENT = _g2h("sshe_masked_guest_gradient", EncryptedVectorMessage)
MASKED_HOST_GRADIENT = _h2g("sshe_masked_host_gradient", EncryptedVectorMessage)
# per batch on loss epochs
MASKED_LOSS_CROSS = _g2h("sshe_masked_loss_cross", EncryptedVectorMessage)
HOST_LOSS_SHARE = _h2g("sshe_host_loss_share", list)
# per epoch
STOP = _g2h("sshe_stop", bool)
# end of training (and every epoch with reveal_every_epoch)
HOST_WEIGHT_REVEAL = _g2h("sshe_host_weight_reveal", list)  # guest's share of w_host
GUEST_WEIGHT_REVEAL = _h2g("sshe_guest_weight_reveal", list)  # host's share of w_guest
# prediction
HOST_PREDICT_SCORE = _h2g("sshe_host_predict_score", np.ndarray)

#: Everything the host receives during training (names; see the role modules for kinds).
HOST_RECEIVES = (
    "sshe_guest_setup",
    "sshe_guest_public_key",
    "sshe_guest_init_share",
    "sshe_enc_host_weight_share",
    "sshe_masked_guest_score",
    "sshe_enc_guest_error_share",
    "sshe_masked_guest_gradient",
    "sshe_masked_loss_cross",
    "sshe_stop",
    "sshe_host_weight_reveal",
)
#: Everything the guest receives during training.
GUEST_RECEIVES = (
    "sshe_host_setup",
    "sshe_host_public_key",
    "sshe_host_init_share",
    "sshe_enc_guest_weight_share",
    "sshe_masked_host_score",
    "sshe_enc_host_error_share",
    "sshe_masked_host_gradient",
    "sshe_host_loss_share",
    "sshe_guest_weight_reveal",
)


# -- helpers ------------------------------------------------------------------------------
def check_features(x: Any, what: str) -> np.ndarray:
    a = np.asarray(x, dtype=np.float64) if not isinstance(x, np.ndarray) else x
    if a.ndim != 2 or a.shape[0] == 0:
        raise ValueError(f"{what}: expected a non-empty 2-D matrix, got shape {a.shape}")
    a = a.astype(np.float64, copy=False)
    if not np.all(np.isfinite(a)):
        row, col = np.argwhere(~np.isfinite(a))[0]
        raise ValueError(f"{what}: row {row}, column {col} is {a[row, col]} (NaN or inf)")
    big = float(np.max(np.abs(a))) if a.size else 0.0
    if big >= 2.0**FEATURE_MAX_BITS:
        raise ValueError(
            f"{what}: |x| reaches {big:.3g}, beyond 2^{FEATURE_MAX_BITS}: standardise the features"
        )
    return a


def encode_features(x: np.ndarray, intercept: bool) -> np.ndarray:
    """int64 features at scale ``2^FEATURE_FRAC_BITS`` (a trailing column of ones for the
    intercept)."""
    xi = np.rint(np.ldexp(x, FEATURE_FRAC_BITS)).astype(np.int64)
    if intercept:
        xi = np.hstack([xi, np.full((x.shape[0], 1), 1 << FEATURE_FRAC_BITS, dtype=np.int64)])
    return xi


def init_weights(params: SSHELRParams, count: int, salt: int) -> np.ndarray:
    if params.init == "zeros":
        return np.zeros(count)
    rng = np.random.default_rng(None if params.seed is None else [params.seed, salt])
    return rng.uniform(-params.init_scale, params.init_scale, size=count)


def batches(n: int, batch_size: int | None, epoch: int, batch_seed: int) -> Iterator[np.ndarray]:
    """Row indices of each batch (the full batch in order, or a seeded shuffle)."""
    if batch_size is None or batch_size == -1 or batch_size >= n:
        yield np.arange(n)
        return
    order = np.random.default_rng([batch_seed, epoch]).permutation(n)
    for s in range(0, n, batch_size):
        yield np.sort(order[s : s + batch_size])


def lr_at(params: SSHELRParams, epoch: int) -> float:
    return params.learning_rate / (1.0 + params.decay * epoch)


def const(x: float) -> int:
    """A public constant at scale ``2^CONST_FRAC_BITS``."""
    return round(x * (1 << CONST_FRAC_BITS))


def update_shares(
    w: np.ndarray,
    v: np.ndarray | None,
    g: np.ndarray,
    *,
    params: SSHELRParams,
    lr: float,
    rows: int,
    penalised: np.ndarray,
    party: int,
) -> tuple[np.ndarray, np.ndarray | None]:
    """One optimizer step on this party's shares (linear, so local).

    ``g`` is this party's share of ``X^T t`` truncated to scale ``2^FRAC_BITS``, where
    ``t = 4 (yhat - y)``; the mean gradient is ``g / (4 rows) + alpha * w`` (penalised entries).
    """
    alpha = params.alpha if params.penalty == "l2" else 0.0
    alphas = np.where(penalised, alpha, 0.0)
    if params.momentum == 0.0:
        keep = np.array([const(1.0 - lr * a) for a in alphas.tolist()], dtype=object)
        step = const(lr / (4.0 * rows))
        new = (scale(w, keep) - scale(g, step)) % RING
        return truncate(new, CONST_FRAC_BITS, party), None
    assert v is not None
    pen = np.array([const(a) for a in alphas.tolist()], dtype=object)
    vel = (
        scale(v, const(params.momentum)) + scale(g, const(1.0 / (4.0 * rows))) + scale(w, pen)
    ) % RING
    vel = truncate(vel, CONST_FRAC_BITS, party)
    w_new = (w - truncate(scale(vel, const(lr)), CONST_FRAC_BITS, party)) % RING
    return w_new, vel


def share_init(values: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Split encoded weights into (mine, theirs)."""
    enc = encode(values, FRAC_BITS)
    r = random_ring(len(enc))
    return (enc - r) % RING, r


def call_on_epoch(on_epoch: OnEpoch | None, epoch: int, metrics: dict[str, float]) -> None:
    if on_epoch is not None:
        on_epoch(epoch, dict(metrics))


def one_host(ctx: Context, role: str) -> None:
    hosts = len(ctx.hosts)
    if hosts != 1:
        raise ValueError(
            f"sshe_lr {role}: SSHE-LR runs between exactly one guest and one host; "
            f"this job has {hosts} hosts"
        )


@dataclasses.dataclass(frozen=True)
class Side:
    """The per-batch messages from one party's point of view."""

    party: int  # 0 guest, 1 host (SecureML truncation index)
    send_enc_peer_weight_share: Any  # [[my share of the peer's weights]] under my key
    recv_enc_own_weight_share: Any  # [[peer's share of my weights]] under the peer's key
    send_masked_score: Any  # [[X_mine . peer's share - r]] under the peer's key
    recv_masked_score: Any  # [[X_peer . my share - r']] under my key
    send_enc_error_share: Any  # [[my share of t]] under my key
    recv_enc_error_share: Any  # [[peer's share of t]] under the peer's key
    send_masked_gradient: Any  # [[X_mine^T . peer's t share - r]] under the peer's key
    recv_masked_gradient: Any  # [[X_peer^T . my t share - r']] under my key


GUEST_SIDE = Side(
    _GUEST,
    ENC_HOST_WEIGHT_SHARE,
    ENC_GUEST_WEIGHT_SHARE,
    MASKED_GUEST_SCORE,
    MASKED_HOST_SCORE,
    ENC_GUEST_ERROR_SHARE,
    ENC_HOST_ERROR_SHARE,
    MASKED_GUEST_GRADIENT,
    MASKED_HOST_GRADIENT,
)
HOST_SIDE = Side(
    _HOST,
    ENC_GUEST_WEIGHT_SHARE,
    ENC_HOST_WEIGHT_SHARE,
    MASKED_HOST_SCORE,
    MASKED_GUEST_SCORE,
    ENC_HOST_ERROR_SHARE,
    ENC_GUEST_ERROR_SHARE,
    MASKED_HOST_GRADIENT,
    MASKED_GUEST_GRADIENT,
)


@dataclasses.dataclass
class BatchOut:
    z: np.ndarray  # my share of z = X_g w_g + X_h w_h (scale SCORE_FRAC_BITS)
    t: np.ndarray  # my share of t = 4 (yhat - y) = z + 2 - 4 y (scale SCORE_FRAC_BITS)
    peer_t: EncryptedVector  # [[peer's share of t]] under the peer's key
    g_own: np.ndarray  # my share of X_mine^T t (scale FRAC_BITS)
    g_peer: np.ndarray  # my share of X_peer^T t (scale FRAC_BITS)


def batch_step(
    peer: Any,
    side: Side,
    x: np.ndarray,
    w_own: np.ndarray,
    w_peer: np.ndarray,
    keys: tuple[PublicKey, PrivateKey, PublicKey],
    workers: int,
    t_offset: np.ndarray | None,
) -> BatchOut:
    """One batch's forward and backward pass on shares (both roles run this in step).

    ``x``: my encoded batch (int64); ``w_own``: my share of my weights; ``w_peer``: my
    share of the peer's weights; ``t_offset``: ``encode(2 - 4 y)`` for the guest, None for
    the host.
    """
    pk, sk, peer_pk = keys
    b = x.shape[0]
    # z = X_mine (w_own_mine + w_own_peers) + X_peer (...): HE for the peer-held shares
    send_encrypted_share(
        peer, side.send_enc_peer_weight_share, w_peer, pk, private_key=sk, workers=workers
    )
    enc_w = receive_encrypted_share(peer, side.recv_enc_own_weight_share, peer_pk, len(w_own))
    r = owner_product(
        peer, side.send_masked_score, enc_w, x, workers=workers, pack_bits=slot_bits(len(w_own))
    )
    s = finish_product(
        peer, side.recv_masked_score, sk, b, workers=workers, pack_bits=slot_bits(len(w_peer))
    )
    z = (ring_matmul(x, w_own) + r + s) % RING
    t = z if t_offset is None else (z + t_offset) % RING
    # gradients X^T t for both parties' weights
    send_encrypted_share(peer, side.send_enc_error_share, t, pk, private_key=sk, workers=workers)
    enc_t = receive_encrypted_share(peer, side.recv_enc_error_share, peer_pk, b)
    r = owner_product(
        peer,
        side.send_masked_gradient,
        enc_t,
        x,
        transpose=True,
        workers=workers,
        pack_bits=slot_bits(b),
    )
    g_own = truncate((ring_matmul(x.T, t) + r) % RING, 2 * FEATURE_FRAC_BITS, side.party)
    g_peer = finish_product(
        peer, side.recv_masked_gradient, sk, len(w_peer), workers=workers, pack_bits=slot_bits(b)
    )
    g_peer = truncate(g_peer, 2 * FEATURE_FRAC_BITS, side.party)
    return BatchOut(z, t, enc_t, g_own, g_peer)


def slot_bits(inner: int) -> int:
    """Width of one packed masked product ``X s + m`` with ``inner`` terms per output:
    ``|X s| < inner 2^(12 + 10) 2^128``, plus 40 bits of mask and one of headroom."""
    return (
        RING_BITS + FEATURE_FRAC_BITS + FEATURE_MAX_BITS + int(inner).bit_length() + STAT_BITS + 2
    )


def check_setup(peer_setup: Any, rows: int, what: str) -> int:
    """The peer's weight count, after checking its setup message against my rows."""
    if not isinstance(peer_setup, dict) or not isinstance(peer_setup.get("rows"), int):
        raise ValueError(f"{what}: malformed setup message from the peer")
    if peer_setup["rows"] != rows:
        raise ValueError(
            f"{what}: the peer has {peer_setup['rows']} rows, this party {rows}; "
            "align them with PSI first"
        )
    count = peer_setup.get("weights")
    if not isinstance(count, int) or count < 1:
        raise ValueError(f"{what}: the peer declared {count!r} weights")
    return count


def check_peer_key(pk: PublicKey, what: str) -> None:
    if pk.n_bits < 1024 and not pk.insecure:
        raise ValueError(f"{what}: the peer's key has only {pk.n_bits} bits")


def warm_weights(
    warm: SSHEModel | None, params: SSHELRParams, count: int, role: str, salt: int
) -> np.ndarray:
    """Initial weights (plus intercept for the guest) from ``warm_start`` or ``init``."""
    if warm is None:
        return init_weights(params, count, salt)
    if not isinstance(warm, SSHEModel):
        raise ValueError(f"sshe_lr {role}: warm_start must be an SSHEModel")
    if warm.role != role:
        raise ValueError(f"sshe_lr {role}: warm_start is a {warm.role} model")
    w = list(warm.weights)
    if role == "guest" and params.fit_intercept:
        w.append(warm.intercept)
    if len(w) != count:
        raise ValueError(
            f"sshe_lr {role}: warm_start has {len(warm.weights)} weights, "
            f"the data has {count - (1 if role == 'guest' and params.fit_intercept else 0)} features"
        )
    return np.asarray(w, dtype=np.float64)


def update_both(
    shares: tuple[np.ndarray, np.ndarray | None, np.ndarray, np.ndarray | None],
    g_own: np.ndarray,
    g_peer: np.ndarray,
    *,
    params: SSHELRParams,
    lr: float,
    rows: int,
    penalised: tuple[np.ndarray, np.ndarray],
    party: int,
) -> tuple[np.ndarray, np.ndarray | None, np.ndarray, np.ndarray | None]:
    """:func:`update_shares` on this party's shares of both weight vectors (its own
    weights and the peer's): ``(w_own, v_own, w_peer, v_peer)`` after one step."""
    w_own, v_own, w_peer, v_peer = shares
    step = functools.partial(update_shares, params=params, lr=lr, rows=rows, party=party)
    w_own, v_own = step(w_own, v_own, g_own, penalised=penalised[0])
    w_peer, v_peer = step(w_peer, v_peer, g_peer, penalised=penalised[1])
    return w_own, v_own, w_peer, v_peer
