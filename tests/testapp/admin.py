from django.contrib import admin

from django_expect.admin_precheck import UploadLimitsAdminMixin
from tests.testapp.models import ApiToken, Document, StoredObject

admin.site.register(ApiToken)


@admin.register(StoredObject)
class StoredObjectAdmin(admin.ModelAdmin):
    list_display = ("key", "size", "md5", "content_type", "updated")


@admin.register(Document)
class DocumentAdmin(UploadLimitsAdminMixin, admin.ModelAdmin):
    """The file input carries its admin route's limit (EXPECT_DEFAULT_POLICY: 100 MiB)."""

    list_display = ("title", "file", "uploaded")
