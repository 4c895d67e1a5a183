"""django-axes (the admin's login lockouts) under a name in the reader's language.

Its admin section, which axes leaves unnamed ("Axes"), is named by AxesConfig, a subclass of its
AppConfig as Django documents for renaming an application (INSTALLED_APPS names it in place of
"axes"). Its models' and fields' words are our catalogue's (predictor/borrowed_words.py).
"""

from axes.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class AxesConfig(AppConfig):
    verbose_name = _("Login security")
