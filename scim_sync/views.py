"""SCIM 2.0 endpoints (RFC 7644): thin views over scim_sync.resources and the domain actions."""

import json
import logging
import time
import uuid

from django.db import transaction
from django.http import Http404, HttpResponse
from rest_framework import status
from rest_framework.permissions import BasePermission
from rest_framework.response import Response
from rest_framework.views import APIView
from scim2_models import Context, InvalidFilterException

from accounts import actions, memberships
from accounts.models import Group, GroupMembership, Organisation, User
from klaxon_site.lib.lookups import any_of
from klaxon_site.lib.paging import page_of
from scim_sync import resources
from scim_sync.activity import record_activity
from scim_sync.auth import ScimTokenAuthentication
from scim_sync.filters import GROUP_COLUMNS, GROUP_FILTERS, USER_COLUMNS, USER_FILTERS, filter_q, sort_field
from scim_sync.groups import apply_patch, read_patch
from scim_sync.models import PageBookmark
from scim_sync.params import GroupBody, ListParams, check_operation_count, projection_of, search_params
from scim_sync.projection import Projection
from scim_sync.protocol import (
    SCIM_MEDIA_TYPE,
    AlwaysScim,
    ScimError,
    ScimParser,
    ScimRenderer,
    error_body,
    refuse_unstorable_text,
    scim_exception_handler,
    unhandled_error_response,
)
from scim_sync.schema import CORE_GROUP_SCHEMA, PROVIDER, SERVICE_PROVIDER_CONFIG

logger = logging.getLogger(__name__)
LIST_RESPONSE_SCHEMA = "urn:ietf:params:scim:api:messages:2.0:ListResponse"


class HasScimToken(BasePermission):
    def has_permission(self, request, view):
        return request.auth is not None


class ScimView(APIView):
    """Base of every SCIM view: token auth, SCIM media types and errors, activity log."""

    authentication_classes = [ScimTokenAuthentication]
    permission_classes = [HasScimToken]
    parser_classes = [ScimParser]
    renderer_classes = [ScimRenderer]
    content_negotiation_class = AlwaysScim
    resource_type = ""
    # What the activity log records about the resource, set by the view as it learns it.
    activity_label = ""  # userName or displayName
    activity_resource_id = ""  # SCIM id
    searches = False  # POST carries a SearchRequest (/.search), not a resource

    def handle_exception(self, exc):
        response = scim_exception_handler(exc, self.get_exception_handler_context())
        if response is None:
            logger.exception("SCIM request failed", extra={"view": type(self).__name__})
            response = unhandled_error_response()
        return response

    def dispatch(self, request, *args, **kwargs):
        started = time.monotonic()
        response = super().dispatch(request, *args, **kwargs)
        self._record(request, response, int((time.monotonic() - started) * 1000))
        return response

    def _record(self, request, response, duration_ms: int) -> None:
        organisation = getattr(request, "scim_organisation", None)
        if organisation is None:
            # Not authenticated: a refusal (401/429) was counted in its minute's summary by
            # scim_sync.auth (scim_sync.refusals), so that anyone who knows the URL cannot
            # flood this log; any other answer (404 for an unknown key) concerns no one.
            return
        error = response.data if response.status_code >= 400 and isinstance(response.data, dict) else {}
        try:
            record_activity(
                organisation,
                method=request.method,
                resource_type=self.resource_type,
                resource_id=self.activity_resource_id or self.kwargs.get("scim_id", ""),
                label=self.activity_label,
                status=response.status_code,
                scim_type=error.get("scimType", ""),
                detail=error.get("detail", ""),
                duration_ms=duration_ms,
            )
        except Exception:  # The log must never turn a served request into an error.
            logger.exception("Could not record SCIM activity")

    # Helpers shared by the resource views ------------------------------------------

    @property
    def organisation(self) -> Organisation:
        return self.request.scim_organisation  # type: ignore[attr-defined]  # (set by ScimTokenAuthentication)

    @property
    def base_url(self) -> str:
        return self.request.scim_endpoint.url  # type: ignore[attr-defined]  # (set by ScimTokenAuthentication)

    def initial(self, request, *args, **kwargs):
        super().initial(request, *args, **kwargs)
        refuse_unstorable_text(dict(request.query_params.lists()))
        scim_id = kwargs.get("scim_id")
        if scim_id is not None and not _is_uuid(scim_id):
            # Klaxon's ids are UUIDs, so anything else names nothing: 404, as Okta's spec
            # test expects for GET /Users/00919288221112222 (not a 400 about the format).
            raise Http404(f"{self.resource_type} {scim_id} not found.")

    def params(self) -> dict:
        """Query parameters, or the body of POST /.search (RFC 7644 §3.4.3) in their shape."""
        if self.request.method == "POST" and self.searches:
            return search_params(self.request.data)  # type: ignore[arg-type]  # (ScimParser gives a dict)
        return self.request.query_params

    def list_params(self) -> ListParams:
        return ListParams.parse(self.params())

    def projection(self) -> Projection:
        return projection_of(self.params())

    def check_version(self, obj) -> None:
        resources.check_version(obj, self.request.headers.get("If-Match"))

    def page(self, queryset, columns, translator, read=None):
        """Filter, sort and slice in the database; returns (total, start, rows read with `read`)."""
        wanted = self.list_params()
        if wanted.filter:
            queryset = queryset.filter(filter_q(translator, wanted.filter))  # length and complexity capped there
        order = "pk"
        if wanted.sort_by:
            order = ("-" if wanted.descending else "") + sort_field(columns, wanted.sort_by)
        listing = f"scim:{self.organisation.pk}:{self.resource_type}:{order}:{wanted.filter}"
        total, objects = page_of(
            queryset.order_by(order, "pk"),
            wanted.start_index - 1,
            wanted.count,
            store=PageBookmark.objects.for_listing(listing),
            # Bookmarks continue lists in their default order (by key), the order clients page in.
            keyset=order == "pk",
            read=read,
        )
        return total, wanted.start_index, objects

    @staticmethod
    def list_response(total: int, start: int, documents: list) -> Response:
        return Response(
            {
                "schemas": [LIST_RESPONSE_SCHEMA],
                "totalResults": total,
                "startIndex": start,
                "itemsPerPage": len(documents),
                "Resources": documents,
            }
        )

    def resource_response(self, document: dict, projection: Projection, code=status.HTTP_200_OK) -> Response:
        response = Response(projection.apply(document), status=code, headers={"ETag": document["meta"]["version"]})
        if code == status.HTTP_201_CREATED:
            response["Location"] = document["meta"]["location"]
        self.activity_resource_id = document["id"]
        self.activity_label = document.get("userName") or document.get("displayName", "")
        return response


