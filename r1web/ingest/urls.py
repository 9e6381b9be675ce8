from django.urls import path

from r1web.ingest import views

app_name = "ingest"
urlpatterns = [
    path("tokens/", views.token_list, name="tokens"),
    path("tokens/new/", views.token_new, name="token_new"),
    path("tokens/<int:pk>/revoke/", views.token_revoke_view, name="revoke"),
    path("runs/import/", views.rollout_import, name="import"),
    path("runs/import/<int:pk>/", views.import_job, name="import_job"),
    path("api/v1/runs/", views.api_run_open, name="api_runs"),
    path("api/v1/runs/<str:key>/records/", views.api_records, name="api_records"),
    path("api/v1/runs/<str:key>/finish/", views.api_run_finish, name="api_finish"),
]
