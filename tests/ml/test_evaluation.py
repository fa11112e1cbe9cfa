"""Binary evaluation against sklearn.metrics, its invariants (hypothesis), and the HTML report."""

from __future__ import annotations

import html.parser
import json
import os
import xml.etree.ElementTree as ET
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from sklearn import metrics as skm

from atoll.ml import evaluation
from atoll.ml.evaluation import (
    BinaryEvaluation,
    auc,
    average_precision,
    confusion_matrix,
    evaluate_binary,
    ks,
    ks_curve,
    lift_gain,
    log_loss,
    pr_curve,
    roc_curve,
    write_html_report,
)
from atoll.ml.evaluation import report as report_module


def _data(n, seed, ties, positive_rate=0.4):
    rng = np.random.default_rng(seed)
    y = (rng.random(n) < positive_rate).astype(int)
    y[:2] = [0, 1]  # both classes, always
    p = 1 / (1 + np.exp(-(rng.normal(size=n) + 1.2 * y - 0.5)))
    if ties == "some":
        p = np.round(p, 1)
    elif ties == "heavy":
        p = np.round(p * 3) / 3  # four distinct scores, 0 and 1 among them
    return y, p


CASES = [
    (n, seed, ties, rate)
    for n, seed in [(7, 0), (60, 1), (500, 2), (3000, 3)]
    for ties in ("none", "some", "heavy")
    for rate in (0.4, 0.05)
]


def _sk_ks(y, s):
    fpr, tpr, thresholds = skm.roc_curve(y, s, drop_intermediate=False)
    i = int(np.argmax(tpr - fpr))
    return float(tpr[i] - fpr[i]), float(thresholds[i])


@pytest.mark.parametrize(("n", "seed", "ties", "rate"), CASES)
def test_scalars_match_sklearn(n, seed, ties, rate):
    y, s = _data(n, seed, ties, rate)
    e = evaluate_binary(y, s, threshold=0.5)
    assert e.auc == pytest.approx(skm.roc_auc_score(y, s), abs=1e-12)
    sk_ks, sk_at = _sk_ks(y, s)
    assert e.ks == pytest.approx(sk_ks, abs=1e-12)
    if sk_ks > 0:
        assert e.ks_threshold == sk_at
    pred = (s >= 0.5).astype(int)
    assert e.accuracy == pytest.approx(skm.accuracy_score(y, pred), abs=1e-12)
    assert e.precision == pytest.approx(skm.precision_score(y, pred, zero_division=0), abs=1e-12)
    assert e.recall == pytest.approx(skm.recall_score(y, pred, zero_division=0), abs=1e-12)
    assert e.f1 == pytest.approx(skm.f1_score(y, pred, zero_division=0), abs=1e-12)
    assert e.log_loss == pytest.approx(skm.log_loss(y, s), rel=1e-12, abs=1e-12)
    assert e.average_precision == pytest.approx(skm.average_precision_score(y, s), abs=1e-12)
    tn, fp, fn, tp = skm.confusion_matrix(y, pred, labels=[0, 1]).ravel()
    assert (e.tn, e.fp, e.fn, e.tp) == (tn, fp, fn, tp)
    assert (e.n, e.positives, e.negatives) == (n, int(y.sum()), n - int(y.sum()))
    # the standalone functions agree with evaluate_binary
    assert auc(y, s) == e.auc
    assert ks(y, s) == (e.ks, e.ks_threshold)
    assert average_precision(y, s) == e.average_precision
    assert log_loss(y, s) == e.log_loss


@pytest.mark.parametrize("threshold", [0.0, 0.3, 0.5, 2 / 3, 1.0, 1.5])
def test_thresholded_metrics_match_sklearn(threshold):
    y, s = _data(400, 7, "heavy")
    cm = confusion_matrix(y, s, threshold=threshold)
    pred = (s >= threshold).astype(int)
    assert np.array_equal(cm.as_array(), skm.confusion_matrix(y, pred, labels=[0, 1]))
    assert cm.accuracy == pytest.approx(skm.accuracy_score(y, pred))
    assert cm.precision == pytest.approx(skm.precision_score(y, pred, zero_division=0))
    assert cm.recall == pytest.approx(skm.recall_score(y, pred, zero_division=0))
    assert cm.f1 == pytest.approx(skm.f1_score(y, pred, zero_division=0))


