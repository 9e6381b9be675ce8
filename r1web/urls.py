from django.contrib import admin
from django.contrib.auth import views as auth_views
from django.contrib.auth.decorators import login_not_required
from django.templatetags.static import static
from django.urls import include, path
from django.views import defaults
from django.views.decorators.http import require_safe
from django.views.generic import RedirectView

from r1web.errors import json_for_api

# Browsers ask for /favicon.ico whatever the page says; answer without a sign-in.
favicon = login_not_required(
    require_safe(RedirectView.as_view(url=static("r1web/favicon.svg"), permanent=True))
)

urlpatterns = [
    path("login/", auth_views.LoginView.as_view(), name="login"),
    path("logout/", auth_views.LogoutView.as_view(), name="logout"),
    path("admin/", admin.site.urls),
    path("favicon.ico", favicon, name="favicon"),
    path("", include("r1web.runs.urls")),
    path("traces/", include("r1web.traces.urls")),
    path("datasets/", include("r1web.datasets.urls")),
    path("curation/", include("r1web.curation.urls")),
    path("audit/", include("r1web.audit.urls")),
    path("", include("r1web.ingest.urls")),  # tokens, log imports, /api/v1/
]

# The styled pages (templates/404.html and the like), and JSON under /api/.
handler400 = json_for_api(defaults.bad_request, 400)
handler403 = json_for_api(defaults.permission_denied, 403)
handler404 = json_for_api(defaults.page_not_found, 404)
handler500 = json_for_api(defaults.server_error, 500)
