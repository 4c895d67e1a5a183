from django.urls import path

from . import views
from .api import views as api_views

app_name = "predictor"

urlpatterns = [
    path("", views.predict_page, name="predict"),
    path("healthz", views.healthz, name="healthz"),
    path("api/predictions/", api_views.PredictionListCreateView.as_view(), name="prediction-list"),
    path(
        "api/predictions/<int:pk>/",
        api_views.PredictionDetailView.as_view(),
        name="prediction-detail",
    ),
    path("api/models/", api_views.ModelVersionListView.as_view(), name="model-list"),
]
