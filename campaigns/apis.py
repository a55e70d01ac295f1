from drf_spectacular.utils import extend_schema
from rest_framework import serializers, status
from rest_framework.response import Response

from messaging.apis import MessageOutputSerializer
from smsplatform.api.fields import StrictCharField, StrictUUIDField
from smsplatform.api.pagination import Pagination, paginated_response
from smsplatform.api.views import AccountApi

from .models import Campaign
from .selectors import campaign_get, campaign_list, campaign_messages, campaign_stats
from .services import campaign_cancel, campaign_create, campaign_pause, campaign_send


class CampaignStatsSerializer(serializers.Serializer):
    recipients = serializers.IntegerField()
    queued = serializers.IntegerField()
    sent = serializers.IntegerField()
    delivered = serializers.IntegerField()
    failed = serializers.IntegerField()


class CampaignOutputSerializer(serializers.Serializer):
    id = serializers.UUIDField()
    name = serializers.CharField()
    message = serializers.CharField()
    sender_name = serializers.CharField()
    group_id = serializers.UUIDField()
    status = serializers.CharField()
    status_reason = serializers.CharField()
    scheduled_at = serializers.DateTimeField()
    created_at = serializers.DateTimeField()
    started_at = serializers.DateTimeField()
    finished_at = serializers.DateTimeField()
    stats = serializers.SerializerMethodField()
    estimated_credits = serializers.IntegerField()

    @extend_schema(exclude=True)
    def get_stats(self, campaign) -> dict:
        return self.context["stats"][campaign.pk]


def campaign_data(campaigns: list[Campaign]) -> list[dict]:
    stats = campaign_stats(campaign_ids=[campaign.pk for campaign in campaigns])
    return CampaignOutputSerializer(campaigns, many=True, context={"stats": stats}).data


def campaign_response(campaign: Campaign, status_code: int = status.HTTP_200_OK) -> Response:
    return Response(campaign_data([campaign])[0], status=status_code)


class CampaignListCreateApi(AccountApi):
    pagination_class = Pagination.of("campaigns")

    class CampaignCreateInputSerializer(serializers.Serializer):
        name = StrictCharField(max_length=100)
        message = StrictCharField(trim_whitespace=False)
        sender_name = StrictCharField(max_length=50)
        group_id = StrictUUIDField()
        scheduled_at = serializers.DateTimeField(required=False, allow_null=True, default=None)

    @extend_schema(operation_id="campaigns_list", responses=CampaignOutputSerializer(many=True))
    def get(self, request):
        paginator = self.pagination_class()
        page = paginator.paginate_queryset(campaign_list(account_id=self.account_id), request, view=self)
        return paginator.get_paginated_response(campaign_data(page))

    @extend_schema(
        operation_id="campaigns_create",
        request=CampaignCreateInputSerializer,
        responses={201: CampaignOutputSerializer},
    )
    def post(self, request):
        serializer = self.CampaignCreateInputSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        campaign = campaign_create(account_id=self.account_id, **serializer.validated_data)
        return campaign_response(campaign, status.HTTP_201_CREATED)


class CampaignDetailApi(AccountApi):
    @extend_schema(operation_id="campaigns_get", responses=CampaignOutputSerializer)
    def get(self, request, campaign_id):
        return campaign_response(campaign_get(account_id=self.account_id, campaign_id=campaign_id))


class CampaignMessagesApi(AccountApi):
    pagination_class = Pagination.of("messages")

    @extend_schema(operation_id="campaigns_messages", responses=MessageOutputSerializer(many=True))
    def get(self, request, campaign_id):
        campaign = campaign_get(account_id=self.account_id, campaign_id=campaign_id)
        return paginated_response(
            view=self, queryset=campaign_messages(campaign=campaign), serializer_class=MessageOutputSerializer
        )


class CampaignSendApi(AccountApi):
    @extend_schema(operation_id="campaigns_send", request=None, responses={202: CampaignOutputSerializer})
    def post(self, request, campaign_id):
        campaign = campaign_send(campaign=campaign_get(account_id=self.account_id, campaign_id=campaign_id))
        return campaign_response(campaign, status.HTTP_202_ACCEPTED)


class CampaignPauseApi(AccountApi):
    @extend_schema(operation_id="campaigns_pause", request=None, responses=CampaignOutputSerializer)
    def post(self, request, campaign_id):
        return campaign_response(
            campaign_pause(campaign=campaign_get(account_id=self.account_id, campaign_id=campaign_id))
        )


class CampaignCancelApi(AccountApi):
    @extend_schema(operation_id="campaigns_cancel", request=None, responses=CampaignOutputSerializer)
    def post(self, request, campaign_id):
        return campaign_response(
            campaign_cancel(campaign=campaign_get(account_id=self.account_id, campaign_id=campaign_id))
        )
