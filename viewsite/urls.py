from django.contrib import admin
from django.urls import include, path
from drf_spectacular.views import SpectacularAPIView

urlpatterns = [
    path("", include("predictor.urls")),
    path("api/schema/", SpectacularAPIView.as_view(), name="schema"),
    path("api/auth/", include("rest_framework.urls")),
    path("admin/", admin.site.urls),
]

admin.site.site_header = "viewsite administration"
admin.site.site_title = "viewsite"
