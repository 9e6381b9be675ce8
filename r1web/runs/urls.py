from django.urls import path

from r1web.runs import views

app_name = "runs"
urlpatterns = [
    path("", views.run_list, name="list"),
    path("runs/new/", views.run_new, name="new"),
    path("runs/new/<slug:recipe>/", views.run_launch, name="launch"),
    path("runs/compare/", views.run_compare, name="compare"),
    path("runs/<int:pk>/", views.run_detail, name="detail"),
    path("runs/<int:pk>/charts.json", views.run_chart_data, name="chart_data"),
    path("runs/<int:pk>/metrics.csv", views.run_metrics_csv, name="metrics_csv"),
    path("runs/<int:pk>/cancel/", views.run_cancel_view, name="cancel"),
    path("runs/<int:pk>/resume/", views.run_resume_view, name="resume"),
    path("stages/<int:pk>/", views.stage_detail, name="stage"),
    path("checkpoints/<int:pk>/", views.checkpoint_detail, name="checkpoint"),
]
