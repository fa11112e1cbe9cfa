"""Homomorphic encryption: Atoll beside python-paillier, SecretFlow HEU and FATE's Rust library.

One run, 2048-bit keys, one core and two cores (``workers=2``) for Atoll's vector operations;
peers run on one core (none of them uses a second one). Figures are operations per second
(higher is better); ``ratio_X`` is Atoll's single-core figure over library X's.

Operations: key generation, encryption (public key; with a randomness pool filled ahead of
time; owner-side CRT encryption), decryption, ciphertext + ciphertext, ciphertext x 53-bit
scalar, and the vertical-LR gradient step: an encrypted vector of N values times a plaintext
N x M matrix (full: 100,000 x 300, ``--quick``: 2,000 x 30), by Pippenger multi-exponentiation
against one scalar multiplication per element ("naive": ours, batched, then summed, on a
sample of the same matrix), phe's ``EncryptedNumber * float`` per element and HEU's ``Evaluator.matmul`` (both on
samples: they are too slow for the full size), as multiply-accumulates per second.

``encrypt`` uses the native AVX-512 IFMA kernel for the fixed-base walks where the CPU and a C
compiler allow (``native_kernel`` in the JSON says which); ``encrypt_gmpy2`` is the same
encryption on the pure gmpy2 loop. ``ou_2048.encrypt_r110`` is Atoll's OU encryption at HEU's
own randomizer length (110 bits at 2048; ``kRandomBits2048``), a like-for-like figure only:
Atoll's keys refuse randomizers shorter than twice the security level (224 bits at 2048),
because an L-bit randomizer falls to a 2^(L/2) kangaroo walk.

Additions run in one process by design (shipping a ciphertext costs more than adding it), so
they have no two-core figure. On a shared machine the figures are noisy: compare ratios
from the same run.

Peers that do not install are left out of the JSON (not reported as zero):
``pip install phe sf-heu fate_utils``.
"""

from __future__ import annotations

import contextlib
import copy
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import Report, best_of, parse_args

from atoll.crypto import he
from atoll.crypto.he import _native, parallel

try:
    import phe
except ImportError:  # pragma: no cover - optional peer
    phe = None
try:
    from heu import phe as heu
except ImportError:  # pragma: no cover - optional peer
    heu = None
try:
    import fate_utils.ou as fate_ou
    import fate_utils.paillier as fate_paillier
except ImportError:  # pragma: no cover - optional peer
    fate_paillier = fate_ou = None

BITS = 2048
HEU_OU_RANDOMIZER_BITS = 110
Row = dict[str, Any]


@contextlib.contextmanager
def gmpy2_only() -> Iterator[None]:
    """Run Atoll's fixed-base walks on the gmpy2 loop, as on a CPU without AVX-512 IFMA."""
    saved = _native.available
    _native.available = lambda: False  # type: ignore[assignment]
    try:
        yield
    finally:
        _native.available = saved  # type: ignore[assignment]


def rate(repeat: int, count: int, fn: Callable[[], Any]) -> float:
    return count / best_of(repeat, fn)


def record(table: dict[str, Row], section: str, op: str, row: Row) -> None:
    ours = row.get("atoll")
    for peer in ("phe", "heu", "fate", "naive"):
        if peer in row and ours:
            row[f"ratio_{peer}"] = round(ours / row[peer], 2)
    if "atoll_2cores" in row and ours:
        row["scaling_2cores"] = round(row["atoll_2cores"] / ours, 2)
    row = {k: (round(v, 1) if isinstance(v, float) else v) for k, v in row.items()}
    table[op] = row
    print(f"{section:<14} {op:<16} " + "  ".join(f"{k}={v}" for k, v in row.items()), flush=True)


def signed53(rng: np.random.Generator, n: int) -> np.ndarray:
    return rng.integers(-(2**53), 2**53, size=n, dtype=np.int64)


