from django.db import models


class Person(models.Model):
    user_name = models.CharField(max_length=255, unique=True)


class Event(models.Model):
    person = models.ForeignKey(Person, on_delete=models.CASCADE)
    method = models.CharField(max_length=10)
    at = models.DateTimeField(auto_now_add=True)