@pytest.mark.parametrize(("n", "seed", "ties", "rate"), CASES)
def test_curves_match_sklearn(n, seed, ties, rate):
    y, s = _data(n, seed, ties, rate)
    fpr, tpr, thresholds = skm.roc_curve(y, s, drop_intermediate=False)
    r = roc_curve(y, s)
    assert np.array_equal(r.fpr, fpr) and np.array_equal(r.tpr, tpr)
    assert np.array_equal(r.thresholds, thresholds)
    fpr, tpr, thresholds = skm.roc_curve(y, s, drop_intermediate=True)
    r = roc_curve(y, s, drop_intermediate=True)
    assert np.array_equal(r.fpr, fpr) and np.array_equal(r.tpr, tpr)
    assert np.array_equal(r.thresholds, thresholds)
    precision, recall, thresholds = skm.precision_recall_curve(y, s)
    p = pr_curve(y, s)
    np.testing.assert_allclose(p.precision, precision, rtol=0, atol=1e-15)
    np.testing.assert_allclose(p.recall, recall, rtol=0, atol=1e-15)
    assert np.array_equal(p.thresholds, thresholds)
    k = ks_curve(y, s)
    assert np.array_equal(k.thresholds, roc_curve(y, s).thresholds[1:])
    assert k.ks == pytest.approx(_sk_ks(y, s)[0], abs=1e-12)
    np.testing.assert_array_equal(k.difference, k.tpr - k.fpr)
    # small inputs: evaluate_binary keeps every point
    if len(np.unique(s)) < 199:
        e = evaluate_binary(y, s)
        assert np.array_equal(e.roc.fpr, roc_curve(y, s).fpr)
        assert np.array_equal(e.ks_curve.thresholds, k.thresholds)


def test_log_loss_clips_like_sklearn():
    y = np.array([0, 1, 1, 0, 1, 0])
    s = np.array([0.0, 1.0, 0.0, 1.0, 0.5, 1e-20])  # two certain mistakes: clipped, not infinite
    assert log_loss(y, s) == pytest.approx(skm.log_loss(y, s), rel=1e-12)
    assert np.isfinite(log_loss(y, s))


def test_labels_other_than_0_1():
    y01, s = _data(200, 5, "some")
    expected = auc(y01, s)
    assert auc(np.where(y01 == 1, 1, -1), s) == expected
    assert auc(y01.astype(bool), s) == expected
    words = np.where(y01 == 1, "yes", "no")  # sorted: "no" < "yes", so "yes" is positive
    assert auc(words, s) == pytest.approx(skm.roc_auc_score(words, s))
    assert auc(words, s) == expected
    assert auc(np.where(y01 == 1, 7, 3), s) == expected
    assert auc(words, s, pos_label="no") == pytest.approx(1 - expected)
    assert auc(y01.astype(float)[:, None], s) == expected  # a column works too


@settings(max_examples=60, deadline=None)
@given(
    st.lists(st.tuples(st.booleans(), st.integers(-20, 20)), min_size=2, max_size=60).filter(
        lambda rows: len({label for label, _ in rows}) == 2
    )
)
def test_ranking_invariants(rows):
    y = np.array([label for label, _ in rows], dtype=int)
    s = np.array([score for _, score in rows], dtype=float)
    a = auc(y, s)
    assert a == pytest.approx(skm.roc_auc_score(y, s), abs=1e-12)
    assert auc(y, -s) == pytest.approx(1 - a, abs=1e-12)
    assert auc(1 - y, s) == pytest.approx(1 - a, abs=1e-12)
    value, _ = ks(y, s)
    assert 0.0 <= value <= 1.0
    assert value == pytest.approx(_sk_ks(y, s)[0], abs=1e-12)
    # strictly increasing transforms keep the ranking (and the ties), so every ranking metric
    for f in (lambda v: 2 * v + 1, lambda v: v**3 - 5, np.arctan, lambda v: np.exp(v / 7)):
        t = f(s)
        assert auc(y, t) == a
        assert ks(y, t)[0] == value
        assert average_precision(y, t) == average_precision(y, s)
        assert np.array_equal(lift_gain(y, t).gain, lift_gain(y, s).gain)


