from django.urls import path

from . import apis

urlpatterns = [
    path("", apis.CampaignListCreateApi.as_view(), name="campaigns"),
    path("<uuid:campaign_id>/", apis.CampaignDetailApi.as_view(), name="campaign"),
    path("<uuid:campaign_id>/messages/", apis.CampaignMessagesApi.as_view(), name="campaign-messages"),
    path("<uuid:campaign_id>/send/", apis.CampaignSendApi.as_view(), name="campaign-send"),
    path("<uuid:campaign_id>/pause/", apis.CampaignPauseApi.as_view(), name="campaign-pause"),
    path("<uuid:campaign_id>/cancel/", apis.CampaignCancelApi.as_view(), name="campaign-cancel"),
]
