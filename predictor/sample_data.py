"""The sample dataset in data/: synthetic articles shaped like the course's file.

The course file (易速鲜花微信软文.csv) belongs to the course, so the project ships its own sample
instead, made here from a fixed seed so anyone can re-create it byte for byte. It was calibrated
against the course file: likes are log-normal around 1,500; a third of articles have as many
shares as likes and the rest a loosely related, log-normal number; views follow the course's own
fitted plane (about 84 per like and 62 per share) with noise of the same spread; a few shares are
blank and a few rows are outliers.
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
    views = (
        _VIEWS_PER_LIKE * likes
        + _VIEWS_PER_SHARE * shares
        + _VIEWS_BASE
        + rng.normal(0.0, _VIEWS_NOISE_SD, rows)
    )
    # Outliers like the course's: an article that took off, or one that was barely read.
    outliers = rng.random(rows) < _OUTLIERS
    views[outliers] *= rng.choice([0.3, 2.5, 3.0], size=int(outliers.sum()))
    views = np.rint(np.maximum(views, 30_000.0 + 5.0 * likes)).astype(int)
    blank_shares = rng.random(rows) < _BLANK_SHARES

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
