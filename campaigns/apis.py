from drf_spectacular.utils import OpenApiExample, extend_schema, extend_schema_field
from rest_framework import serializers, status
from rest_framework.response import Response

from contacts.apis import GROUP_ID_EXAMPLE
from messaging.apis import MESSAGE_EXAMPLE, MessageOutputSerializer
from smsplatform.api.fields import StrictCharField, StrictUUIDField
from smsplatform.api.pagination import Pagination, paginated_response
from smsplatform.api.schema import error_response
from smsplatform.api.views import AccountApi

from .models import Campaign
from .selectors import campaign_get, campaign_list, campaign_messages, campaign_preparation_of, campaign_stats
from .services import campaign_cancel, campaign_create, campaign_pause, campaign_send

CAMPAIGN_INPUT_EXAMPLE = {
    "name": "March Promo",
    "message": "Hi {name}, enjoy 20% off this week!",
    "sender_name": "MyBrand",
    "group_id": GROUP_ID_EXAMPLE,
}
CAMPAIGN_ID_EXAMPLE = "d4e5f6a7-b8c9-4d0e-9f1a-2b3c4d5e6f7a"
CAMPAIGN_EXAMPLE = {
    "id": CAMPAIGN_ID_EXAMPLE,
    **CAMPAIGN_INPUT_EXAMPLE,
    "status": "draft",
    "status_reason": "",
    "scheduled_at": None,
    "created_at": "2026-11-24T14:16:30Z",
    "started_at": None,
    "finished_at": None,
    "stats": {"recipients": 0, "queued": 0, "sent": 0, "delivered": 0, "failed": 0},
    "estimated_credits": 250,
    "preparation": {"preparing": False, "prepared": 0, "expected": 250},
}
SENDING_EXAMPLE = CAMPAIGN_EXAMPLE | {
    "status": "sending",
    "started_at": "2026-11-24T14:20:00Z",
    "stats": {"recipients": 250, "queued": 250, "sent": 0, "delivered": 0, "failed": 0},
    "preparation": {"preparing": False, "prepared": 250, "expected": 250},
}
PREPARING_EXAMPLE = SENDING_EXAMPLE | {
    "estimated_credits": 100000,
    "stats": {"recipients": 41000, "queued": 38500, "sent": 2500, "delivered": 0, "failed": 0},
    "preparation": {"preparing": True, "prepared": 41000, "expected": 100000},
}
INVALID_STATE = error_response("The campaign's status does not allow this (`invalid_state`).")


class CampaignStatsSerializer(serializers.Serializer):
    recipients = serializers.IntegerField(help_text="Messages written so far: one per recipient once prepared.")
    queued = serializers.IntegerField()
    sent = serializers.IntegerField(help_text="Every message a gateway took, also those since delivered or not.")
    delivered = serializers.IntegerField()
    failed = serializers.IntegerField(help_text="Rejected, out of attempts, or cancelled.")


class CampaignPreparationSerializer(serializers.Serializer):
    preparing = serializers.BooleanField(
        help_text="Its messages are still being written: from send/ until every recipient has one (paused "
        "meanwhile too). The status stays `sending` (or `scheduled`); batches send those written already."
    )
    prepared = serializers.IntegerField(help_text="Messages written so far: `stats.recipients`.")
    expected = serializers.IntegerField(
        help_text="Recipients counted when it was sent (when created, for a draft), at least `prepared`; "
        "`prepared` once every message is written."
    )


class CampaignOutputSerializer(serializers.Serializer):
    id = serializers.UUIDField()
    name = serializers.CharField()
    message = serializers.CharField()
    sender_name = serializers.CharField()
    group_id = serializers.UUIDField(allow_null=True, help_text="Null once the group is deleted.")
    status = serializers.ChoiceField(choices=Campaign.Status.choices)
    status_reason = serializers.CharField(help_text="Why the platform paused it; empty otherwise.")
    scheduled_at = serializers.DateTimeField(allow_null=True)
    created_at = serializers.DateTimeField()
    started_at = serializers.DateTimeField(allow_null=True)
    finished_at = serializers.DateTimeField(allow_null=True)
    stats = serializers.SerializerMethodField()
    estimated_credits = serializers.IntegerField(
        help_text="The group's cost when created; once sent, what is reserved for it (its messages' credits and "
        "those of the recipients not prepared yet); once prepared, its messages' credits."
    )
    preparation = serializers.SerializerMethodField()

    @extend_schema_field(CampaignStatsSerializer)
    def get_stats(self, campaign) -> dict:
        return self.context["stats"][campaign.pk]

    @extend_schema_field(CampaignPreparationSerializer)
    def get_preparation(self, campaign) -> dict:
        return campaign_preparation_of(campaign, self.context["stats"][campaign.pk])


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
        callback_url = StrictCharField(
            required=False,
            allow_blank=True,
            max_length=2000,
            help_text="Where the status events of the campaign's messages go, instead of the account's webhook.",
        )

    @extend_schema(
        operation_id="campaigns_list",
        summary="List campaigns",
        description="The account's campaigns, newest first, paginated, with live stats.",
        responses=CampaignOutputSerializer(many=True),
        examples=[OpenApiExample("Campaign", value=SENDING_EXAMPLE, response_only=True)],
    )
    def get(self, request):
        paginator = self.pagination_class()
        page = paginator.paginate_queryset(campaign_list(account_id=self.account_id), request, view=self)
        return paginator.get_paginated_response(campaign_data(page))

    @extend_schema(
        operation_id="campaigns_create",
        summary="Create a campaign",
        description="A `draft` to the group's members who have not opted out. `message` may use `{name}` (the first "
        "name), `{first_name}`, `{last_name}` and `{phone}`; `{{` and `}}` are literal braces. `group_id` must be a "
        "group of the account (400 otherwise).",
        request=CampaignCreateInputSerializer,
        responses={
            201: CampaignOutputSerializer,
            403: error_response("`sender_name` is not an approved sender ID of the account (`sender_not_approved`)."),
        },
        examples=[
            OpenApiExample("March Promo", value=CAMPAIGN_INPUT_EXAMPLE, request_only=True),
            OpenApiExample("Draft", value=CAMPAIGN_EXAMPLE, response_only=True, status_codes=["201"]),
        ],
    )
    def post(self, request):
        serializer = self.CampaignCreateInputSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        campaign = campaign_create(account_id=self.account_id, **serializer.validated_data)
        return campaign_response(campaign, status.HTTP_201_CREATED)


