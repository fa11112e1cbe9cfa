"""FATE's FeatureScale: fit a standard or min-max scaling on a party's own columns, apply it.

>>> model = fit(train, ScaleParams(method="min_max"))
>>> scaled = transform(test, model)

Local to each party (nothing is federated). See :mod:`atoll.ml.feature_scale.scale`.
"""

from atoll.ml.feature_scale.scale import ScaleModel, ScaleParams, fit, transform

__all__ = ["ScaleModel", "ScaleParams", "fit", "transform"]
