"""Words of the libraries we use that their own catalogues leave in English in zh_Hans.

A library says its words through gettext, which looks them up in every catalogue, ours
(LOCALE_PATHS) first, so our catalogue can translate them. Listed here with gettext_noop, so that
`make messages` extracts them into our catalogue and keeps them there. The msgids must be the
library's own, letter for letter; a new release's new word shows in English in the Chinese admin
until it is added here (test_admin.py reads the admin in Chinese for English words left).
"""

from django.utils.translation import gettext_noop

# django-axes 8.3 ships no zh_Hans catalogue: its words, as axes/models.py and axes/admin.py
# write them.
AXES = (
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

# Django 5.2's admin: the index's column headings for screen readers, new in 5.2 and not yet in
# Django's zh_Hans catalogue.
DJANGO_ADMIN = (
    gettext_noop("Model name"),
    gettext_noop("Add link"),
    gettext_noop("Change or view list link"),
)
