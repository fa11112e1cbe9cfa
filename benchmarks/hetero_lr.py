"""Vertical logistic regression: FATE's own quality benchmark, and the 100,000 x 330 scale run.

1. FATE's quality-benchmark configuration on FATE's breast data (guest
   breast_hetero_guest, host breast_hetero_host, arbiter): Paillier 1024, 20
   epochs, batch size 240, RMSprop at learning rate 0.15, L2 alpha 0.01,
   random-uniform init with a seed, intercept; reader, PSI, LR, evaluation, run
   with ``atoll run``'s machinery (three site processes, real gateways, mTLS).
   Also with 2048-bit keys. FATE 2.2.0 itself cannot be installed in this
   sandbox (no network to its images); its figure for this job on this same
   2-core machine kind, 138 s end to end with training AUC 0.9944, comes from the
   benchmark issue and is printed as the reference. Without ../shared the demo's
   split of scikit-learn's breast-cancer set stands in.
2. Scale: 100,000 rows, guest 30 features + label, host 300 features, one
   full-batch epoch of coordinated LR and of SSHE-LR, 1024- and 2048-bit keys
   (``--quick``: 2,000 rows x (10 + 30), and SSHE-LR's quality run with 5 epochs). FATE 2.0's published figures (two
   16-core machines): 2 min 16 s per epoch for coordinated LR, 4 min 54 s for
   SSHE-LR. Per-core efficiency ratio = (FATE seconds x 16) / (ours x 2).
3. The plaintext twin: scikit-learn on the joined data, time and AUC, same run.
"""

from __future__ import annotations

import logging
import os
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import Report, parse_args
from _lr_job import make_world

from atoll.federation import JobParties
from atoll.federation.launch import run_local_job
from atoll.flow.local import run_job
from atoll.flow.spec import parse_job

FATE_QUALITY_SECONDS = 138.0
FATE_QUALITY_AUC = 0.9944
FATE_EPOCH_SECONDS = {"coordinated_lr": 136.0, "sshe_lr": 294.0}
FATE_CORES = 16
OUR_CORES = os.cpu_count() or 2
SHARED = Path(
    os.environ.get(
        "ATOLL_SHARED_DATA", Path(__file__).resolve().parents[1] / ".." / "shared" / "data"
    )
)


def quality_job(
    files: dict[str, str], key_bits: int, algorithm: str, epochs: int = 20
) -> dict[str, Any]:
    lr: dict[str, Any] = {
        "epochs": epochs,
        "batch_size": 240,
        "learning_rate": 0.15,
        "alpha": 0.01,
        "penalty": "l2",
        "init": "random_uniform",
        "seed": 42,
        "fit_intercept": True,
        "key_bits": key_bits,
    }
    if algorithm == "coordinated_lr":
        lr.update(optimizer="rmsprop", early_stop="diff", tol=1e-4)
    parties: dict[str, Any] = {"guest": 9999, "host": [10000]}
    if algorithm == "coordinated_lr":
        parties["arbiter"] = 10001
    return {
        "name": f"fate-quality-{algorithm}-{key_bits}",
        "parties": parties,
        "options": {"workers": 1},
        "tasks": {
            "reader": {
                "component": "reader",
                "parameters": {"id_column": "id"},
                "role_parameters": {
                    "guest": {"path": files["guest"], "label_column": "y", "task": "binary"},
                    "host": {"path": files["host"]},
                },
            },
            "psi": {"component": "psi", "inputs": {"data": "reader.data"}},
            "lr": {
                "component": algorithm,
                "inputs": {"train_data": "psi.data"},
                "parameters": lr,
            },
            "evaluation": {"component": "evaluation", "inputs": {"data": "lr.train_output_data"}},
        },
    }


def quality_files(tmp: Path) -> tuple[dict[str, str], str]:
    fate = SHARED / "fate" if (SHARED / "fate").is_dir() else SHARED
    g, h = fate / "breast_hetero_guest.csv", fate / "breast_hetero_host.csv"
    if g.exists() and h.exists():
        return {"guest": str(g), "host": str(h)}, "FATE breast_hetero"
    from atoll.cli.demo import write_demo_data

    world = write_demo_data(tmp, seed=42, test_share=0.0)
    return {
        "guest": world["files"]["guest_train"],
        "host": world["files"]["host_train"],
    }, "scikit-learn breast cancer (../shared absent)"


