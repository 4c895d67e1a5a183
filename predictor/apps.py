from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class PredictorConfig(AppConfig):
    name = "predictor"
    verbose_name = _("Predictions")

    def ready(self):
        from . import checks  # noqa: F401  (registers the system checks)
