from django.urls import path

from . import apis, inbox_apis

urlpatterns = [
    path("send/", apis.MessageSendApi.as_view(), name="sms-send"),
    path("quote/", apis.QuoteApi.as_view(), name="sms-quote"),
    path("history/", apis.HistoryApi.as_view(), name="sms-history"),
    path("messages/", apis.MessageListApi.as_view(), name="sms-messages"),
    path("messages/<uuid:message_id>/", apis.MessageDetailApi.as_view(), name="sms-message"),
    path("senders/", apis.SenderListCreateApi.as_view(), name="sms-senders"),
    path("testers/", apis.TesterListApi.as_view(), name="sms-testers"),
    path("inbox/", inbox_apis.InboxApi.as_view(), name="sms-inbox"),
]