def run_quality(report: Report, tmp: Path, key_bits: int, algorithm: str, epochs: int = 20) -> None:
    files, source = quality_files(tmp)
    spec = parse_job(quality_job(files, key_bits, algorithm, epochs), "benchmark")
    t0 = time.perf_counter()
    result = run_job(spec, tmp / f"job-{algorithm}-{key_bits}", log_level=logging.WARNING)
    wall = time.perf_counter() - t0
    guest = next(s for p, s in result.parties.items() if p.role == "guest")
    stages = {name: round(s["seconds"], 2) for name, s in guest.items()}
    for p, s in result.parties.items():
        if p.role != "guest" and "lr" in s:
            stages["lr"] = round(max(stages["lr"], s["lr"]["seconds"]), 2)
    auc = guest["evaluation"]["metrics"]["records"]["evaluation"]["train"]["auc"]
    figures: dict[str, Any] = {
        "data": source,
        "epochs": epochs,
        "seconds": round(wall, 2),
        "stages": stages,
        "auc": round(auc, 4),
    }
    if epochs == 20:  # FATE's figure is for its 20-epoch configuration
        figures.update(
            fate_seconds=FATE_QUALITY_SECONDS,
            fate_auc=FATE_QUALITY_AUC,
            ratio_fate=round(FATE_QUALITY_SECONDS / wall, 2),
        )
    report.add(f"quality_{algorithm}_{key_bits}", figures)


def sklearn_quality(report: Report, tmp: Path) -> None:
    import numpy as np
    from sklearn.linear_model import LogisticRegression
    from sklearn.metrics import roc_auc_score

    from atoll.ml.reader import ReaderParams, read_frame

    files, source = quality_files(tmp)
    g, _ = read_frame(files["guest"], ReaderParams(id_column="id", label_column="y", task="binary"))
    h, _ = read_frame(files["host"], ReaderParams(id_column="id"))
    h = h.reorder([i for i in g.ids if i in set(h.ids)])
    g = g.reorder(h.ids)
    x = np.hstack([g.features, h.features])
    y = g.require_label("benchmark")
    t0 = time.perf_counter()
    model = LogisticRegression(C=1 / (0.01 * len(y)), max_iter=5000).fit(x, y)
    seconds = time.perf_counter() - t0
    auc = roc_auc_score(y, model.predict_proba(x)[:, 1])
    report.add(
        "quality_sklearn", {"data": source, "seconds": round(seconds, 3), "auc": round(auc, 4)}
    )


def run_scale(
    report: Report, n: int, gf: int, hf: int, algorithm: str, key_bits: int, workers: int
) -> None:
    parties = (
        JobParties.of(guest=9999, hosts=[10000], arbiter=10001)
        if algorithm == "coordinated_lr"
        else JobParties.of(guest=9999, hosts=[10000])
    )
    params = {
        "n": n,
        "guest_features": gf,
        "host_features": hf,
        "seed": 7,
        "algorithm": algorithm,
        "key_bits": key_bits,
        "epochs": 1,
        "workers": workers,
    }
    t0 = time.perf_counter()
    out = run_local_job(
        "_lr_job:party",
        parties,
        {p: params for p in parties},
        workers=1,
        timeout=7200,
        log_level=logging.WARNING,
    )
    wall = time.perf_counter() - t0
    epoch = max(o.result["seconds"] for o in out.values())
    fate = FATE_EPOCH_SECONDS[algorithm]
    figures: dict[str, Any] = {"epoch_seconds": round(epoch, 2), "wall_seconds": round(wall, 2)}
    if n == 100_000:
        figures["fate_epoch_seconds"] = fate
        figures["per_core_ratio_fate"] = round(fate * FATE_CORES / (epoch * OUR_CORES), 2)
    report.add(f"scale_{algorithm}_{key_bits}_n{n}", figures)


def sklearn_scale(report: Report, n: int, gf: int, hf: int) -> None:
    import numpy as np
    from sklearn.linear_model import LogisticRegression
    from sklearn.metrics import roc_auc_score

    world = make_world(n, gf, hf, 7)
    x = np.hstack([world["xg"], world["xh"]])
    t0 = time.perf_counter()
    model = LogisticRegression(max_iter=1000).fit(x, world["y"])
    seconds = time.perf_counter() - t0
    auc = roc_auc_score(world["y"], model.predict_proba(x)[:, 1])
    report.add(f"scale_sklearn_n{n}", {"seconds": round(seconds, 2), "auc": round(auc, 4)})


def main() -> None:
    args = parse_args(__doc__.splitlines()[0])
    report = Report("hetero_lr", quick=args.quick)
    workers = OUR_CORES  # parties mostly take turns, so each may use every core
    with tempfile.TemporaryDirectory(prefix="atoll-bench-lr-") as tmp:
        root = Path(tmp)
        sklearn_quality(report, root)
        for algorithm in ("coordinated_lr", "sshe_lr"):
            for bits in (1024,) if args.quick else (1024, 2048):
                # --quick: FATE's configuration for coordinated LR, a 5-epoch SSHE-LR
                epochs = 5 if args.quick and algorithm == "sshe_lr" else 20
                run_quality(report, root, bits, algorithm, epochs)
        n, gf, hf = (2_000, 10, 30) if args.quick else (100_000, 30, 300)
        sklearn_scale(report, n, gf, hf)
        for algorithm in ("coordinated_lr", "sshe_lr"):
            for bits in (1024,) if args.quick else (1024, 2048):
                run_scale(report, n, gf, hf, algorithm, bits, workers)
    report.finish()


if __name__ == "__main__":
    main()