def _is_uuid(text: str) -> bool:
    try:
        uuid.UUID(text)
    except ValueError:
        return False
    return True


# Users ------------------------------------------------------------------------------


class UserViewMixin:
    resource_type = "User"

    def people(self):
        return User.objects.filter(organisation=self.organisation)

    def users(self):
        """The organisation's people as the rows user_document reads."""
        return resources.user_rows(self.people())

    def get_user(self, scim_id, *, lock=False) -> User:
        """The person to change, whole and locked; or, to read, the row of their document."""
        if lock:
            users = self.people().select_related("location").select_for_update(of=("self",))
        else:
            users = self.users()
        try:
            user = users.get(scim_id=scim_id)
        except (User.DoesNotExist, ValueError):
            raise Http404(f"User {scim_id} not found.") from None
        self.activity_label = user.user_name
        return user


class UserList(UserViewMixin, ScimView):
    def get(self, request, endpoint_key):
        projection = self.projection()
        total, start, users = self.page(self.people(), USER_COLUMNS, USER_FILTERS, read=resources.user_rows)
        return self.list_response(
            total, start, [projection.apply(resources.user_document(u, self.base_url)) for u in users]
        )

    def post(self, request, endpoint_key):
        # No transaction: creating a person is one INSERT (see provision_user).
        self.activity_label = str(request.data.get("userName") or "")[:255]
        resource = resources.parse_user(request.data, Context.RESOURCE_CREATION_REQUEST, self.base_url)
        user = actions.provision_user(self.organisation, resources.user_values(resource, keep_active=True))
        return self.resource_response(
            resources.user_document(user, self.base_url), self.projection(), status.HTTP_201_CREATED
        )


class UserSearch(UserList):
    searches = True

    def post(self, request, endpoint_key):
        return UserList.get(self, request, endpoint_key)


