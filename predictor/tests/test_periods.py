"""A command's --since: a date or a moment, in the site's time zone (services/periods.py)."""

from datetime import UTC, datetime

import pytest
from django.utils import timezone

from predictor.services.periods import SinceRefused, read_since


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("2026-12-01", (2026, 12, 1, 0, 0)),
        ("2026-12-01 08:30", (2026, 12, 1, 8, 30)),
        (" 2026-12-01T08:30 ", (2026, 12, 1, 8, 30)),
    ],
)
def test_a_since_date_is_read_in_the_sites_time_zone(text, expected):
    moment = timezone.localtime(read_since(text))

    assert (moment.year, moment.month, moment.day, moment.hour, moment.minute) == expected
    assert moment.utcoffset() == timezone.localtime().utcoffset()


@pytest.mark.parametrize("text", ["yesterday", "2026-13-01", "2026-02-30", "", "1e9"])
def test_a_since_that_is_not_a_date_is_refused_plainly(text):
    with pytest.raises(SinceRefused, match="is not a date"):
        read_since(text)


def test_a_since_with_its_own_offset_keeps_it():
    assert read_since("2026-12-01T08:00+00:00") == datetime(2026, 12, 1, 8, tzinfo=UTC)
