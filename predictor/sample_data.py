"""The sample dataset in data/: synthetic articles shaped like the course's file.

The course file (易速鲜花微信软文.csv) belongs to the course, so the project ships its own sample
instead, made here from a fixed seed so anyone can re-create it byte for byte. It was calibrated
against the course file: likes are log-normal around 1,500; a third of articles have as many
shares as likes and the rest a loosely related, log-normal number; views follow the course's own
fitted plane (about 84 per like and 62 per share) with noise of the same spread; a few shares are
blank and a few rows are outliers.

It also has the course file's small articles, which a log-normal of that spread all but never
draws: likes in the course start at 334 and shares at 105, and a model trained on a sample that
started at 560 and 375 called the README's own example (500 likes, 300 shares) an
extrapolation. About one article in a hundred has few likes (and as many shares), and two in a
hundred have few shares, so the sample's ranges reach below the course's.
"""

import csv
import io

import numpy as np

from . import features

SAMPLE_ROWS = 1500
SAMPLE_SEED = 20240601

# Calibration figures, read off the course file.
_LOG_LIKES_MEAN, _LOG_LIKES_SD = 7.27, 0.33
_SHARE_EQUALS_LIKES = 0.34
# Shares of the other articles: log-normal around 950, only loosely tied to likes.
_LOG_SHARES_MEAN, _LOG_SHARES_SD, _LOG_SHARES_PER_LOG_LIKE = 6.85, 0.28, 0.35
_VIEWS_PER_LIKE, _VIEWS_PER_SHARE, _VIEWS_BASE = 84.0, 62.5, -14_400.0
_VIEWS_NOISE_SD = 42_000.0
_BLANK_SHARES = 0.025
_OUTLIERS = 0.006
# Where the course file's likes and shares start; the sample's small articles reach below both.
COURSE_LIKES_MIN, COURSE_SHARES_MIN = 334, 105
_FEW_LIKES, _FEW_LIKES_RANGE = 0.01, (300, 600)
_FEW_SHARES, _FEW_SHARES_RANGE = 0.02, (90, 400)


def generate_sample(*, rows: int = SAMPLE_ROWS, seed: int = SAMPLE_SEED) -> str:
    """The sample as CSV text with the course file's header (点赞数,转发数,浏览量)."""
    rng = np.random.default_rng(seed)
    likes = np.clip(np.rint(rng.lognormal(_LOG_LIKES_MEAN, _LOG_LIKES_SD, rows)), 300, 6000)
    log_shares = (
        _LOG_SHARES_MEAN
        + _LOG_SHARES_PER_LOG_LIKE * (np.log(likes) - _LOG_LIKES_MEAN)
        + rng.normal(0.0, _LOG_SHARES_SD, rows)
    )
    shares = np.clip(np.rint(np.exp(log_shares)), 100, 6500)
    shares = np.where(rng.random(rows) < _SHARE_EQUALS_LIKES, likes, shares)
    noise = rng.normal(0.0, _VIEWS_NOISE_SD, rows)
    # Outliers like the course's: an article that took off, or one that was barely read.
    outliers = rng.random(rows) < _OUTLIERS
    outlier_factors = rng.choice([0.3, 2.5, 3.0], size=int(outliers.sum()))
    blank_shares = rng.random(rows) < _BLANK_SHARES
    # The small articles, drawn after everything else so that the other rows stay as they were.
    few_likes = rng.random(rows) < _FEW_LIKES
    likes[few_likes] = rng.integers(*_FEW_LIKES_RANGE, size=int(few_likes.sum()), endpoint=True)
    shares[few_likes] = likes[few_likes]
    few_shares = (rng.random(rows) < _FEW_SHARES) & ~few_likes
    shares[few_shares] = rng.integers(*_FEW_SHARES_RANGE, size=int(few_shares.sum()), endpoint=True)
    views = _VIEWS_PER_LIKE * likes + _VIEWS_PER_SHARE * shares + _VIEWS_BASE + noise
    views[outliers] *= outlier_factors
    views = np.rint(np.maximum(views, 30_000.0 + 5.0 * likes)).astype(int)

    output = io.StringIO()
    writer = csv.writer(output, lineterminator="\n")
    writer.writerow([feature.label for feature in (*features.INPUT_FEATURES, features.TARGET)])
    for like, share, view, blank in zip(
        likes.astype(int), shares.astype(int), views, blank_shares, strict=True
    ):
        writer.writerow([like, "" if blank else share, view])
    return output.getvalue()


# Inputs to predict (`predict --csv`, make bench): a seed apart from the sample's.
INPUT_SEED = 20261207
INPUT_BLOCK = 100_000


def write_inputs(path, *, rows: int, seed: int = INPUT_SEED) -> None:
    """A CSV of `rows` articles to predict (header 点赞数,转发数), shaped like the sample's inputs
    and made from a fixed seed, written a block at a time so that a million rows take little
    memory."""
    rng = np.random.default_rng(seed)
    with open(path, "w", newline="", encoding="utf-8") as file:
        writer = csv.writer(file, lineterminator="\n")
        writer.writerow([feature.label for feature in features.INPUT_FEATURES])
        for start in range(0, rows, INPUT_BLOCK):
            count = min(INPUT_BLOCK, rows - start)
            likes = np.clip(
                np.rint(rng.lognormal(_LOG_LIKES_MEAN, _LOG_LIKES_SD, count)), 300, 6000
            )
            shares = np.clip(
                np.rint(rng.lognormal(_LOG_SHARES_MEAN, _LOG_SHARES_SD, count)), 100, 6500
            )
            shares = np.where(rng.random(count) < _SHARE_EQUALS_LIKES, likes, shares)
            writer.writerows(
                zip(likes.astype(int).tolist(), shares.astype(int).tolist(), strict=True)
            )
