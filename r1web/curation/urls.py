from django.urls import path

from r1web.curation import views

app_name = "curation"
urlpatterns = [
    path("", views.queue_index, name="index"),
    path("promote/", views.promote, name="promote"),
    path("promote/confirm/", views.promote_confirm, name="promote_confirm"),
    path("generate/", views.generate, name="generate"),
    path("items/<int:pk>/", views.item_detail, name="item"),
    path("items/<int:pk>/save/", views.item_save, name="save"),
    path("items/<int:pk>/accept/", views.item_accept, name="accept"),
    path("items/<int:pk>/reject/", views.item_reject, name="reject"),
    path("items/<int:pk>/release/", views.item_release, name="release"),
    # Under their own prefix, so no dataset name can shadow a fixed path (or "items").
    path("queues/<slug:name>/", views.queue, name="queue"),
    path("queues/<slug:name>/next/", views.queue_next, name="next"),
    path("queues/<slug:name>/freeze/", views.freeze, name="freeze"),
]
