"""The demo clinic's ratings: depression-scale totals spread over their items (the suicide item kept honest), CADSS,
MOAA/S and C-SSRS after each session."""

from __future__ import annotations

import numpy as np
import pyarrow as pa

from kdash.demo.sessions import DISCHARGE_MINUTE

SCALE_CODES = ["MADRS", "PHQ9", "QIDS_SR16", "CADSS", "MOAAS", "CSSRS"]


def allocate_items(rng, totals, n_items, item_max, weights=None) -> np.ndarray:
    """Item scores (rows × n_items) in 0..item_max summing to each total (capped at what fits).

    Each row shares out its total in proportion to random weights; a zero weight keeps an item at 0.
    """
    n = len(totals)
    if weights is None:
        weights = rng.gamma(2.0, size=(n, n_items))
    allowed = weights > 0
    totals = np.minimum(totals, allowed.sum(axis=1) * item_max).astype(np.int64)
    norm = weights.sum(axis=1, keepdims=True)
    share = weights / np.where(norm > 0, norm, 1)
    items = np.minimum(np.floor(share * totals[:, None]), item_max).astype(np.int64)
    deficit = totals - items.sum(axis=1)
    active = np.nonzero(deficit > 0)[0]
    while active.size:
        sub = items[active]
        room = (sub < item_max) & allowed[active]
        pick = np.where(room, rng.random(sub.shape), -1.0).argmax(axis=1)
        sub[np.arange(active.size), pick] += 1
        items[active] = sub
        deficit[active] -= 1
        active = active[deficit[active] > 0]
    return items


def qids_items(rng, totals) -> np.ndarray:
    """16 QIDS-SR16 items whose 9-domain score equals the total."""
    domains = allocate_items(rng, totals, 9, 3)
    items = np.zeros((len(totals), 16), dtype=np.int64)
    for d, group in enumerate(((1, 2, 3, 4), (5,), (6, 7, 8, 9), (10,), (11,), (12,), (13,), (14,), (15, 16))):
        score = domains[:, d]
        cols = np.array(group) - 1
        if len(cols) == 1:
            items[:, cols[0]] = score
            continue
        carrier = rng.integers(0, len(cols), len(totals))
        others = np.floor(rng.random((len(totals), len(cols))) * (score[:, None] + 1)).astype(np.int64)
        others[np.arange(len(totals)), carrier] = score
        items[:, cols] = others
    return items


def _list(items: np.ndarray) -> pa.Array:
    n, k = items.shape
    offsets = pa.array(np.arange(0, (n + 1) * k, k, dtype=np.int32))
    return pa.ListArray.from_arrays(offsets, pa.array(items.reshape(-1).astype(np.uint8)))