class UserDetail(UserViewMixin, ScimView):
    def get(self, request, endpoint_key, scim_id):
        user = self.get_user(scim_id)
        return self.resource_response(resources.user_document(user, self.base_url), self.projection())

    @transaction.atomic
    def put(self, request, endpoint_key, scim_id):
        user = self.get_user(scim_id, lock=True)
        self.check_version(user)
        resource = resources.parse_user(request.data, Context.RESOURCE_REPLACEMENT_REQUEST, self.base_url)
        # A PUT without `active` (Okta may drop it) keeps the person as they are.
        values = resources.user_values(resource, keep_active=user.is_active)
        user = actions.provision_user(self.organisation, values, user=user)
        return self.resource_response(resources.user_document(user, self.base_url), self.projection())

    @transaction.atomic
    def patch(self, request, endpoint_key, scim_id):
        user = self.get_user(scim_id, lock=True)
        self.check_version(user)
        check_operation_count(request.data)
        resource = resources.patched_user(user, request.data, self.base_url)
        user = actions.provision_user(self.organisation, resources.user_values(resource), user=user)
        return self.resource_response(resources.user_document(user, self.base_url), self.projection())

    @transaction.atomic
    def delete(self, request, endpoint_key, scim_id):
        user = self.get_user(scim_id, lock=True)
        self.check_version(user)
        actions.delete_user(user)
        return Response(status=status.HTTP_204_NO_CONTENT)


# Groups -----------------------------------------------------------------------------


class GroupViewMixin:
    resource_type = "Group"
    # Provided by ScimView, which every group view also derives from.
    organisation: Organisation
    base_url: str
    activity_label: str

    def groups(self):
        return Group.objects.filter(organisation=self.organisation)

    def documents(self, groups, projection) -> list[dict]:
        """The groups' documents; their members, when wanted, read as plain rows in one query
        (Okta's groups hold thousands: no model instance per membership)."""
        members: dict[int, list] = {group.pk: [] for group in groups}
        if not projection.includes("members"):
            return [resources.group_document(group, self.base_url, members=None) for group in groups]
        rows = (
            GroupMembership.objects.filter(any_of("group_id", members))
            .order_by("pk")
            .values_list("group_id", "user__scim_id", "display", "user__user_name")
        )
        for group_id, scim_id, display, user_name in rows:
            members[group_id].append((scim_id, display or user_name))
        return [resources.group_document(group, self.base_url, members=members[group.pk]) for group in groups]

    def document(self, group, projection) -> dict:
        return self.documents([group], projection)[0]

    def get_group(self, scim_id, *, lock=False) -> Group:
        groups = self.groups()
        if lock:
            groups = groups.select_for_update()
        try:
            group = groups.get(scim_id=scim_id)
        except (Group.DoesNotExist, ValueError):
            raise Http404(f"Group {scim_id} not found.") from None
        group.organisation = self.organisation  # Known already: member look-ups need no query for it.
        self.activity_label = group.display_name
        return group


class GroupList(GroupViewMixin, ScimView):
    def get(self, request, endpoint_key):
        projection = self.projection()
        total, start, groups = self.page(self.groups(), GROUP_COLUMNS, GROUP_FILTERS)
        return self.list_response(total, start, [projection.apply(d) for d in self.documents(groups, projection)])

    @transaction.atomic
    def post(self, request, endpoint_key):
        self.activity_label = str(request.data.get("displayName") or "")[:255]
        body = GroupBody.parse(request.data, self.organisation)
        group = actions.save_group(
            Group(organisation=self.organisation), display_name=body.display_name, external_id=body.external_id
        )
        memberships.add(group, body.member_keys, displays=body.displays)
        projection = self.projection()
        return self.resource_response(
            self.document(self.get_group(group.scim_id), projection), projection, status.HTTP_201_CREATED
        )


class GroupSearch(GroupList):
    searches = True

    def post(self, request, endpoint_key):
        return GroupList.get(self, request, endpoint_key)


class GroupDetail(GroupViewMixin, ScimView):
    def get(self, request, endpoint_key, scim_id):
        projection = self.projection()
        return self.resource_response(self.document(self.get_group(scim_id), projection), projection)

    @transaction.atomic
    def put(self, request, endpoint_key, scim_id):
        group = self.get_group(scim_id, lock=True)
        self.check_version(group)
        body = GroupBody.parse(request.data, self.organisation)
        actions.save_group(group, display_name=body.display_name, external_id=body.external_id)
        memberships.replace(group, body.member_keys, displays=body.displays)
        projection = self.projection()
        return self.resource_response(self.document(self.get_group(scim_id), projection), projection)

    def patch(self, request, endpoint_key, scim_id):
        check_operation_count(request.data)
        change = read_patch(scim_id, request.data)
        try:
            group = apply_patch(self.organisation, scim_id, change, if_match=request.headers.get("If-Match"))
        except Group.DoesNotExist:
            raise Http404(f"Group {scim_id} not found.") from None
        self.activity_label = group.display_name
        params = self.params()
        if not (params.get("attributes") or params.get("excludedAttributes")):
            return self.no_content(group)
        projection = self.projection()
        return self.resource_response(self.document(self.get_group(scim_id), projection), projection)

    @staticmethod
    def no_content(group) -> Response:
        """Microsoft: answer a PATCH with 204, not the (possibly huge) member list."""
        return Response(status=status.HTTP_204_NO_CONTENT, headers={"ETag": resources.version_of(group)})

    @transaction.atomic
    def delete(self, request, endpoint_key, scim_id):
        group = self.get_group(scim_id, lock=True)
        self.check_version(group)
        group.delete()
        return Response(status=status.HTTP_204_NO_CONTENT)


