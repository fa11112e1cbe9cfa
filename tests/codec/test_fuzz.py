"""Fuzz: random and mutated byte strings never raise anything but CodecError."""

from __future__ import annotations

import random
import resource

import numpy as np
import pytest

from atoll.codec import CodecError, decode, encode

from ._strategies import Batch, Point

N_INPUTS = 100_000


def _seeds() -> list[bytes]:
    return [
        encode(v)
        for v in [
            None,
            [1, 2.5, "x", b"y", True],
            {"a": (1, 2), 3: [None]},
            [2**4000 + i for i in range(4)],
            [2**100] * 3000,  # out-of-band integer list
            np.arange(12, dtype="<i4").reshape(3, 4),
            np.asfortranarray(np.ones((3, 4))),
            np.zeros(5000),  # out-of-band array
            np.float32(1.5),
            Batch([Point(1, 2.0, "p")], np.ones(3), {"k": 2**70}, (1, b"z")),
            ((((1,),),),),
        ]
    ]


def _mutate(rng: random.Random, data: bytes) -> bytes:
    buf = bytearray(data)
    for _ in range(rng.randint(1, 4)):
        op = rng.randrange(6)
        if op == 0 and buf:  # flip a bit
            i = rng.randrange(len(buf))
            buf[i] ^= 1 << rng.randrange(8)
        elif op == 1 and buf:  # overwrite a byte
            buf[rng.randrange(len(buf))] = rng.randrange(256)
        elif op == 2:  # truncate
            del buf[rng.randrange(len(buf) + 1) :]
        elif op == 3:  # insert random bytes
            i = rng.randrange(len(buf) + 1)
            buf[i:i] = rng.randbytes(rng.randint(1, 8))
        elif op == 4 and len(buf) > 16:  # set a length-like field to an extreme
            i = rng.randrange(len(buf) - 4)
            buf[i : i + 4] = rng.choice(
                [b"\xff\xff\xff\xff", b"\x00\x00\x00\x80", b"\x7f\xff\xff\xff"]
            )
        else:  # splice two messages
            buf += rng.choice(_SEEDS)[: rng.randrange(64)]
    return bytes(buf)


_SEEDS = _seeds()


@pytest.mark.timeout(300)  # a hang fails the test instead of stalling CI
def test_fuzz_only_codec_errors():
    rng = random.Random(20261127)
    rss_before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    outcomes = {"ok": 0, "refused": 0}
    for i in range(N_INPUTS):
        kind = i % 4
        if kind == 0:
            data = rng.randbytes(rng.randint(0, 64))
        elif kind == 1:  # a valid header in front of random bytes
            data = b"ATL\x01" + rng.randbytes(rng.randint(0, 64))
        else:
            data = _mutate(rng, rng.choice(_SEEDS))
        try:
            decode(data)
            outcomes["ok"] += 1
        except CodecError:
            outcomes["refused"] += 1
        except Exception as exc:  # pragma: no cover - the failure we look for
            raise AssertionError(
                f"input #{i} {data[:80]!r} raised {exc.__class__.__name__}: {exc}"
            ) from exc
    grown_mb = (resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - rss_before) / 1024
    assert outcomes["refused"] > N_INPUTS // 2
    assert grown_mb < 256, f"peak memory grew by {grown_mb:.0f} MB while fuzzing"
