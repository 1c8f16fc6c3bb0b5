"""Demo models: API tokens for the upload API, and stored objects' metadata."""

from django.conf import settings
from django.db import models


class ApiToken(models.Model):
    key = models.CharField(max_length=64, unique=True)
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE)

    def __str__(self) -> str:
        return f"token of {self.user}"


class StoredObject(models.Model):
    key = models.CharField(max_length=255, unique=True)
    size = models.PositiveBigIntegerField()
    md5 = models.CharField(max_length=32)
    content_type = models.CharField(max_length=255, blank=True)
    updated = models.DateTimeField(auto_now=True)

    def __str__(self) -> str:
        return self.key


class Document(models.Model):
    """A file uploaded through the admin (its add/change forms get the browser pre-check)."""

    title = models.CharField(max_length=100)
    file = models.FileField(upload_to="documents/")
    uploaded = models.DateTimeField(auto_now_add=True)

    def __str__(self) -> str:
        return self.title
