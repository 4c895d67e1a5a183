"""The `--since` a command is given (drift, replay): a date or a moment, in the site's time zone."""

from datetime import datetime, time

from django.utils import dateparse, timezone
from django.utils.translation import gettext

from .errors import ViewsiteError


class SinceRefused(ViewsiteError):
    """A `--since` that is not a date: its message says how to write one."""


def read_since(text: str) -> datetime:
    """A `--since` as a moment: a date (its midnight in the site's time zone) or a date and time
    (in the site's zone unless it names one); SinceRefused for anything else."""
    text = text.strip()
    try:
        moment = dateparse.parse_datetime(text)
        day = None if moment else dateparse.parse_date(text)
    except ValueError:  # well formed, but no such day: 2026-02-30
        moment = day = None
    if moment is None and day is None:
        raise SinceRefused(
            gettext("“%(text)s” is not a date; write it as 2026-12-01 or 2026-12-01 08:00.")
            % {"text": text}
        )
    if moment is None:
        moment = datetime.combine(day, time.min)
    return moment if timezone.is_aware(moment) else timezone.make_aware(moment)
