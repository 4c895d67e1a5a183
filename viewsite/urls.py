from django.conf import settings
from django.contrib import admin
from django.urls import include, path
from drf_spectacular.views import SpectacularAPIView

urlpatterns = [
    path("", include("predictor.urls")),
    path("api/auth/", include("rest_framework.urls")),
    path("admin/", admin.site.urls),
]
if settings.VIEWSITE_API_SCHEMA:
    urlpatterns.append(path("api/schema/", SpectacularAPIView.as_view(), name="schema"))

admin.site.site_header = "viewsite administration"
admin.site.site_title = "viewsite"

handler400 = "predictor.views.bad_request"
handler403 = "predictor.views.permission_denied"
handler404 = "predictor.views.page_not_found"
handler500 = "predictor.views.server_error"