class RootSearch(UserViewMixin, GroupViewMixin, ScimView):
    """POST /.search across Users then Groups (RFC 7644 §3.4.3).

    A filter naming an attribute only one resource type has selects none of the other.
    """

    resource_type = "Search"
    searches = True

    def post(self, request, endpoint_key):
        projection = self.projection()
        kinds = [
            (self.users(), USER_FILTERS, lambda users: [resources.user_document(u, self.base_url) for u in users]),
            (self.groups(), GROUP_FILTERS, lambda groups: self.documents(groups, projection)),
        ]
        wanted = self.list_params()
        text, errors, selected = wanted.filter, [], []
        for queryset, translator, to_documents in kinds:
            try:
                selected.append((queryset.filter(filter_q(translator, text)) if text else queryset, to_documents))
            except InvalidFilterException as error:
                errors.append(error)
        if not selected:
            raise errors[0]
        start, count = wanted.start_index, wanted.count
        total, skip, documents = 0, start - 1, []
        for queryset, to_documents in selected:
            matched = queryset.count()
            total += matched
            wanted = count - len(documents)
            if wanted > 0 and skip < matched:
                page = list(queryset.order_by("pk")[skip : skip + wanted])
                documents += [projection.apply(document) for document in to_documents(page)]
            skip = max(skip - matched, 0)
        return self.list_response(total, start, documents)


# Discovery (RFC 7644 §4) --------------------------------------------------------------


class DiscoveryView(ScimView):
    def initial(self, request, *args, **kwargs):
        super().initial(request, *args, **kwargs)
        # RFC 7644 §4: a filter SHOULD get 403, so that no client believes it was applied.
        if request.query_params.get("filter"):
            raise ScimError(403, "Discovery endpoints cannot be filtered.")

    def get(self, request, endpoint_key, ident=None):
        items = self.items()
        if ident is not None:
            match = next((doc for doc in items if doc["id"].lower() == ident.lower()), None)
            if match is None:
                raise Http404(f"{self.resource_type} {ident} not found.")
            return Response(match)
        return self.list_response(len(items), 1, items)

    def with_meta(self, document: dict, path: str) -> dict:
        return {**document, "meta": {"resourceType": self.resource_type, "location": f"{self.base_url}/{path}"}}


class ServiceProviderConfigView(DiscoveryView):
    resource_type = "ServiceProviderConfig"

    def get(self, request, endpoint_key):
        document = SERVICE_PROVIDER_CONFIG.model_dump(scim_ctx=Context.RESOURCE_QUERY_RESPONSE)
        document["meta"] = {
            "resourceType": "ServiceProviderConfig",
            "location": f"{self.base_url}/ServiceProviderConfig",
        }
        return Response(document)


class ResourceTypesView(DiscoveryView):
    resource_type = "ResourceType"

    def items(self):
        return [
            self.with_meta(rt.model_dump(scim_ctx=Context.RESOURCE_QUERY_RESPONSE), f"ResourceTypes/{rt.id}")
            for rt in PROVIDER.resource_types
        ]


class SchemasView(DiscoveryView):
    resource_type = "Schema"

    def items(self):
        return [
            self.with_meta(
                _klaxon_rules(schema.model_dump(scim_ctx=Context.RESOURCE_QUERY_RESPONSE)), f"Schemas/{schema.id}"
            )
            for schema in PROVIDER.schemas
        ]


def _klaxon_rules(schema: dict) -> dict:
    """Klaxon keeps group displayName unique per organisation (Entra matches groups on it)."""
    if schema["id"] == CORE_GROUP_SCHEMA:
        for attribute in schema["attributes"]:
            if attribute["name"] == "displayName":
                attribute["uniqueness"] = "server"
    return schema


def no_such_endpoint(request):
    return HttpResponse(
        json.dumps(error_body(404, "There is no such SCIM endpoint.")), status=404, content_type=SCIM_MEDIA_TYPE
    )


class NotFoundView(ScimView):
    """Any other path under a valid endpoint: SCIM 404, after authentication."""

    def dispatch_any(self, request, *args, **kwargs):
        raise Http404("There is no such SCIM endpoint.")

    get = post = put = patch = delete = dispatch_any
