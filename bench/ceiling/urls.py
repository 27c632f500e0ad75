from django.urls import path

from bench.ceiling.views import ceiling

urlpatterns = [path("ceiling/", ceiling)]