@settings(max_examples=40, deadline=None)
@given(
    st.lists(st.tuples(st.booleans(), st.integers(0, 6)), min_size=2, max_size=40).filter(
        lambda rows: len({label for label, _ in rows}) == 2
    ),
    st.integers(1, 12),
    st.randoms(use_true_random=False),
)
def test_row_order_and_lift_gain_shape(rows, bins, rnd):
    y = np.array([label for label, _ in rows], dtype=int)
    s = np.array([score for _, score in rows], dtype=float) / 6
    e = evaluate_binary(y, s, bins=bins)
    order = list(range(len(y)))
    rnd.shuffle(order)
    shuffled = evaluate_binary(y[order], s[order], bins=bins)
    a, b = e.to_dict(), shuffled.to_dict()
    assert a.pop("log_loss") == pytest.approx(b.pop("log_loss"), rel=1e-12)  # a mean's rounding
    assert json.dumps(a, allow_nan=False) == json.dumps(b, allow_nan=False)
    g = e.lift_gain
    assert len(g.gain) == bins and g.quantiles[-1] == 1.0
    assert np.all(np.diff(g.gain) >= -1e-12) and g.gain[-1] == pytest.approx(1.0)
    assert g.lift[-1] == pytest.approx(1.0)
    np.testing.assert_allclose(g.lift * g.quantiles, g.gain)
    assert 0 <= e.auc <= 1 and 0 <= e.ks <= 1


def test_lift_gain_by_hand():
    # sorted by score: labels 1 1 0 1 0 0 1 0 0 0, so 4 positives in 10 rows
    scores = np.linspace(1.0, 0.1, 10)
    labels = np.array([1, 1, 0, 1, 0, 0, 1, 0, 0, 0])
    rng = np.random.default_rng(0)
    order = rng.permutation(10)
    g = lift_gain(labels[order], scores[order], bins=5)
    # top 2, 4, 6, 8, 10 rows hold 2, 3, 3, 4, 4 positives
    np.testing.assert_allclose(g.quantiles, [0.2, 0.4, 0.6, 0.8, 1.0])
    np.testing.assert_allclose(g.gain, [0.5, 0.75, 0.75, 1.0, 1.0])
    np.testing.assert_allclose(g.lift, [2.5, 1.875, 1.25, 1.25, 1.0])
    np.testing.assert_allclose(g.thresholds, [0.9, 0.7, 0.5, 0.3, 0.1])
    # deciles by default
    assert len(lift_gain(labels, scores).gain) == 10


def test_lift_gain_ties_by_hand():
    # 0.9 (pos) then three rows tied at 0.8 holding one positive, then 0.1 (neg)
    scores = np.array([0.8, 0.1, 0.8, 0.9, 0.8])
    labels = np.array([0, 0, 1, 1, 0])
    g = lift_gain(labels, scores, bins=5)
    # depth 2: the positive at 0.9, and one of the three tied rows, a third of a positive
    np.testing.assert_allclose(g.gain, [0.5, (1 + 1 / 3) / 2, (1 + 2 / 3) / 2, 1.0, 1.0])
    np.testing.assert_allclose(g.lift, g.gain / g.quantiles)
    np.testing.assert_allclose(g.thresholds, [0.9, 0.8, 0.8, 0.8, 0.1])


