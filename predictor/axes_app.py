"""django-axes (the admin's login lockouts) as the admin shows it, in the reader's language.

django-axes 8.3 ships no zh_Hans catalogue, but its models, fields and admin say their words
through gettext, which looks them up in every catalogue, ours (LOCALE_PATHS) first. WORDS lists
them with gettext_noop so that `make messages` extracts them into our catalogue and keeps them
there: a new release's new word shows up in English in the Chinese admin until it is added here
(the msgids must be axes' own, letter for letter). Its admin section, which axes leaves unnamed
("Axes"), is named by AxesConfig, a subclass of its AppConfig as Django documents for renaming an
application (INSTALLED_APPS names it in place of "axes").
"""

from axes.apps import AppConfig
from django.utils.translation import gettext_lazy as _
from django.utils.translation import gettext_noop


class AxesConfig(AppConfig):
    verbose_name = _("Login security")


# django-axes' words, as axes/models.py and axes/admin.py write them.
WORDS = (
    # Models and their fields
    gettext_noop("access attempt"),
    gettext_noop("access attempts"),
    gettext_noop("access failure"),
    gettext_noop("access failures"),
    gettext_noop("access log"),
    gettext_noop("access logs"),
    gettext_noop("access attempt expiration"),
    gettext_noop("access attempt expirations"),
    gettext_noop("User Agent"),
    gettext_noop("IP Address"),
    gettext_noop("Username"),
    gettext_noop("HTTP Accept"),
    gettext_noop("Path"),
    gettext_noop("Attempt Time"),
    gettext_noop("Access lock out"),
    gettext_noop("GET Data"),
    gettext_noop("POST Data"),
    gettext_noop("Failed Logins"),
    gettext_noop("Access Attempt"),
    gettext_noop("Expires At"),
    gettext_noop("The time when access attempt expires and is no longer valid."),
    gettext_noop("Logout Time"),
    gettext_noop("Session key hash (sha256)"),
    # The admin
    gettext_noop("Locked Out"),
    gettext_noop("Form Data"),
    gettext_noop("Meta Data"),
    gettext_noop("Clean up expired attempts"),
    gettext_noop("Not set"),
    gettext_noop("Attempt Remaining"),
)
