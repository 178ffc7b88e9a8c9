"""Train an ordinary and a mechanism-learned classifier and compare them on held-out data."""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from causal_core.core.errors import CausalInputError, CausalWarning, plain
from causal_core.core.library_warnings import LIBRARY_WARNING_PREFIX, capture_library_warnings, summarise_warnings
from causal_core.studies.mechanism.resample import front_door_resample

__all__ = ["CLASSIFIERS", "MechanismComparison", "compare_classifiers", "make_classifier"]

#: Classifier id -> label shown in the app.
CLASSIFIERS = {
    "logistic": "Logistic regression",
    "naive_bayes": "Gaussian naive Bayes",
    "knn": "k-nearest neighbours (k = 25)",
    "random_forest": "Random forest",
    "svm": "Support vector machine (RBF)",
}


def make_classifier(classifier: str, seed: int = 0) -> Any:
    """A fresh, unfitted scikit-learn classifier (features standardised where it matters)."""
    from sklearn.ensemble import RandomForestClassifier
    from sklearn.linear_model import LogisticRegression
    from sklearn.naive_bayes import GaussianNB
    from sklearn.neighbors import KNeighborsClassifier
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler
    from sklearn.svm import SVC
    if classifier == "logistic":
        return make_pipeline(StandardScaler(), LogisticRegression(max_iter=1000))
    if classifier == "naive_bayes":
        return GaussianNB()
    if classifier == "knn":
        return make_pipeline(StandardScaler(), KNeighborsClassifier(25))
    if classifier == "random_forest":
        return RandomForestClassifier(n_estimators=200, min_samples_leaf=5, random_state=seed, n_jobs=1)
    if classifier == "svm":
        return make_pipeline(StandardScaler(), SVC(random_state=seed))
    raise CausalInputError(f"Classifier {plain(classifier)!r} is unknown; choose one of: {', '.join(CLASSIFIERS)}.")


@dataclass(frozen=True)
class MechanismComparison:
    """An ordinary classifier and a mechanism-learned one, judged on the same test rows.

    Attributes
    ----------
    metrics : DataFrame
        One row per model: model, accuracy, f1_macro, n_train, n_test.
    confusion : dict
        Model name -> confusion matrix DataFrame (rows: true cause, columns: predicted).
    deconfounded : DataFrame
        The front-door samples the mechanism-learned classifier was trained on.
    models : dict
        Model name -> fitted classifier (taking the feature columns).
    diagnostics : dict
        The ``front_door`` diagnostics of :func:`front_door_resample`.
    """

    metrics: pd.DataFrame
    confusion: dict[str, pd.DataFrame]
    deconfounded: pd.DataFrame = field(repr=False)
    models: dict[str, Any] = field(repr=False)
    diagnostics: dict[str, Any] = field(default_factory=dict)


def compare_classifiers(
    train: pd.DataFrame,
    test: pd.DataFrame,
    cause: str,
    mechanism: str | list[str],
    features: list[str],
    *,
    classifier: str = "logistic",
    method: str = "cw_gmm",
    seed: int = 0,
    **options: Any,
) -> MechanismComparison:
    """Fit ``classifier`` on ``train`` as is and on its front-door deconfounded samples; score both on ``test``.

    ``options`` go to :func:`causal_core.front_door_resample`. The test table
    must hold the cause and the feature columns (the mechanism is not needed
    to predict). Warnings that scikit-learn raises while resampling and
    fitting are kept in ``diagnostics["library_warnings"]`` (and, prefixed, in
    ``diagnostics["warnings"]``, which the app shows).
    """
    if not isinstance(test, pd.DataFrame) or test.shape[0] == 0:
        raise CausalInputError("The test table is empty; give rows to judge the classifiers on.")
    for column in [cause] + list(features):
        if column not in test.columns:
            raise CausalInputError(f"Column '{column}' is not in the test table; it needs the cause and every feature.")
    make_classifier(classifier, seed)  # validates the id before the slow part
    with capture_library_warnings() as caught:
        deconfounded = front_door_resample(train, cause, mechanism, features, method=method, seed=seed, **options)
        fitted = _classifier_comparison(train, test, cause, features, classifier, seed, deconfounded)
    # the resampler's own CausalWarnings are already in its diagnostics["warnings"]; keep the libraries' ones
    library = summarise_warnings([w for w in caught if not issubclass(w.category, CausalWarning)])
    metrics, confusion, models = fitted
    diagnostics = dict(deconfounded.attrs["front_door"])
    diagnostics["library_warnings"] = library
    diagnostics["warnings"] = tuple(diagnostics.get("warnings", ())) + tuple(LIBRARY_WARNING_PREFIX + text for text in library)
    return MechanismComparison(metrics=metrics, confusion=confusion, deconfounded=deconfounded, models=models,
                               diagnostics=diagnostics)


def _classifier_comparison(train, test, cause, features, classifier, seed, deconfounded):
    """(metrics, confusion matrices, fitted models) of the ordinary and the mechanism-learned classifier."""
    from sklearn.base import clone
    from sklearn.metrics import accuracy_score, confusion_matrix, f1_score
    levels = deconfounded.attrs["front_door"]["levels"]
    observed = train[[cause] + list(features)].dropna()
    test_rows = test[[cause] + list(features)].dropna()
    if test_rows.shape[0] == 0:
        raise CausalInputError("No test rows are left after dropping rows with missing values.")
    for column in features:
        if not pd.api.types.is_numeric_dtype(test_rows[column]):
            raise CausalInputError(f"Feature column '{column}' of the test table is not numeric.")
    unseen = sorted(set(map(str, pd.unique(test_rows[cause]))) - set(map(str, levels)))
    if unseen:
        raise CausalInputError(f"The test table's cause column '{cause}' holds value(s) {unseen} not seen in training.")
    models = {
        "Ordinary (confounded data)": clone(make_classifier(classifier, seed)).fit(observed[features], observed[cause]),
        "Mechanism-learned": clone(make_classifier(classifier, seed)).fit(deconfounded[features], deconfounded[cause]),
    }
    truth = test_rows[cause].to_numpy()
    rows, confusion = [], {}
    for name, model in models.items():
        predicted = model.predict(test_rows[features])
        rows.append({
            "model": name,
            "accuracy": accuracy_score(truth, predicted),
            "f1_macro": f1_score(truth, predicted, average="macro"),
            "n_train": len(observed) if name.startswith("Ordinary") else len(deconfounded),
            "n_test": len(test_rows),
        })
        labels = [level for level in levels if np.any(truth == level) or np.any(predicted == level)]
        confusion[name] = pd.DataFrame(
            confusion_matrix(truth, predicted, labels=labels),
            index=pd.Index([str(v) for v in labels], name=f"true {cause}"),
            columns=pd.Index([str(v) for v in labels], name="predicted"),
        )
    return pd.DataFrame(rows), confusion, models
