"""Vertical (hetero) Pearson correlation: the guest's label and features against every host's features.

FATE calls this HeteroPearson; it is the usual first step of a vertical
project: which of a partner's columns carry signal about my label, before
anyone trains a model. The guest learns the correlation matrix between its
columns (label first) and each host's columns; hosts learn nothing (they only
ever see ciphertexts under the guest's key).

::

    guest                                           host
    standardise [y, Xg] -> Zg (n x k)               standardise Xh -> Zh (n x m)
    ---- public key, [[Zg[:, j]]] for each j ------>
                                                    [[Zg[:, j]]] @ Zh  (Pippenger, per column)
    <--- [[Zg.T @ Zh]] (re-randomised) -------------
    decrypt, divide by n: corr(Zg, Zh)  (k x m)

Rows must already be aligned (same ids in the same order on every party: run
PSI first). Columns with zero variance get a correlation of NaN; a constant
label is an error.
"""

from atoll.ml.hetero_pearson._common import PearsonParams, PearsonResult
from atoll.ml.hetero_pearson.guest import guest
from atoll.ml.hetero_pearson.host import host

__all__ = ["PearsonParams", "PearsonResult", "guest", "host"]
