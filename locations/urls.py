from django.urls import path

from locations import views

app_name = "locations"
urlpatterns = [
    path("", views.location_list, name="list"),
    path("create-sent/", views.location_create_sent, name="create-sent"),
    path("<int:pk>/rename/", views.location_rename, name="rename"),
    path("<int:pk>/delete/", views.location_delete, name="delete"),
]
