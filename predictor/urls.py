from csp.decorators import csp_update
from django.urls import path

from . import views
from .api import views as api_views

app_name = "predictor"

# DRF's browsable API sets one inline style attribute; allow inline styles on API pages only.
# Scripts stay 'self'-only everywhere.
api = csp_update({"style-src": ["'unsafe-inline'"]})

urlpatterns = [
    path("", views.predict_page, name="predict"),
    path("healthz", views.healthz, name="healthz"),
    path("favicon.ico", views.favicon, name="favicon"),
    path("metrics", views.metrics_page, name="metrics"),
    path("models/v<int:number>/", views.model_card, name="model-card"),
    path(
        "models/v<int:number>/plots/<slug:plot>.png",
        views.model_card_plot,
        name="model-card-plot",
    ),
    path("internal/refused/body-too-large", views.refused_by_proxy, name="refused-by-proxy"),
    path("api/", api(api_views.ApiRoot.as_view()), name="api-root"),
    path(
        "api/predictions/",
        api(api_views.PredictionCreateApi.as_view()),
        name="prediction-create",
    ),
    path(
        "api/predictions/preview/",
        api(api_views.PredictionPreviewApi.as_view()),
        name="prediction-preview",
    ),
    path(
        "api/predictions/history/",
        api(api_views.PredictionListApi.as_view()),
        name="prediction-list",
    ),
    path(
        "api/predictions/<int:pk>/",
        api(api_views.PredictionDetailApi.as_view()),
        name="prediction-detail",
    ),
    path(
        "api/predictions/<int:pk>/outcome/",
        api(api_views.OutcomeApi.as_view()),
        name="prediction-outcome",
    ),
    path("api/models/", api(api_views.ModelVersionListApi.as_view()), name="model-list"),
    path(
        "api/models/<str:label>/activate/",
        api(api_views.ModelVersionActivateApi.as_view()),
        name="model-activate",
    ),
]
