from django.urls import path

from r1web.datasets import views

app_name = "datasets"
urlpatterns = [
    path("", views.dataset_list, name="list"),
    path("upload/", views.dataset_upload, name="upload"),
    path("examples/<int:pk>/", views.example_detail, name="example"),
    path("<slug:name>/", views.dataset_detail, name="detail"),
    path("<slug:name>/diff/", views.version_diff_view, name="diff"),
    path("<slug:name>/v<int:number>/", views.version_detail, name="version"),
    path("<slug:name>/v<int:number>/download.<str:fmt>", views.version_download, name="download"),
    path("<slug:name>/v<int:number>/sft/", views.version_sft, name="sft"),
]