class CampaignDetailApi(AccountApi):
    @extend_schema(
        operation_id="campaigns_get",
        summary="Get a campaign",
        description="One campaign of the account, with live stats and how far its messages are prepared.",
        responses=CampaignOutputSerializer,
        examples=[
            OpenApiExample("Sending", value=SENDING_EXAMPLE, response_only=True),
            OpenApiExample("Preparing", value=PREPARING_EXAMPLE, response_only=True),
        ],
    )
    def get(self, request, campaign_id):
        return campaign_response(campaign_get(account_id=self.account_id, campaign_id=campaign_id))


class CampaignMessagesApi(AccountApi):
    pagination_class = Pagination.of("messages")

    @extend_schema(
        operation_id="campaigns_messages",
        summary="List a campaign's messages",
        description="Every message of the campaign with its recipient and status, paginated.",
        responses=MessageOutputSerializer(many=True),
        examples=[
            OpenApiExample(
                "Message",
                value=MESSAGE_EXAMPLE
                | {"message": "Hi John, enjoy 20% off this week!", "campaign_id": CAMPAIGN_ID_EXAMPLE},
                response_only=True,
            )
        ],
    )
    def get(self, request, campaign_id):
        campaign = campaign_get(account_id=self.account_id, campaign_id=campaign_id)
        return paginated_response(
            view=self, queryset=campaign_messages(campaign=campaign), serializer_class=MessageOutputSerializer
        )


class CampaignSendApi(AccountApi):
    @extend_schema(
        operation_id="campaigns_send",
        summary="Send a campaign",
        description="Reserves every recipient's credits (estimated exactly from the group as it is now) and answers at "
        "once, whatever the group's size: `sending`, or `scheduled` until `scheduled_at`. The messages are prepared "
        "(written, queued) a chunk at a time, the first one in this request, and sent as they are: `preparation` "
        "shows how far. Resumes a `paused` campaign, reserving first what an unfinished preparation still needs.",
        request=None,
        responses={
            202: CampaignOutputSerializer,
            400: error_response("A personalised message would be over 10 segments (`invalid`, `fields.message`)."),
            402: error_response("The balance cannot pay for the recipients (`insufficient_credits`); nothing is sent."),
            403: error_response("The sender ID is no longer approved (`sender_not_approved`)."),
            409: INVALID_STATE,
        },
        examples=[OpenApiExample("Sending", value=SENDING_EXAMPLE, response_only=True, status_codes=["202"])],
    )
    def post(self, request, campaign_id):
        campaign = campaign_send(campaign=campaign_get(account_id=self.account_id, campaign_id=campaign_id))
        return campaign_response(campaign, status.HTTP_202_ACCEPTED)


class CampaignPauseApi(AccountApi):
    @extend_schema(
        operation_id="campaigns_pause",
        summary="Pause a campaign",
        description="A `sending` campaign becomes `paused`: no further message leaves until it is sent again.",
        request=None,
        responses={200: CampaignOutputSerializer, 409: INVALID_STATE},
        examples=[
            OpenApiExample("Paused", value=SENDING_EXAMPLE | {"status": "paused"}, response_only=True),
            OpenApiExample(
                "Completed",
                value={"error": "A completed campaign cannot be paused.", "code": "invalid_state"},
                response_only=True,
                status_codes=["409"],
            ),
        ],
    )
    def post(self, request, campaign_id):
        return campaign_response(
            campaign_pause(campaign=campaign_get(account_id=self.account_id, campaign_id=campaign_id))
        )


class CampaignCancelApi(AccountApi):
    @extend_schema(
        operation_id="campaigns_cancel",
        summary="Cancel a campaign",
        description="No further message leaves, ever: queued messages fail and their credits are refunded.",
        request=None,
        responses={200: CampaignOutputSerializer, 409: INVALID_STATE},
        examples=[
            OpenApiExample(
                "Cancelled",
                value=SENDING_EXAMPLE
                | {
                    "status": "cancelled",
                    "finished_at": "2026-11-24T14:21:00Z",
                    "stats": {"recipients": 250, "queued": 0, "sent": 120, "delivered": 98, "failed": 130},
                },
                response_only=True,
            )
        ],
    )
    def post(self, request, campaign_id):
        return campaign_response(
            campaign_cancel(campaign=campaign_get(account_id=self.account_id, campaign_id=campaign_id))
        )
