from django.contrib import admin
from django.contrib.auth import views as auth_views
from django.urls import include, path

urlpatterns = [
    path("login/", auth_views.LoginView.as_view(), name="login"),
    path("logout/", auth_views.LogoutView.as_view(), name="logout"),
    path("admin/", admin.site.urls),
    path("", include("r1web.runs.urls")),
    path("traces/", include("r1web.traces.urls")),
    path("datasets/", include("r1web.datasets.urls")),
    path("curation/", include("r1web.curation.urls")),
    path("audit/", include("r1web.audit.urls")),
]
