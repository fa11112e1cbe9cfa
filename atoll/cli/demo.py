"""``atoll demo``: a bank and a partner train one logistic regression without pooling data.

The bank (the guest) has the label and 10 columns of scikit-learn's breast-cancer
data set; the partner (the host) has 20 other columns of the same rows, as
FATE's examples split it. Ids are shuffled, and a few rows exist on one side
only, so the private set intersection has work. A third site, the arbiter,
holds the Paillier key. The demo:

1. writes each party's CSV files (a training and a held-out test split) and
   the job file, ``job.yaml``, that ``atoll run`` can run again;
2. runs the job: every party is its own OS process with its own gateway (gRPC,
   mutual TLS with certificates made for the run): reader, PSI, standard
   scaling, coordinated LR on ciphertexts, prediction and evaluation;
3. reports the intersection, the epochs, time per stage, and the test AUC and
   KS next to scikit-learn's on the same rows pooled in plaintext, and where
   the ROC/KS/lift charts were written.
"""

from __future__ import annotations

import argparse
import csv
import json
import logging
import os
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np
import yaml

from atoll.federation.launch import PartyFailed

__all__ = ["add_parser", "demo_job", "plaintext_twin", "write_demo_data"]

GUEST, HOST, ARBITER = 9999, 10000, 10001


def add_parser(sub: Any, name: str) -> None:
    p = sub.add_parser(
        name, help="the main job: vertical logistic regression between three local sites"
    )
    p.add_argument("--dir", default="atoll-demo", help="where data, job and outputs go")
    p.add_argument("--key-bits", type=int, default=2048, help="Paillier key size (default 2048)")
    p.add_argument("--epochs", type=int, default=20, help="training epochs (default 20)")
    p.add_argument("--workers", type=int, default=0, help="processes per site (default: cores/2)")
    p.add_argument("--seed", type=int, default=2026, help="seed of the split and the training")
    p.add_argument("--verbose", action="store_true", help="show the parties' log lines")
    p.add_argument("--json", action="store_true", help="print the report as one JSON line last")
    p.set_defaults(handler=run)


def write_demo_data(out: Path, seed: int = 2026, test_share: float = 0.25) -> dict[str, Any]:
    """Each party's CSV files (train and test) from scikit-learn's breast-cancer set.

    Guest: ``id, y`` and the first 10 columns; host: ``id`` and the other 20.
    Ids are shuffled integers; about 3% of rows are dropped at the guest and a
    different 3% at the host, so PSI finds fewer rows than either side has.
    Returns the file paths and the pooled plaintext (for the check, never sent).
    """
    from sklearn.datasets import load_breast_cancer

    data = load_breast_cancer()
    x, y = data.data.astype(np.float64), data.target.astype(np.int64)
    n = len(y)
    rng = np.random.default_rng(seed)
    ids = rng.choice(np.arange(100_000, 1_000_000), size=n, replace=False)
    test = np.zeros(n, dtype=bool)
    for cls in (0, 1):  # stratified held-out split
        rows = np.flatnonzero(y == cls)
        test[rng.choice(rows, size=round(len(rows) * test_share), replace=False)] = True
    at_guest = rng.random(n) >= 0.03
    at_host = rng.random(n) >= 0.03
    gcols = [f"x{j}" for j in range(10)]
    hcols = [f"x{j}" for j in range(20)]
    out.mkdir(parents=True, exist_ok=True)
    files: dict[str, str] = {}
    for split, mask in (("train", ~test), ("test", test)):
        for role, present, cols, block in (
            ("guest", at_guest, gcols, x[:, :10]),
            ("host", at_host, hcols, x[:, 10:]),
        ):
            rows = np.flatnonzero(mask & present)
            rows = rows[rng.permutation(len(rows))]  # each side's own row order
            path = out / f"{role}_{split}.csv"
            with path.open("w", newline="") as f:
                w = csv.writer(f)
                w.writerow(["id", *(["y"] if role == "guest" else []), *cols])
                for i in rows:
                    label = [int(y[i])] if role == "guest" else []
                    w.writerow([int(ids[i]), *label, *(f"{v:.6g}" for v in block[i])])
            files[f"{role}_{split}"] = str(path)
    both = at_guest & at_host
    return {
        "files": files,
        "x": x,
        "y": y,
        "train_rows": np.flatnonzero(~test & both),
        "test_rows": np.flatnonzero(test & both),
        "rows": {"guest": int(at_guest.sum()), "host": int(at_host.sum()), "all": n},
    }


