"""Codec throughput: encode + decode MB/s, Atoll's codec beside pickle, same run.

Workloads (``--quick`` divides each by 10):
- a 100 MB float64 array,
- 100,000 Paillier-sized integers (4096-bit: ciphertexts of a 2048-bit key),
- 1,000,000 small dicts (a row-like record each).

MB/s counts the size of the Python payload's natural bytes (array nbytes, 512
bytes per ciphertext, the pickle size for dicts) through one encode plus one
decode. pickle is the ceiling for speed, not a candidate: it may never read
another party's bytes.
"""

from __future__ import annotations

import pickle
import random
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import Report, best_of, parse_args

from atoll.codec import decode, encode


def roundtrip_mb_s(payload: object, nbytes: int, dumps, loads, repeat: int) -> float:
    seconds = best_of(repeat, lambda: loads(dumps(payload)))
    return nbytes / seconds / 1e6


def main() -> None:
    args = parse_args(__doc__.splitlines()[0])
    scale = 10 if args.quick else 1
    report = Report("codec", quick=args.quick)
    pickle_dumps = lambda o: pickle.dumps(o, protocol=5)  # noqa: E731
    rng = np.random.default_rng(1)

    arr = rng.random(100_000_000 // 8 // scale)
    ours = roundtrip_mb_s(arr, arr.nbytes, encode, decode, args.repeat)
    theirs = roundtrip_mb_s(arr, arr.nbytes, pickle_dumps, pickle.loads, args.repeat)
    report.compare("float64_array_MBps", ours, theirs, "MB/s", higher_is_better=True, peer="pickle")

    r = random.Random(2)
    n2 = (1 << 4096) - 1
    ints = [r.getrandbits(4096) % n2 for _ in range(100_000 // scale)]
    size = 512 * len(ints)
    ours = roundtrip_mb_s(ints, size, encode, decode, args.repeat)
    theirs = roundtrip_mb_s(ints, size, pickle_dumps, pickle.loads, args.repeat)
    report.compare(
        "bigint4096_list_MBps", ours, theirs, "MB/s", higher_is_better=True, peer="pickle"
    )
    report.add(
        "bigint4096_bytes_per_value",
        {"atoll": len(encode(ints)) / len(ints), "pickle": len(pickle_dumps(ints)) / len(ints)},
    )

    dicts = [
        {"id": i, "x": i * 0.5, "name": f"user{i}", "ok": i % 2 == 0}
        for i in range(1_000_000 // scale)
    ]
    size = len(pickle_dumps(dicts))
    ours = roundtrip_mb_s(dicts, size, encode, decode, args.repeat)
    theirs = roundtrip_mb_s(dicts, size, pickle_dumps, pickle.loads, args.repeat)
    report.compare("small_dicts_MBps", ours, theirs, "MB/s", higher_is_better=True, peer="pickle")
    report.finish()


if __name__ == "__main__":
    main()
