"""Membership inference audit: can an attacker tell training records from unseen ones?"""
from __future__ import annotations

import numpy as np

from ...registry import check
from ...results import CheckResult
from ...context import CheckContext
from ...errors import SubjectError
from ...subjects import Dataset
from ...judge import judge, line_chart
from ...params import Count, Fraction, PositiveInt
from .._metrics import weighted_auc


def _roc(scores: np.ndarray, members: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    order = np.argsort(-scores, kind="mergesort")
    m = members[order].astype(float)
    tpr = np.r_[0.0, np.cumsum(m) / max(m.sum(), 1)]
    fpr = np.r_[0.0, np.cumsum(1 - m) / max((1 - m).sum(), 1)]
    return fpr, tpr


def _tpr_at(fpr: np.ndarray, tpr: np.ndarray, at: float) -> float:
    ok = fpr <= at
    return float(tpr[ok].max()) if ok.any() else 0.0


def _per_row_loss(ctx: CheckContext, model, data: Dataset) -> tuple[np.ndarray, np.ndarray]:
    """(loss, confidence) of the model on each row: cross-entropy of the true label, or
    squared error for regressors; confidence = probability of the predicted class."""
    X, y = data.X, data.y.to_numpy()
    if ctx.task == "classification" and model.has_proba:
        proba = model.predict_proba(X)
        classes = model.classes
        idx = np.array([classes.index(v) if v in classes else -1 for v in y])
        p_true = np.where(idx >= 0, proba[np.arange(len(y)), np.maximum(idx, 0)], 0.0)
        return -np.log(np.clip(p_true, 1e-12, 1)), proba.max(axis=1)
    pred = model.predict(X).astype(float)
    err = (pred - y.astype(float)) ** 2
    return err, -err


def _subset(data: Dataset, idx: np.ndarray, name: str) -> Dataset:
    return Dataset(name=name, frame=data.frame.iloc[idx].reset_index(drop=True), label=data.label,
                   features=data.features)


@check("privacy.membership_inference", requires=("model", "train", "test"))
def membership_inference(ctx: CheckContext, *, samples: PositiveInt = 2000, max_auc: Fraction = 0.6,
                         max_tpr_at_1pct_fpr: Fraction | None = None, shadow_models: Count = 0,
                         n_bootstrap: PositiveInt = 200) -> CheckResult:
    """Membership inference audit: members drawn from the training data, non-members from
    the test data, equally many of each. The attacks score each record by the model's loss
    on it (lower loss: more likely a member) and by its confidence; with `shadow_models`,
    models of the same kind are trained on halves of the test data and a logistic attack
    learnt on their members and non-members is applied to the target.

    Reported: the best attack's ROC AUC (0.5 = guessing) with a bootstrap interval, and its
    true-positive rate at 1% (and 0.1% where the sample allows) false-positive rate — the
    regime that matters, where an attacker is nearly sure. Default limit: AUC at most 0.6.

    Parameters:
    samples: members and non-members each (seeded; default 2000)
    max_auc: highest allowed attack ROC AUC (default 0.6)
    max_tpr_at_1pct_fpr: highest allowed true-positive rate at 1% false-positive rate (not judged by default)
    shadow_models: shadow models to train for a learnt attack (default 0: threshold attacks only)
    n_bootstrap: replicates for the intervals (default 200)
    """
    rng = np.random.default_rng(ctx.seed)
    n = min(samples, len(ctx.train), len(ctx.test))
    members = _subset(ctx.train, rng.choice(len(ctx.train), n, replace=False), "members")
    outsiders = _subset(ctx.test, rng.choice(len(ctx.test), n, replace=False), "non-members")
    loss_in, conf_in = _per_row_loss(ctx, ctx.model, members)
    loss_out, conf_out = _per_row_loss(ctx, ctx.model, outsiders)
    is_member = np.r_[np.ones(n, bool), np.zeros(n, bool)]
    attacks = {"loss": -np.r_[loss_in, loss_out], "confidence": np.r_[conf_in, conf_out]}
    evidence: dict = {"members": n, "non_members": n}
    if shadow_models > 0:
        shadow = _shadow_attack(ctx, shadow_models, rng, np.c_[np.r_[loss_in, loss_out], np.r_[conf_in, conf_out]])
        if isinstance(shadow, str):
            return CheckResult(status="error", message=shadow)
        attacks["shadow"] = shadow
    W = ctx.bootstrap(2 * n, n_bootstrap)
    table, curves = [], []
    ones = np.ones((1, 2 * n), dtype=np.float32)
    for name, s in attacks.items():
        auc = float(weighted_auc(s, is_member, ones)[0])
        reps = weighted_auc(s, is_member, W)
        fpr, tpr = _roc(s, is_member)
        row = {"attack": name, "auc": auc, "auc_ci95": [float(np.nanquantile(reps, 0.025)),
                                                        float(np.nanquantile(reps, 0.975))],
               "tpr_at_1pct_fpr": _tpr_at(fpr, tpr, 0.01)}
        if n >= 1000:
            row["tpr_at_0.1pct_fpr"] = _tpr_at(fpr, tpr, 0.001)
        table.append(row)
        step = max(len(fpr) // 200, 1)
        curves.append({"name": name, "x": fpr[::step].tolist() + [1.0], "y": tpr[::step].tolist() + [1.0]})
    best = max(table, key=lambda r: r["auc"])
    chart = line_chart("Membership inference ROC (members vs non-members)", curves,
                       x_label="false-positive rate", y_label="true-positive rate", diagonal=True)
    chart["diagonal_label"] = "chance (AUC 0.5)"
    metrics = {"attack_auc": best["auc"], "tpr_at_1pct_fpr": max(r["tpr_at_1pct_fpr"] for r in table),
               "attack_auc_upper": best["auc_ci95"][1]}
    return judge(metrics, {"attack_auc": ("<=", max_auc), "tpr_at_1pct_fpr": ("<=", max_tpr_at_1pct_fpr)},
                 detail=f"best attack: {best['attack']} (AUC {best['auc']:.3f}, 95% CI "
                        f"{best['auc_ci95'][0]:.3f} .. {best['auc_ci95'][1]:.3f})",
                 evidence={**evidence, "attacks": table, "charts": [chart]})


def _shadow_attack(ctx: CheckContext, k: int, rng: np.random.Generator, target_features: np.ndarray):
    """Scores from a logistic attack learnt on shadow models' (loss, confidence) features."""
    from sklearn.linear_model import LogisticRegression
    feats, labels = [], []
    for _ in range(k):
        idx = rng.permutation(len(ctx.test))
        half = len(idx) // 2
        d_in, d_out = _subset(ctx.test, idx[:half], "shadow-in"), _subset(ctx.test, idx[half:], "shadow-out")
        try:
            shadow = ctx.model.fit_clone(d_in.X, d_in.y)
        except SubjectError as exc:
            return f"shadow models need a scikit-learn-clonable model: {exc}"
        try:
            for data, member in ((d_in, 1), (d_out, 0)):
                loss, conf = _per_row_loss(ctx, shadow, data)
                feats.append(np.c_[loss, conf])
                labels.append(np.full(len(loss), member))
        finally:
            shadow.close()
    attack = LogisticRegression().fit(np.vstack(feats), np.concatenate(labels))
    return attack.predict_proba(target_features)[:, 1]