def bench_atoll(
    scheme: str, repeat: int, n: int, table: dict[str, Row], section: str
) -> dict[str, Row]:
    """Atoll's figures for ``scheme``; returns rows to which peers are added."""
    rows: dict[str, Row] = {}
    rows["keygen"] = {"atoll": rate(repeat, 1, lambda: he.generate_keypair(scheme, BITS))}
    pk, sk = he.generate_keypair(scheme, BITS)
    rng = np.random.default_rng(7)
    ms = signed53(rng, n)
    ks = rng.integers(2**52, 2**53, size=n, dtype=np.int64)  # 53-bit scalars
    # build the fixed-base tables (here and in both workers) outside the timings
    he.EncryptedVector.encrypt(pk, ms[:4])
    sk.encrypt(0)
    parallel.warm_up(2, pk)
    parallel.warm_up(2, sk)

    def enc(workers: int) -> float:
        return rate(repeat, n, lambda: he.EncryptedVector.encrypt(pk, ms, workers=workers))

    rows["encrypt"] = {"atoll": enc(1), "atoll_2cores": enc(2)}
    if _native.available():  # the same encryption on the gmpy2 loop alone
        with gmpy2_only():
            rows["encrypt_gmpy2"] = {"atoll": enc(1)}
    if scheme == "ou":
        # HEU's OU draws 110-bit randomizers at 2048 bits (kRandomBits2048): a like-for-like
        # figure at its parameter, which Atoll refuses for real keys (an L-bit exponent
        # falls to a 2^(L/2) kangaroo walk: 2^55 here)
        short = copy.copy(pk)
        short.randomizer_bits = HEU_OU_RANDOMIZER_BITS
        short._tables = short._joint = None
        he.EncryptedVector.encrypt(short, ms[:4])
        rows["encrypt_r110"] = {
            "atoll": rate(repeat, n, lambda: he.EncryptedVector.encrypt(short, ms))
        }
    pool = he.RandomnessPool(pk)

    def with_pool() -> None:
        he.EncryptedVector.encrypt(pk, ms, pool=pool)

    times = []
    for _ in range(repeat):
        pool.fill(n)
        times.append(best_of(1, with_pool))
    rows["encrypt_pool"] = {"atoll": n / min(times)}
    rows["encrypt_owner"] = (
        {}
        if scheme != "paillier"
        else {
            "atoll": rate(
                repeat, n, lambda: he.EncryptedVector.encrypt(pk, ms, private_key=sk, workers=1)
            ),
            "atoll_2cores": rate(
                repeat, n, lambda: he.EncryptedVector.encrypt(pk, ms, private_key=sk, workers=2)
            ),
        }
    )
    v = he.EncryptedVector.encrypt(pk, ms)
    nd = max(n // 2, 128)
    vd = v[:nd]
    rows["decrypt"] = {
        "atoll": rate(repeat, nd, lambda: vd.decrypt_integers(sk)),
        "atoll_2cores": rate(repeat, nd, lambda: vd.decrypt_integers(sk, workers=2)),
    }
    big = n * 10
    vb = he.EncryptedVector.concat([v] * 10)
    # additions stay in one process (shipping a ciphertext costs more than adding it)
    rows["add"] = {"atoll": rate(repeat, big, lambda: vb.add(vb))}
    rows["scalar_mul"] = {
        "atoll": rate(repeat, nd, lambda: vd.mul(ks[:nd])),
        "atoll_2cores": rate(repeat, nd, lambda: vd.mul(ks[:nd], workers=2)),
    }
    return rows


def bench_phe(repeat: int, n: int, rows: dict[str, Row]) -> None:
    rows["keygen"]["phe"] = rate(1, 1, lambda: phe.generate_paillier_keypair(n_length=BITS))
    ppk, psk = phe.generate_paillier_keypair(n_length=BITS)
    rng = np.random.default_rng(8)
    ms = [int(x) for x in signed53(rng, n)]
    ks = [int(x) for x in rng.integers(2**52, 2**53, size=n)]
    rows["encrypt"]["phe"] = rate(repeat, n, lambda: [ppk.encrypt(m) for m in ms])
    cs = [ppk.encrypt(m) for m in ms]
    rows["decrypt"]["phe"] = rate(repeat, n, lambda: [psk.decrypt(c) for c in cs])
    rows["add"]["phe"] = rate(repeat, n, lambda: [a + b for a, b in zip(cs, cs, strict=True)])
    rows["scalar_mul"]["phe"] = rate(
        repeat, n, lambda: [c * k for c, k in zip(cs, ks, strict=True)]
    )


def bench_heu(schema: Any, repeat: int, n: int, rows: dict[str, Row]) -> None:
    rows["keygen"]["heu"] = rate(1, 1, lambda: heu.setup(schema, BITS))
    kit = heu.setup(schema, BITS)
    enc, dec, ev = kit.encryptor(), kit.decryptor(), kit.evaluator()
    rng = np.random.default_rng(9)
    s = kit.get_schema()
    ps = [heu.Plaintext(s, int(x)) for x in signed53(rng, n)]
    kps = [heu.Plaintext(s, int(x)) for x in rng.integers(2**52, 2**53, size=n)]
    rows["encrypt"]["heu"] = rate(repeat, n, lambda: [enc.encrypt(p) for p in ps])
    if "encrypt_r110" in rows:
        rows["encrypt_r110"]["heu"] = rows["encrypt"]["heu"]
    cs = [enc.encrypt(p) for p in ps]
    rows["decrypt"]["heu"] = rate(repeat, n, lambda: [dec.decrypt(c) for c in cs])
    rows["add"]["heu"] = rate(
        repeat, n, lambda: [ev.add(a, b) for a, b in zip(cs, cs, strict=True)]
    )
    rows["scalar_mul"]["heu"] = rate(
        repeat, n, lambda: [ev.mul(c, k) for c, k in zip(cs, kps, strict=True)]
    )


def bench_fate(mod: Any, repeat: int, n: int, rows: dict[str, Row], signed: bool) -> None:
    rows["keygen"]["fate"] = rate(1, 1, lambda: mod.keygen(BITS))
    sk, pk, coder = mod.keygen(BITS)
    rng = np.random.default_rng(10)
    if signed:
        x = signed53(rng, n)
        enc_x = coder.encode_i64_vec(x)
        enc_k = coder.encode_i64_vec(rng.integers(2**52, 2**53, size=n, dtype=np.int64))
    else:  # fate_utils' OU coder takes unsigned values only
        x = rng.integers(0, 2**53, size=n, dtype=np.uint64)
        enc_x = coder.encode_u64_vec(x)
        enc_k = coder.encode_u64_vec(rng.integers(2**52, 2**53, size=n, dtype=np.uint64))
    rows["encrypt"]["fate"] = rate(repeat, n, lambda: pk.encrypt_encoded(enc_x, True))
    cv = pk.encrypt_encoded(enc_x, True)
    rows["decrypt"]["fate"] = rate(repeat, n, lambda: sk.decrypt_to_encoded(cv))
    rows["add"]["fate"] = rate(repeat, n, lambda: cv.add(pk, cv))
    rows["scalar_mul"]["fate"] = rate(repeat, n, lambda: cv.mul(pk, enc_k))


def bench_matvec(n: int, m: int, repeat: int, sample: int) -> Row:
    """Encrypted N-vector times plaintext N x M matrix (multiply-accumulates per second)."""
    pk, sk = he.generate_keypair("paillier", BITS)
    rng = np.random.default_rng(11)
    x = rng.normal(size=(n, m))
    d = rng.normal(size=n)
    parallel.warm_up(2, pk)
    v = he.EncryptedVector.encrypt(pk, d, workers=2)
    macs = n * m
    t1 = best_of(repeat, lambda: v.vecmat(x))
    t2 = best_of(repeat, lambda: v.vecmat(x, workers=2))
    # correctness on the result of the timed operation
    got = v.vecmat(x[:, :2], workers=2).decrypt(sk)
    np.testing.assert_allclose(got, d @ x[:, :2], rtol=1e-6, atol=1e-4)
    # one scalar multiplication per element, on a sample of the same encoded matrix
    s = min(sample, n)
    enc = he.FixedPointCodec().encode_array(x[:s, 0]).tolist()
    sub = v.data[:s]

    def naive() -> None:  # our fastest per-element path: batched scalar multiplications
        pk.sum(pk.mul_many(sub, enc))

    row: Row = {"atoll": macs / t1, "atoll_2cores": macs / t2, "naive": rate(repeat, s, naive)}
    if phe is not None:
        ppk = phe.PaillierPublicKey(int(pk.n))
        pcs = [phe.EncryptedNumber(ppk, int(c)) for c in sub]
        fl = [float(f) for f in x[:s, 0]]

        def phe_naive() -> None:
            acc = pcs[0] * 0.0
            for c, f in zip(pcs, fl, strict=True):
                acc = acc + c * f

        row["phe"] = rate(1, s, phe_naive)
    if heu is not None:
        from heu import numpy as hnp

        kit = hnp.setup(heu.SchemaType.ZPaillier, BITS)
        scale = 2**he.DEFAULT_FRAC_BITS  # the same fixed-point precision as ours
        fenc = heu.FloatEncoder(heu.SchemaType.ZPaillier, scale)
        hs_, hm = min(s, 200), min(m, 3)  # HEU's matmul is slow: a small sample
        cd = kit.encryptor().encrypt(kit.array(d[:hs_].reshape(1, -1), fenc))
        px = kit.array(x[:hs_, :hm], fenc)
        ev = kit.evaluator()
        row["heu"] = rate(1, hs_ * hm, lambda: ev.matmul(cd, px))
    row["shape"] = f"{n}x{m}"
    row["unit"] = "multiply-accumulates/s"
    return row


def main() -> None:
    args = parse_args(__doc__.splitlines()[0])
    quick = args.quick
    repeat = 2 if quick else args.repeat
    n_ops = 400 if quick else 4000
    n_peer = 30 if quick else 200
    report = Report("he", quick=quick)
    peers = [name for name, mod in (("phe", phe), ("heu", heu), ("fate", fate_paillier)) if mod]
    report.add("peers_installed", peers)
    report.add("native_kernel", _native.reason() or "avx512ifma")
    t0 = time.perf_counter()

    table: dict[str, Row] = {}
    rows = bench_atoll("paillier", repeat, n_ops, table, "paillier_2048")
    if phe is not None:
        bench_phe(repeat, n_peer, rows)
    if heu is not None:
        bench_heu(heu.SchemaType.ZPaillier, repeat, n_peer * 4, rows)
    if fate_paillier is not None:
        bench_fate(fate_paillier, repeat, n_peer, rows, signed=True)
    section: dict[str, Row] = {}
    for op, row in rows.items():
        if row:
            record(section, "paillier_2048", op, row)
    report.figures["paillier_2048"] = section

    rows = bench_atoll("ou", repeat, n_ops * 4, table, "ou_2048")
    if heu is not None:
        bench_heu(heu.SchemaType.OU, repeat, n_peer * 20, rows)
    if fate_ou is not None:
        bench_fate(fate_ou, repeat, n_peer * 4, rows, signed=False)
    section = {}
    for op, row in rows.items():
        if row:
            record(section, "ou_2048", op, row)
    report.figures["ou_2048"] = section

    n, m = (2_000, 30) if quick else (100_000, 300)
    mv = bench_matvec(n, m, 1, 300 if quick else 2000)
    section = {}
    record(section, "matvec", "vecmat", mv)
    report.figures["matvec"] = section["vecmat"]
    report.add("seconds", round(time.perf_counter() - t0, 1))
    parallel.shutdown()
    report.finish()


if __name__ == "__main__":
    main()
