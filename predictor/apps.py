from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class PredictorConfig(AppConfig):
    name = "predictor"
    verbose_name = _("Predictions")
