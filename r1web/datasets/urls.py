from django.urls import path

from r1web.datasets import views

app_name = "datasets"
urlpatterns = [
    path("", views.dataset_list, name="list"),
    path("upload/", views.dataset_upload, name="upload"),
    path("imports/<int:pk>/", views.import_detail, name="import"),
    path("exports/<int:pk>/", views.export_detail, name="export"),
    path("exports/<int:pk>/download", views.export_download, name="export-download"),
    path("examples/<int:pk>/", views.example_detail, name="example"),
    # A dataset's pages live under d/, which no fixed path uses: any name stays reachable
    # (a dataset called "upload" used to hide behind the upload page).
    path("d/<slug:name>/", views.dataset_detail, name="detail"),
    path("d/<slug:name>/diff/", views.version_diff_view, name="diff"),
    path("d/<slug:name>/v<int:number>/", views.version_detail, name="version"),
    path("d/<slug:name>/v<int:number>/download.<str:fmt>", views.version_download,
         name="download"),
    path("d/<slug:name>/v<int:number>/sft/", views.version_sft, name="sft"),
    path("d/<slug:name>/v<int:number>/export/", views.export_create, name="export-create"),
]
