"""FeatureScale against scikit-learn's scalers; model round trip; errors naming what is wrong."""

from __future__ import annotations

import json

import numpy as np
import pytest
from sklearn.preprocessing import MinMaxScaler, StandardScaler

from atoll.ml.data import Frame
from atoll.ml.feature_scale import ScaleModel, ScaleParams, fit, transform


def _frame(x, name="train", columns=None, label=True):
    x = np.asarray(x, dtype=float)
    n, m = x.shape
    return Frame(
        ids=[f"r{i}" for i in range(n)],
        features=x,
        columns=columns or [f"x{j}" for j in range(m)],
        label=np.arange(n) % 2 if label else None,
        label_name="y" if label else None,
        name=name,
    )


def _data(seed=0, n=200):
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n, 4)) * [1.0, 10.0, 0.01, 3.0] + [0.0, 5.0, -2.0, 100.0]
    x[:, 2] = 7.0  # a constant column
    return x


def test_standard_matches_sklearn():
    x, z = _data(0), _data(1, n=50)
    model = fit(_frame(x), ScaleParams())
    sk = StandardScaler().fit(x)
    out = transform(_frame(x), model)
    np.testing.assert_allclose(out.features, sk.transform(x), rtol=0, atol=1e-12)
    np.testing.assert_allclose(
        transform(_frame(z, "test"), model).features, sk.transform(z), atol=1e-12
    )
    assert np.all(out.features[:, 2] == 0.0)  # std 0: only centred
    assert model.parameters["x2"] == {"mean": 7.0, "std": 0.0}
    for kw in [{"with_mean": False}, {"with_std": False}]:
        m = fit(_frame(x), ScaleParams(**kw))
        np.testing.assert_allclose(
            transform(_frame(z), m).features, StandardScaler(**kw).fit(x).transform(z), atol=1e-12
        )


def test_min_max_matches_sklearn():
    x, z = _data(0), _data(1, n=50)
    for rng in [(0.0, 1.0), (-1.0, 3.0)]:
        model = fit(_frame(x), ScaleParams(method="min_max", feature_range=rng))
        sk = MinMaxScaler(feature_range=rng).fit(x)
        np.testing.assert_allclose(
            transform(_frame(x), model).features, sk.transform(x), atol=1e-12
        )
        np.testing.assert_allclose(
            transform(_frame(z), model).features, sk.transform(z), atol=1e-12
        )
        assert not model.clip
    # clip=True clips new rows into the range, like MinMaxScaler(clip=True) on non-constant columns
    model = fit(_frame(x), ScaleParams(method="min_max", clip=True))
    sk = MinMaxScaler(clip=True).fit(x)
    cols = [0, 1, 3]
    np.testing.assert_allclose(
        transform(_frame(z), model).features[:, cols], sk.transform(z)[:, cols], atol=1e-12
    )
    # FATE's names are taken
    assert ScaleParams(method="min_max_scale").method == "min_max"


def test_columns_subset_passes_the_rest_through():
    x = _data(0)
    f = _frame(x)
    model = fit(f, ScaleParams(columns=["x3"], col_indexes=[0]))
    assert model.columns == ("x0", "x3")
    out = transform(f, model)
    np.testing.assert_array_equal(out.features[:, [1, 2]], x[:, [1, 2]])
    np.testing.assert_allclose(
        out.features[:, [0, 3]], StandardScaler().fit_transform(x[:, [0, 3]]), atol=1e-12
    )
    assert out.ids == f.ids and out.columns == f.columns and out.name == f.name
    np.testing.assert_array_equal(out.label, f.label)
    np.testing.assert_array_equal(f.features, x)  # the input is untouched


def test_cap_by_value_and_percentile():
    x = np.column_stack([np.arange(101.0), np.linspace(-5, 5, 101)])
    f = _frame(x)
    with pytest.raises(ValueError, match=r"column 'x1': lower bound 10.0 is above upper bound 4.0"):
        fit(f, ScaleParams(method="min_max", feat_lower=10.0, feat_upper={"x0": 60.0, "x1": 4.0}))
    model = fit(
        f,
        ScaleParams(method="min_max", feat_lower={"x0": 10.0}, feat_upper={"x0": 60.0, "x1": 4.0}),
    )
    assert model.parameters["x0"] == {"min": 10.0, "max": 60.0} and model.clip
    assert model.parameters["x1"] == {"min": -5.0, "max": 4.0}
    out = transform(f, model).features
    assert out.min() == 0.0 and out.max() == 1.0
    np.testing.assert_allclose(out[:, 0], np.clip((x[:, 0] - 10) / 50, 0, 1))
    model = fit(
        f, ScaleParams(method="min_max", cap_by="percentile", feat_lower=0.05, feat_upper=0.95)
    )
    assert model.parameters["x0"] == {"min": 5.0, "max": 95.0}
    out = transform(f, model).features
    np.testing.assert_allclose(out[:, 0], np.clip((x[:, 0] - 5) / 90, 0, 1), atol=1e-12)
    np.testing.assert_allclose(
        model.parameters["x1"]["min"], np.quantile(x[:, 1], 0.05), atol=1e-12
    )
    # capped but clip=False: values outside the bounds go outside the range
    model = fit(f, ScaleParams(method="min_max", feat_upper=50.0, columns=["x0"], clip=False))
    assert transform(f, model).features[:, 0].max() == 2.0


