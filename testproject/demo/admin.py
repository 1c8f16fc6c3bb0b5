from django.contrib import admin

from demo.models import ApiToken, StoredObject

admin.site.register(ApiToken)


@admin.register(StoredObject)
class StoredObjectAdmin(admin.ModelAdmin):
    list_display = ("key", "size", "md5", "content_type", "updated")