def test_large_input_keeps_small_curves_and_exact_scalars():
    rng = np.random.default_rng(11)
    n = 200_000
    s = rng.random(n)
    y = (rng.random(n) < s).astype(int)
    e = evaluate_binary(y, s)
    assert e.auc == pytest.approx(skm.roc_auc_score(y, s), abs=1e-12)
    assert e.ks == pytest.approx(_sk_ks(y, s)[0], abs=1e-12)
    for length in (len(e.roc.fpr), len(e.ks_curve.thresholds), len(e.pr_curve.recall)):
        assert 50 <= length <= 200
    assert (e.roc.fpr[0], e.roc.tpr[0], e.roc.fpr[-1], e.roc.tpr[-1]) == (0.0, 0.0, 1.0, 1.0)
    assert np.all(np.diff(e.roc.fpr) >= 0) and np.all(np.diff(e.roc.tpr) >= 0)
    assert e.ks_curve.ks == e.ks and e.ks_curve.ks_threshold == e.ks_threshold
    # the kept points are true operating points of the full curve
    full = roc_curve(y, s)
    at = np.searchsorted(-full.thresholds[1:], -e.roc.thresholds[1:]) + 1
    assert np.array_equal(full.fpr[at], e.roc.fpr[1:])
    # a thinned curve still has about the right area
    area = float(np.sum(np.diff(e.roc.fpr) * (e.roc.tpr[1:] + e.roc.tpr[:-1]) / 2))
    assert area == pytest.approx(e.auc, abs=2e-3)
    d = e.to_dict()
    assert d["roc"]["thresholds"][0] is None and d["confusion_matrix"]["tp"] == e.tp
    text = json.dumps(d, allow_nan=False)
    assert len(text) < 60_000
    assert evaluate_binary(y, s, max_points=50).roc.fpr.size <= 50


def test_log_loss_only_for_probabilities():
    y, s = _data(50, 2, "none")
    e = evaluate_binary(y, 3 * s - 1, threshold=0.0)  # margins, not probabilities
    assert e.log_loss is None and e.to_dict()["log_loss"] is None
    assert e.auc == evaluate_binary(y, s).auc
    with pytest.raises(ValueError, match=r"score\[\d+\] is -?[\d.]+, not in \[0, 1\]"):
        log_loss(y, 3 * s - 1)


def test_evaluation_is_frozen():
    y, s = _data(50, 2, "none")
    e = evaluate_binary(y, s)
    with pytest.raises(AttributeError):
        e.auc = 1.0  # type: ignore[misc]
    with pytest.raises(ValueError):
        e.roc.fpr[0] = 1.0


# ---- bad input ----


@pytest.mark.parametrize(
    ("y", "s", "match"),
    [
        ([], [], "y_true is empty"),
        ([0, 1, 2], [0.1, 0.2, 0.3], r"y_true must hold two classes, found 3: \[0, 1, 2\]"),
        (
            ["a", "b", "c", "d", "e", "f"],
            [0.1] * 6,
            r"found 6: \['a', 'b', 'c', 'd', 'e', \.\.\.\]",
        ),
        ([0, 1, np.nan], [0.1, 0.2, 0.3], r"y_true\[2\] is NaN"),
        ([[0, 1], [1, 0]], [0.1, 0.2], r"y_true must be 1-D .* shape \(2, 2\)"),
        ([0, 1, 1], [0.1, 0.2], "score has 2 values but y_true has 3"),
        ([0, 1, 1, 0], [0.1, 0.2, np.nan, 0.3], r"score\[2\] is nan"),
        ([0, 1, 1, 0], [0.1, -np.inf, np.inf, 0.3], r"score\[1\] is -inf"),
        ([0, 1], ["a", "b"], "score must be numeric"),
        ([0, 1], [[0.1, 0.2]], "score must be 1-D"),
        ([5, 5], [0.1, 0.2], "single value 5, which is neither 0 nor 1: pass pos_label"),
    ],
)
def test_bad_input_names_the_parameter(y, s, match):
    for f in (auc, evaluate_binary, confusion_matrix):
        with pytest.raises(ValueError, match=match):
            f(y, s)