def test_model_round_trip():
    x = _data(0)
    for params in [
        ScaleParams(),
        ScaleParams(method="min_max", feature_range=(-2, 2), cap_by="percentile", feat_upper=0.9),
    ]:
        model = fit(_frame(x), params)
        d = json.loads(json.dumps(model.to_dict()))
        back = ScaleModel.from_dict(d)
        assert back == model
        np.testing.assert_array_equal(
            transform(_frame(x), back).features, transform(_frame(x), model).features
        )


def test_model_validation_names_the_field():
    good = fit(_frame(_data(0)), ScaleParams(method="min_max")).to_dict()
    cases = [
        ({"format": "x"}, "format"),
        ({"method": "robust"}, "method"),
        ({"columns": "x0"}, "columns"),
        ({"columns": ["x0", "x0", "x1", "x2", "x3"]}, "twice"),
        (
            {"parameters": {**good["parameters"], "x1": {"min": 0.0}}},
            r"parameters\['x1'\]\['max'\]",
        ),
        (
            {"parameters": {**good["parameters"], "x1": {"min": 2.0, "max": 1.0}}},
            r"parameters\['x1'\]",
        ),
        (
            {"parameters": {**good["parameters"], "x0": {"min": 0.0, "max": float("nan")}}},
            r"\['x0'\]\['max'\]",
        ),
        ({"parameters": {**good["parameters"], "zz": {"min": 0.0, "max": 1.0}}}, "zz"),
        ({"feature_range": [1, 0]}, "feature_range"),
        ({"clip": "yes"}, "clip"),
    ]
    for change, pattern in cases:
        with pytest.raises(ValueError, match=pattern):
            ScaleModel.from_dict({**good, **change})
    missing = dict(good)
    del missing["parameters"]
    with pytest.raises(ValueError, match="parameters"):
        ScaleModel.from_dict(missing)
    with pytest.raises(ValueError, match=r"std"):
        ScaleModel("standard", ("a",), {"a": {"mean": 0.0, "std": -1.0}})


def test_params_validation_names_the_field():
    for kwargs, field in [
        ({"method": "robust"}, "method"),
        ({"columns": "x0"}, "columns"),
        ({"col_indexes": [-1]}, "col_indexes"),
        ({"method": "min_max", "feature_range": (1, 1)}, "feature_range"),
        ({"feat_upper": 1.0}, "feat_upper"),
        ({"method": "min_max", "feat_lower": 2.0, "feat_upper": 1.0}, "feat_lower"),
        ({"method": "min_max", "cap_by": "percentile", "feat_upper": 5.0}, "feat_upper"),
        ({"method": "min_max", "cap_by": "median"}, "cap_by"),
        ({"with_mean": 1}, "with_mean"),
    ]:
        with pytest.raises(ValueError, match=field):
            ScaleParams(**kwargs)


def test_frame_errors():
    f = _frame(_data(0), name="guest-train")
    with pytest.raises(ValueError, match=r"\['nope'\].*guest-train"):
        fit(f, ScaleParams(columns=["nope"]))
    with pytest.raises(ValueError, match=r"col_indexes \[9\].*guest-train"):
        fit(f, ScaleParams(col_indexes=[9]))
    model = fit(f, ScaleParams())
    other = _frame(_data(1)[:, :3], name="guest-test")
    with pytest.raises(ValueError, match=r"guest-test.*\['x3'\]"):
        transform(other, model)
    bad = _data(0)
    bad[5, 1] = np.inf
    with pytest.raises(ValueError, match=r"'r5'.*'x1'"):
        fit(_frame(bad), ScaleParams())
    with pytest.raises(ValueError, match="no rows"):
        fit(_frame(np.empty((0, 2))), ScaleParams())
    with pytest.raises(ValueError, match=r"feat_upper names \['zz'\]"):
        fit(f, ScaleParams(method="min_max", feat_upper={"zz": 1.0}))
