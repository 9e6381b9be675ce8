from django.urls import path

from r1web.audit import views

app_name = "audit"
urlpatterns = [
    path("", views.audit_list, name="list"),
]
