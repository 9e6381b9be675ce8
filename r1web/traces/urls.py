from django.urls import path

from r1web.traces import views

app_name = "traces"
urlpatterns = [
    path("", views.sample_list, name="list"),
    path("samples/<int:pk>/", views.sample_detail, name="sample"),
    path("samples/<int:pk>/flags/", views.flag_create, name="flag"),
    path("flags/<int:pk>/delete/", views.flag_delete, name="unflag"),
    path("groups/<int:stage>/<int:step>/<int:group>/", views.group_detail, name="group"),
    path("runs/<int:run>/evolution/", views.evolution, name="evolution"),
]