def test_single_class():
    y = np.zeros(5, dtype=int)
    s = np.linspace(0.1, 0.9, 5)
    for f in (auc, ks, average_precision, roc_curve, ks_curve, pr_curve, evaluate_binary):
        with pytest.raises(ValueError, match="needs both classes but y_true holds only negatives"):
            f(y, s)
    with pytest.raises(ValueError, match="holds only positives"):
        auc(np.ones(5), s)
    with pytest.raises(ValueError, match="at least one positive"):
        lift_gain(y, s)
    assert np.array_equal(lift_gain(np.ones(5), s).lift, np.ones(10))
    # defined with one class
    cm = confusion_matrix(y, s, threshold=0.5)
    assert (cm.tn, cm.fp, cm.fn, cm.tp) == (2, 3, 0, 0)
    assert cm.accuracy == 0.4 and cm.precision == 0.0 and cm.recall == 0.0 and cm.f1 == 0.0
    assert log_loss(y, s) == pytest.approx(skm.log_loss(y, s, labels=[0, 1]))
    assert confusion_matrix(["x"] * 5, s, pos_label="x").tp == 3


def test_bad_parameters():
    y, s = _data(30, 1, "none")
    with pytest.raises(ValueError, match="threshold must be finite"):
        evaluate_binary(y, s, threshold=float("nan"))
    with pytest.raises(ValueError, match="threshold must be a number"):
        evaluate_binary(y, s, threshold="0.5")  # type: ignore[arg-type]
    for bins in (0, -3, 2.5, True):
        with pytest.raises(ValueError, match="bins must be a positive integer"):
            evaluate_binary(y, s, bins=bins)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="max_points"):
        evaluate_binary(y, s, max_points=3)
    with pytest.raises(ValueError, match="pos_label 2 is not one of the y_true values"):
        auc(y, s, pos_label=2)


# ---- the HTML report ----


class _Structure(html.parser.HTMLParser):
    """Checks that every element is closed in order, counts tags and collects the text."""

    VOID = {"meta", "br", "hr", "img", "input", "link"}

    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.stack: list[str] = []
        self.counts: dict[str, int] = {}
        self.errors: list[str] = []
        self.text: list[str] = []

    def handle_starttag(self, tag, attrs):
        self.counts[tag] = self.counts.get(tag, 0) + 1
        if tag not in self.VOID:
            self.stack.append(tag)

    def handle_startendtag(self, tag, attrs):
        self.counts[tag] = self.counts.get(tag, 0) + 1

    def handle_endtag(self, tag):
        if not self.stack or self.stack[-1] != tag:
            self.errors.append(f"</{tag}> closes {self.stack[-1:]}")
        else:
            self.stack.pop()

    def handle_data(self, data):
        self.text.append(data)


def _parse(text):
    p = _Structure()
    p.feed(text)
    p.close()
    assert not p.errors and not p.stack, (p.errors, p.stack)
    return p


def _evaluations():
    y, s = _data(3000, 4, "none")
    y2, s2 = _data(500, 5, "some")
    return {"train": evaluate_binary(y, s), "test": evaluate_binary(y2, s2)}


