from django.urls import path

from . import apis

urlpatterns = [
    path("", apis.ContactListCreateApi.as_view(), name="contacts"),
    path("import/", apis.ContactImportApi.as_view(), name="contacts-import"),
    path("groups/", apis.GroupListCreateApi.as_view(), name="contacts-groups"),
    path("groups/<uuid:group_id>/", apis.GroupDetailApi.as_view(), name="contacts-group"),
    path("groups/<uuid:group_id>/contacts/", apis.GroupMembersApi.as_view(), name="contacts-group-members"),
    path("<uuid:contact_id>/", apis.ContactDetailApi.as_view(), name="contacts-detail"),
]
