from django.urls import re_path

from scim_sync import views

app_name = "scim_api"

_KEY = r"^(?P<endpoint_key>[A-Za-z0-9_\-]{16,64})"
urlpatterns = [
    re_path(_KEY + r"/Users/?$", views.UserList.as_view(), name="users"),
    re_path(_KEY + r"/Users/\.search/?$", views.UserSearch.as_view(), name="users-search"),
    re_path(_KEY + r"/Users/(?P<scim_id>[^/]+)/?$", views.UserDetail.as_view(), name="user"),
    re_path(_KEY + r"/Groups/?$", views.GroupList.as_view(), name="groups"),
    re_path(_KEY + r"/Groups/\.search/?$", views.GroupSearch.as_view(), name="groups-search"),
    re_path(_KEY + r"/Groups/(?P<scim_id>[^/]+)/?$", views.GroupDetail.as_view(), name="group"),
    re_path(_KEY + r"/\.search/?$", views.RootSearch.as_view(), name="search"),
    re_path(_KEY + r"/ServiceProviderConfig/?$", views.ServiceProviderConfigView.as_view(), name="config"),
    re_path(_KEY + r"/ResourceTypes/?$", views.ResourceTypesView.as_view(), name="resource-types"),
    re_path(_KEY + r"/ResourceTypes/(?P<ident>[^/]+)/?$", views.ResourceTypesView.as_view(), name="resource-type"),
    re_path(_KEY + r"/Schemas/?$", views.SchemasView.as_view(), name="schemas"),
    re_path(_KEY + r"/Schemas/(?P<ident>[^/]+)/?$", views.SchemasView.as_view(), name="schema"),
    re_path(_KEY + r"(?:/.*)?$", views.NotFoundView.as_view(), name="not-found"),
    # Not even an endpoint key: nothing to authenticate against, still a SCIM 404.
    re_path(r"^.*$", views.no_such_endpoint, name="no-endpoint"),
]