def test_html_report_is_well_formed_and_self_contained(tmp_path):
    evals = _evaluations()
    path = write_html_report(evals, tmp_path / "report.html", title="Model A")
    text = path.read_text(encoding="utf-8")
    p = _parse(text)
    assert p.counts["svg"] == 5  # ROC, KS, gain, lift, precision-recall
    assert p.counts["table"] == 1 + len(evals)  # metrics, one confusion matrix each
    assert p.counts.get("script", 0) == 0
    root = ET.fromstring(text.split("\n", 1)[1])  # strict XML too, past the doctype
    svgs = root.findall(".//{http://www.w3.org/2000/svg}svg")
    assert len(svgs) == 5
    for svg in svgs:
        assert svg.get("width") == "480" and svg.get("height") == "360"
        ticks = svg.findall("{http://www.w3.org/2000/svg}text")
        assert len(ticks) >= 10  # title, axis labels, tick labels, legend
    for forbidden in ("src=", "href=", "url(", "@import", "<script", "<link"):
        assert forbidden not in text
    page = " ".join(p.text)
    assert f"AUC = {evals['train'].auc:.4f}" in page and f"{evals['test'].auc:.4f}" in page
    assert "test KS = " in page and "random" in page
    # one evaluation alone works too
    single = write_html_report(evals["test"], tmp_path / "one.html", title="t")
    assert _parse(single.read_text()).counts["svg"] == 5


def test_html_report_escapes_text(tmp_path):
    evil = "<script>alert('x')</script> & \"quotes\""
    y, s = _data(100, 1, "none")
    e = evaluate_binary(y, s)
    path = write_html_report({evil: e, "ok": e}, tmp_path / "r.html", title=evil)
    text = path.read_text()
    assert "<script" not in text and "&lt;script&gt;" in text
    p = _parse(text)
    assert evil in " ".join(p.text)  # shown verbatim, as text
    ET.fromstring(text.split("\n", 1)[1])


@pytest.mark.parametrize(
    ("y", "s"),
    [
        ([0, 1], [0.5, 0.5]),  # one distinct score: a single point on the KS chart
        ([0, 1, 1, 0], [-3e12, 5e12, 7e11, 1e12]),  # wide range, negative scores
        ([1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0], np.linspace(1, 0, 20)),
    ],
)
def test_html_report_edge_cases(tmp_path, y, s):
    e = evaluate_binary(y, s, bins=4)
    text = write_html_report(e, tmp_path / "r.html", title="edge").read_text()
    assert _parse(text).counts["svg"] == 5
    ET.fromstring(text.split("\n", 1)[1])
    assert "nan" not in text.lower().replace("span", "")


def test_html_report_bad_arguments(tmp_path):
    with pytest.raises(ValueError, match="no evaluations"):
        write_html_report({}, tmp_path / "r.html", title="t")
    with pytest.raises(ValueError, match=r"evaluation\['a'\] is a dict, not a BinaryEvaluation"):
        write_html_report({"a": {}}, tmp_path / "r.html", title="t")  # type: ignore[dict-item]
    with pytest.raises(ValueError, match="evaluation must be a BinaryEvaluation"):
        write_html_report([1], tmp_path / "r.html", title="t")  # type: ignore[arg-type]
    assert not list(tmp_path.iterdir())


def test_html_report_is_written_atomically(tmp_path, monkeypatch):
    e = _evaluations()["test"]
    path = tmp_path / "report.html"
    path.write_text("old report")

    def broken_replace(src, dst):
        raise OSError("disk gone")

    monkeypatch.setattr(report_module.os, "replace", broken_replace)
    with pytest.raises(OSError, match="disk gone"):
        write_html_report(e, path, title="new")
    assert path.read_text() == "old report"
    assert [f.name for f in tmp_path.iterdir()] == ["report.html"]  # no temporary file left
    monkeypatch.undo()

    seen = []
    real_replace = os.replace

    def watching_replace(src, dst):
        seen.append(Path(src).read_text().endswith("</html>\n"))  # complete before it appears
        real_replace(src, dst)

    monkeypatch.setattr(report_module.os, "replace", watching_replace)
    write_html_report(e, path, title="new")
    assert seen == [True]
    assert "<h1>new</h1>" in path.read_text()
    assert [f.name for f in tmp_path.iterdir()] == ["report.html"]


def test_public_names():
    assert set(evaluation.__all__) >= {
        "BinaryEvaluation",
        "evaluate_binary",
        "write_html_report",
        "roc_curve",
        "ks_curve",
        "lift_gain",
        "auc",
        "ks",
    }
    assert isinstance(_evaluations()["test"], BinaryEvaluation)
