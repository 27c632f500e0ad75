app_name = "scim_sync"
urlpatterns: list = []