def demo_job(
    files: dict[str, str], *, key_bits: int, epochs: int, seed: int, workers: int
) -> dict[str, Any]:
    """The demo's job file as plain data (what ``job.yaml`` holds)."""

    def reader(split: str) -> dict[str, Any]:
        return {
            "component": "reader",
            "parameters": {"id_column": "id"},
            "role_parameters": {
                "guest": {
                    "path": Path(files[f"guest_{split}"]).name,
                    "label_column": "y",
                    "task": "binary",
                },
                "host": {"path": Path(files[f"host_{split}"]).name},
            },
        }

    return {
        "name": "demo-hetero-lr",
        "parties": {"guest": GUEST, "host": [HOST], "arbiter": ARBITER},
        "options": {"workers": workers, "timeout": 1800},
        "tasks": {
            "read_train": reader("train"),
            "read_test": reader("test"),
            "psi_train": {"component": "psi", "inputs": {"data": "read_train.data"}},
            "psi_test": {"component": "psi", "inputs": {"data": "read_test.data"}},
            "scale": {
                "component": "feature_scale",
                "inputs": {"train_data": "psi_train.data", "test_data": "psi_test.data"},
                "parameters": {"method": "standard"},
            },
            "lr": {
                "component": "coordinated_lr",
                "inputs": {"train_data": "scale.train_data", "test_data": "scale.test_data"},
                "parameters": {
                    "epochs": epochs,
                    "batch_size": 240,
                    "optimizer": "rmsprop",
                    "learning_rate": 0.15,
                    "penalty": "l2",
                    "alpha": 0.01,
                    "init": "zeros",
                    "seed": seed,
                    "key_bits": key_bits,
                },
            },
            "evaluate": {
                "component": "evaluation",
                "inputs": {"data": "lr.train_output_data", "validate_data": "lr.test_output_data"},
                "parameters": {"title": "Atoll demo: vertical logistic regression"},
            },
        },
    }


def plaintext_twin(world: dict[str, Any], alpha: float = 0.01) -> dict[str, float]:
    """scikit-learn on the same rows pooled in plaintext (the check; never part of the job)."""
    from sklearn.linear_model import LogisticRegression
    from sklearn.metrics import roc_auc_score, roc_curve
    from sklearn.preprocessing import StandardScaler

    x, y = world["x"], world["y"]
    tr, te = world["train_rows"], world["test_rows"]
    scaler = StandardScaler().fit(x[tr])
    # Atoll's L2 term is alpha/2 * |w|^2 on the mean loss; sklearn's is |w|^2 / (2 C) on the sum
    model = LogisticRegression(C=1.0 / (alpha * len(tr)), max_iter=5000)
    t0 = time.perf_counter()
    model.fit(scaler.transform(x[tr]), y[tr])
    seconds = time.perf_counter() - t0
    score = model.predict_proba(scaler.transform(x[te]))[:, 1]
    fpr, tpr, _ = roc_curve(y[te], score)
    return {
        "auc": float(roc_auc_score(y[te], score)),
        "ks": float(np.max(tpr - fpr)),
        "seconds": seconds,
    }