def _assessments(rng, done, prof) -> pa.Table:
    """MADRS and PHQ-9 before each dose and at follow-up, QIDS-SR16 for some; CADSS and MOAA/S per
    session; PHQ-9 and C-SSRS at consultation. Item scores always sum to the totals."""
    p, day, k = done["p"], done["day"], done["k"]
    today = prof["today"]
    # Fall from baseline before session k (k-1 doses given); maintenance holds or relapses.
    f = prof["big_f"][p] * (1 - np.exp(-(k - 1) / prof["tau"][p]))
    k_maint = k - prof["planned"][p]
    f = np.where(done["maintenance"], prof["big_f"][p] - prof["relapse"][p] * 0.05 * np.maximum(k_maint, 0), f)
    # Follow-up a few days after the last induction dose (most completers, some who stop).
    last_ind = np.zeros(len(prof["planned"]), dtype=np.int64)
    ind = ~done["maintenance"]
    np.maximum.at(last_ind, p[ind], day[ind])
    n_ind = np.bincount(p[ind], minlength=len(last_ind))
    has = n_ind > 0
    follow = has & ((n_ind == prof["planned"]) | (rng.random(len(has)) < 0.4))
    fp = np.nonzero(follow)[0]
    f_day = last_ind[fp] + rng.integers(1, 6, len(fp))
    session_days = p.astype(np.int64) * 100_000 + day          # a follow-up never falls on a session day
    keep = (f_day < today) & ~np.isin(fp.astype(np.int64) * 100_000 + f_day, session_days)
    fp, f_day = fp[keep], f_day[keep]
    f_fall = prof["big_f"][fp] * (1 - np.exp(-n_ind[fp] / prof["tau"][fp]))

    missing_baseline = rng.random(len(prof["planned"])) < 0.03
    take = ~((k == 1) & missing_baseline[p])
    ap = np.concatenate([p[take], fp])
    aday = np.concatenate([day[take], f_day])
    a_s = np.concatenate([done["s"][take], np.zeros(len(fp), dtype=np.int64)])
    fall = np.concatenate([f[take], f_fall]) + rng.normal(0, 0.06, len(ap))
    base = prof["baseline"][ap]
    madrs_total = np.clip(np.round(base * (1 - fall)), 0, 60).astype(np.int64)
    severity = madrs_total / base
    w = rng.gamma(2.0, size=(len(ap), 10))
    w[:, 9] = prof["suicidality"][ap] * severity
    madrs = allocate_items(rng, madrs_total, 10, 6, w)
    phq_total = np.clip(np.round(madrs_total * 0.42 + rng.normal(0, 1.8, len(ap))), 0, 27).astype(np.int64)
    w = rng.gamma(2.0, size=(len(ap), 9))
    w[:, 8] = prof["suicidality"][ap] * severity * 0.5
    phq = allocate_items(rng, phq_total, 9, 3, w)
    qids_patient = rng.random(len(prof["planned"])) < 0.25
    is_follow = np.concatenate([np.zeros(take.sum(), bool), np.ones(len(fp), bool)])
    k_all = np.concatenate([k[take], np.zeros(len(fp), dtype=np.int64)])
    q = qids_patient[ap] & (is_follow | (k_all == 1) | (k_all == 5))
    qids_total = np.clip(np.round(madrs_total[q] * 0.4 + rng.normal(0, 1.5, q.sum())), 0, 27).astype(np.int64)
    qids = qids_items(rng, qids_total)

    # consultation: PHQ-9 and C-SSRS
    cp = np.nonzero(prof["consulted"])[0]
    c_phq_total = np.clip(np.round(prof["baseline"][cp] * 0.42 + rng.normal(0, 2, len(cp))), 0, 27).astype(np.int64)
    w = rng.gamma(2.0, size=(len(cp), 9))
    w[:, 8] = prof["suicidality"][cp] * 0.5
    c_phq = allocate_items(rng, c_phq_total, 9, 3, w)
    s = prof["suicidality"][cp]
    cssrs = np.where(s > 3, rng.integers(3, 6, len(cp)), np.where(s > 0, rng.integers(1, 4, len(cp)),
                                                                  rng.choice([0, 1], len(cp), p=[0.85, 0.15])))
    # per session: CADSS falling over sessions; MOAA/S mostly alert
    cadss = rng.poisson(rng.lognormal(0, 0.5, len(prof["planned"]))[p] * (1.2 * (prof["route"][p] == 1) + 1)
                        * (11 * np.exp(-(k - 1) / 3) + 2.0)).clip(0, 92)
    moaas = rng.choice([5, 4, 3, 2], len(p), p=[0.8, 0.15, 0.04, 0.01])
    # at discharge (its own stream, so the rest of the demo is unchanged): dissociation has mostly settled (a few
    # sessions still above the line), and the patient is alert again (a few still drowsy)
    extra = np.random.default_rng([today, len(p)])
    discharge = DISCHARGE_MINUTE[prof["route"][p]]
    cadss_out = np.where(extra.random(len(p)) < 0.03, np.round(cadss * 0.6) + 5, extra.poisson(1.0, len(p)))
    cadss_out = np.minimum(cadss_out, cadss).astype(np.int64)
    moaas_out = np.where(extra.random(len(p)) < 0.02, 4, 5)

    def part(code, pp, dd, ss, total, items=None, minute=None, source=None):
        n_rows = len(pp)
        return {"p": pp, "day": dd, "scale": pa.array([code] * n_rows) if n_rows else pa.array([], pa.string()),
                "total": total.astype(np.int64), "s": pa.array(ss, mask=ss == 0),
                "items": _list(items) if items is not None else pa.nulls(n_rows, pa.list_(pa.uint8())),
                "minute": pa.array(minute, pa.int64()) if minute is not None else pa.nulls(n_rows, pa.int64()),
                "source": pa.array(source, pa.string()) if source is not None else pa.nulls(n_rows, pa.string())}

    # patients' own PHQ-9 before a session (the check-in, clinical reference §8): about half the patients check in
    # on their phone in the last 9 months (its own stream, so the rest of the demo is unchanged)
    checks_in = np.random.default_rng([today, len(p), 33]).random(len(prof["planned"])) < 0.55
    self_reported = np.where(checks_in[ap] & (a_s > 0) & (aday > today - 270), "self_report", None)
    parts = [part("MADRS", ap, aday, a_s, madrs.sum(axis=1), madrs),
             part("PHQ9", ap, aday, a_s, phq.sum(axis=1), phq, source=self_reported),
             part("QIDS_SR16", ap[q], aday[q], a_s[q], qids_total, qids),
             part("PHQ9", cp, prof["consult"][cp], np.zeros(len(cp), np.int64), c_phq.sum(axis=1), c_phq),
             part("CSSRS", cp, prof["consult"][cp], np.zeros(len(cp), np.int64), cssrs),
             part("CADSS", p, day, done["s"], cadss, minute=np.full(len(p), 40)),
             part("CADSS", p, day, done["s"], cadss_out, minute=discharge),
             part("MOAAS", p, day, done["s"], moaas, minute=np.full(len(p), 40)),
             part("MOAAS", p, day, done["s"], moaas_out, minute=discharge)]
    return pa.concat_tables([pa.table(x) for x in parts])
