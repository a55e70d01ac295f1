from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiExample, OpenApiParameter, extend_schema, inline_serializer
from rest_framework import serializers
from rest_framework.response import Response

from smsplatform.api.views import AccountApi

from .filters import GROUP_BY, MAX_DAYS, usage_query_parse
from .selectors import usage_report

COUNTS_EXAMPLE = {
    "messages": {"total": 120, "queued": 0, "sent": 4, "delivered": 110, "undelivered": 4, "failed": 2},
    "segments": 131,
    "credits_charged": 131,
    "credits_refunded": 2,
    "credits_spent": 129,
    "delivery_rate": 0.9649,
}
USAGE_EXAMPLE = {
    "from": "2026-11-23",
    "to": "2026-11-24",
    "group_by": "day",
    "time_zone": "UTC",
    "totals": COUNTS_EXAMPLE,
    "groups": [
        {
            "day": "2026-11-23",
            "messages": {"total": 0, "queued": 0, "sent": 0, "delivered": 0, "undelivered": 0, "failed": 0},
            "segments": 0,
            "credits_charged": 0,
            "credits_refunded": 0,
            "credits_spent": 0,
            "delivery_rate": None,
        },
        {"day": "2026-11-24", **COUNTS_EXAMPLE},
    ],
}


class UsageMessagesSerializer(serializers.Serializer):
    total = serializers.IntegerField()
    queued = serializers.IntegerField()
    sent = serializers.IntegerField(help_text="Taken by a gateway, no final receipt yet.")
    delivered = serializers.IntegerField()
    undelivered = serializers.IntegerField()
    failed = serializers.IntegerField(help_text="Rejected, out of attempts or cancelled: refunded.")


class UsageCountsSerializer(serializers.Serializer):
    messages = UsageMessagesSerializer(help_text="Messages created in the group, by the status each has now.")
    segments = serializers.IntegerField()
    credits_charged = serializers.IntegerField(help_text="Charged when the messages were created.")
    credits_refunded = serializers.IntegerField(help_text="Given back for those that failed.")
    credits_spent = serializers.IntegerField(help_text="Charged minus refunded.")
    delivery_rate = serializers.FloatField(
        allow_null=True,
        help_text="delivered ÷ (delivered + undelivered), 4 places; null while none has a final receipt.",
    )


class UsageGroupSerializer(UsageCountsSerializer):
    day = serializers.DateField(required=False, help_text="With `group_by=day`.")
    sender = serializers.CharField(required=False, help_text="With `group_by=sender`.")
    campaign_id = serializers.UUIDField(
        required=False, allow_null=True, help_text="With `group_by=campaign`; null: messages sent on their own."
    )
    campaign_name = serializers.CharField(required=False, allow_null=True, help_text="With `group_by=campaign`.")


class UsageReportApi(AccountApi):
    @extend_schema(
        operation_id="reports_usage",
        summary="Usage report",
        description="The account's messages created from `from` to `to` (UTC days, both included), grouped by "
        "day, sender or campaign: how many in each status now, segments, credits charged, refunded and spent, and "
        f"the delivery rate; and the totals of the range. At most {MAX_DAYS} days. Exact at any moment: "
        "receipts and refunds count as soon as they are recorded, whichever day their message was sent.",
        parameters=[
            OpenApiParameter("from", OpenApiTypes.DATE, description="The first day; by default 29 days before `to`."),
            OpenApiParameter("to", OpenApiTypes.DATE, description="The last day; by default today (UTC)."),
            OpenApiParameter(
                "group_by", enum=list(GROUP_BY), description="`day` (the default), `sender` or `campaign`."
            ),
        ],
        responses=inline_serializer(
            "UsageReport",
            {
                "from": serializers.DateField(),
                "to": serializers.DateField(),
                "group_by": serializers.ChoiceField(choices=GROUP_BY),
                "time_zone": serializers.CharField(help_text="The zone of the days: UTC."),
                "totals": UsageCountsSerializer(help_text="The whole range."),
                "groups": UsageGroupSerializer(many=True),
            },
        ),
        examples=[OpenApiExample("By day", value=USAGE_EXAMPLE, response_only=True)],
    )
    def get(self, request):
        query = usage_query_parse(request.query_params)
        return Response(usage_report(account_id=self.account_id, query=query))