def run(args: argparse.Namespace) -> int:
    from atoll.cli.run import ProgressPrinter, print_failure
    from atoll.flow.local import run_job
    from atoll.flow.spec import load_job

    out = Path(args.dir).resolve()
    workers = args.workers or max(1, (os.cpu_count() or 2) // 2)
    say = (lambda *a, **k: print(*a, **k, file=sys.stderr)) if args.json else print
    say(__doc__.split("\n\n")[0].replace("``", ""))
    world = write_demo_data(out / "data", seed=args.seed)
    job = demo_job(
        world["files"], key_bits=args.key_bits, epochs=args.epochs, seed=args.seed, workers=workers
    )
    job_file = out / "data" / "job.yaml"
    job_file.write_text(yaml.safe_dump(job, sort_keys=False))
    say(
        f"\nData and job file in {job_file.parent}: guest {world['rows']['guest']} rows "
        f"(id, label, 10 features), host {world['rows']['host']} rows (id, 20 features).\n"
        f"Starting guest {GUEST}, host {HOST} and arbiter {ARBITER}: own process, own gateway, "
        f"mutual TLS, {workers} worker(s) each.\n"
    )
    spec = load_job(job_file)
    stream = sys.stderr if args.json else sys.stdout
    try:
        result = run_job(
            spec,
            out / "job",
            workers=workers,
            on_event=ProgressPrinter(stream, every=1.0),
            log_level=logging.INFO if args.verbose else logging.WARNING,
        )
    except PartyFailed as exc:
        print_failure(exc)
        return 1
    report = _report(result, world)
    say(_render(report, args.key_bits))
    if args.json:
        print(json.dumps(report))
    return 0


def _report(result: Any, world: dict[str, Any]) -> dict[str, Any]:
    guest = next(s for p, s in result.parties.items() if p.role == "guest")
    evaluation = guest["evaluate"]["metrics"]["records"]["evaluation"]
    test = evaluation.get("test") or next(iter(evaluation.values()))
    lr_series = guest["lr"]["metrics"]["series"]
    epochs = len(lr_series.get("loss", []))
    twin = plaintext_twin(world)
    stages = {name: round(s["seconds"], 3) for name, s in guest.items()}
    arbiter: dict[str, Any] = next(
        (s for p, s in result.parties.items() if p.role == "arbiter"), {}
    )
    if "lr" in arbiter:
        stages["lr"] = round(max(stages["lr"], arbiter["lr"]["seconds"]), 3)
    return {
        "auc": test["auc"],
        "ks": test["ks"],
        "train_auc": evaluation.get("train", {}).get("auc"),
        "sklearn_auc": twin["auc"],
        "sklearn_ks": twin["ks"],
        "intersection_size": guest["psi_train"]["metrics"]["records"]["summary"][
            "intersection_size"
        ],
        "test_intersection_size": guest["psi_test"]["metrics"]["records"]["summary"][
            "intersection_size"
        ],
        "epochs": epochs,
        "final_loss": lr_series["loss"][-1]["value"] if epochs else None,
        "stages": stages,
        "seconds": round(result.seconds, 3),
        "report": guest["evaluate"]["metrics"]["records"]["report"]["html"],
        "job_dir": str(result.job_dir),
    }


def _render(r: dict[str, Any], key_bits: int) -> str:
    lines = [
        "",
        f"Intersection: {r['intersection_size']} training rows and "
        f"{r['test_intersection_size']} test rows shared by both sites.",
        f"Coordinated LR: {r['epochs']} epochs under Paillier-{key_bits}, "
        f"final loss {r['final_loss']:.4f} (Taylor approximation).",
        "",
        "Time per stage (s):",
        *(f"  {k:<12} {v:8.2f}" for k, v in r["stages"].items()),
        f"  {'total':<12} {r['seconds']:8.2f}",
        "",
        f"{'held-out test':<26}{'AUC':>8}{'KS':>8}",
        f"{'  Atoll (federated)':<26}{r['auc']:8.4f}{r['ks']:8.4f}",
        f"{'  scikit-learn (pooled)':<26}{r['sklearn_auc']:8.4f}{r['sklearn_ks']:8.4f}",
        "",
        f"ROC, KS, lift and gain charts: {r['report']}",
        f"Models, predictions and metrics: {r['job_dir']}",
    ]
    return "\n".join(lines)
