"""The fake SMSC over real loopback sockets, driven by a test-only ESME (no database needed)."""

import asyncio
import struct
import time

import pytest

from gateways.base import InboundSms, ReceiptStatus
from gateways.smpp import pdu as smpp
from gateways.smpp.fakesmsc import SmscConfig, run_in_thread
from gateways.smpp.pdu import CommandId, Pdu, Status, Tag
from gateways.smpp.receipts import inbound_from_pdu, normalise_id, parse_receipt_text, receipt_from_pdu

from .client_helper import SmppTestClient

UCS2_TEXT = "Hello 😀 from Harare — ça va?"
LONG_TEXT = "The quick brown fox jumps over the lazy dog; {braces} and €uros too. " * 5  # 3 GSM-7 parts


@pytest.fixture
def smsc():
    with run_in_thread(SmscConfig(port=0, receipt_delay=None)) as server:
        yield server


def run(scenario):
    return asyncio.run(asyncio.wait_for(scenario, 20))


async def bound_client(smsc, command_id: int = CommandId.BIND_TRANSCEIVER, **options) -> SmppTestClient:
    client = await SmppTestClient.connect(smsc.port, **options)
    answer = await client.bind(command_id)
    assert answer.status == Status.ESME_ROK
    return client


async def receipts_of(client: SmppTestClient, count: int) -> list[Pdu]:
    return [await client.next_deliver_sm() for _ in range(count)]


def test_bind_with_any_credentials_when_none_are_configured(smsc):
    async def scenario():
        async with await SmppTestClient.connect(smsc.port) as client:
            return await client.bind(system_id="anyone", password="anything")

    answer = run(scenario())
    assert (answer.command_id, answer.status, answer.fields["system_id"]) == (
        CommandId.BIND_TRANSCEIVER_RESP,
        Status.ESME_ROK,
        "FAKESMSC",
    )
    assert answer.tlvs == {Tag.SC_INTERFACE_VERSION: b"\x34"}
    assert smsc.stats()["binds"] == 1


@pytest.mark.parametrize(
    ("system_id", "password", "status"),
    [
        ("tester", "secret", Status.ESME_ROK),
        ("tester", "wrong", Status.ESME_RINVPASWD),
        ("someone", "secret", Status.ESME_RINVSYSID),
    ],
)
def test_bind_checks_system_id_then_password(smsc, system_id, password, status):
    smsc.configure(system_id="tester", password="secret")

    async def scenario():
        async with await SmppTestClient.connect(smsc.port) as client:
            return await client.bind(CommandId.BIND_TRANSMITTER, system_id=system_id, password=password)

    answer = run(scenario())
    assert (answer.command_id, answer.status) == (CommandId.BIND_TRANSMITTER_RESP, status)


def test_a_second_bind_on_the_same_connection_is_already_bound(smsc):
    async def scenario():
        async with await bound_client(smsc) as client:
            return await client.bind(CommandId.BIND_RECEIVER)

    assert run(scenario()).status == Status.ESME_RALYBND


def test_submit_before_bind_or_on_a_receiver_bind_is_refused(smsc):
    async def scenario():
        async with await SmppTestClient.connect(smsc.port) as client:
            unbound = await client.submit("263771234567", "hi")
        async with await bound_client(smsc, CommandId.BIND_RECEIVER) as client:
            receiver = await client.submit("263771234567", "hi")
        return unbound + receiver

    assert [answer.status for answer in run(scenario())] == [Status.ESME_RINVBNDSTS] * 2
    assert smsc.stats()["submit_sm"] == 0


def test_a_gsm7_message_arrives_with_its_addresses_and_a_hex_id(smsc):
    async def scenario():
        async with await bound_client(smsc, CommandId.BIND_TRANSMITTER) as client:
            return await client.submit("263771234567", "Hello @ £5 {ok}")

    [answer] = run(scenario())
    assert answer.status == Status.ESME_ROK
    assert answer.fields["message_id"] == answer.fields["message_id"].upper()
    int(answer.fields["message_id"], 16)
    assert smsc.messages() == [
        {
            "source": "MyBrand",
            "source_ton": smpp.TON_ALPHANUMERIC,
            "source_npi": smpp.NPI_UNKNOWN,
            "destination": "263771234567",
            "dest_ton": smpp.TON_INTERNATIONAL,
            "dest_npi": smpp.NPI_ISDN,
            "text": "Hello @ £5 {ok}",
            "data_coding": 0,
            "esm_class": 0,
            "parts": 1,
            "registered_delivery": 1,
            "part_ids": [answer.fields["message_id"]],
        }
    ]


def test_a_ucs2_message_with_an_emoji_arrives_intact(smsc):
    async def scenario():
        async with await bound_client(smsc) as client:
            return await client.submit("263771234567", UCS2_TEXT, encoding="UCS-2")

    run(scenario())
    [message] = smsc.messages()
    assert (message["text"], message["data_coding"], message["parts"]) == (UCS2_TEXT, 8, 1)


def test_a_three_part_message_is_reassembled_in_order_with_its_part_ids(smsc):
    async def scenario():
        async with await bound_client(smsc) as client:
            return await client.submit("263771234567", LONG_TEXT, reference=300)

    answers = run(scenario())
    [message] = smsc.messages()
    assert (message["text"], message["parts"], message["esm_class"]) == (LONG_TEXT, 3, smpp.ESM_UDHI)
    assert message["part_ids"] == [answer.fields["message_id"] for answer in answers]
    assert smsc.stats() | {"binds": 0} == {
        "binds": 0,
        "submit_sm": 3,
        "messages": 1,
        "receipts_sent": 0,
        "receipts_acked": 0,
        "throttled": 0,
        "rejected": 0,
    }


def test_parts_arriving_out_of_order_and_by_sar_tlvs_are_reassembled(smsc):
    async def scenario():
        async with await bound_client(smsc) as client:
            parts = client.submit_fields("263771234567", LONG_TEXT, reference=5)
            for fields in reversed(parts):
                await client.request(CommandId.SUBMIT_SM, **fields)
            for sequence, fields in enumerate(parts, start=1):
                sar = {
                    Tag.SAR_MSG_REF_NUM: b"\x01\x00",
                    Tag.SAR_TOTAL_SEGMENTS: bytes([len(parts)]),
                    Tag.SAR_SEGMENT_SEQNUM: bytes([sequence]),
                }
                # SAR instead of a UDH: the same text without its 6 header octets.
                plain = {**fields, "esm_class": 0, "short_message": fields["short_message"][6:]}
                await client.request(CommandId.SUBMIT_SM, tlvs=sar, **plain)

    run(scenario())
    assert [message["text"] for message in smsc.messages()] == [LONG_TEXT, LONG_TEXT]


def test_message_ids_increase(smsc):
    async def scenario():
        async with await bound_client(smsc) as client:
            return [(await client.submit("263771234567", f"n{n}"))[0] for n in range(5)]

    ids = [int(answer.fields["message_id"], 16) for answer in run(scenario())]
    assert ids == sorted(ids) and len(set(ids)) == 5


@pytest.mark.parametrize("receipt_id_format", ["hex", "dec"])
def test_every_part_gets_a_receipt_whose_id_normalises_to_the_answered_one(smsc, receipt_id_format):
    smsc.configure(receipt_delay=0, receipt_id_format=receipt_id_format)

    async def scenario():
        async with await bound_client(smsc) as client:
            answers = await client.submit("263771234567", LONG_TEXT)
            return answers, await receipts_of(client, 3)

    answers, delivered = run(scenario())
    receipts = [receipt_from_pdu(pdu, gateway="fake", id_format=receipt_id_format) for pdu in delivered]
    assert sorted(receipt.part_id for receipt in receipts) == sorted(
        normalise_id(answer.fields["message_id"], "hex") for answer in answers
    )
    assert {receipt.status for receipt in receipts} == {ReceiptStatus.DELIVERED}
    first = delivered[0]
    assert first.fields["esm_class"] == smpp.ESM_DELIVERY_RECEIPT
    assert (first.fields["source_addr"], first.fields["destination_addr"]) == ("263771234567", "MyBrand")
    assert (first.fields["source_addr_ton"], first.fields["dest_addr_ton"]) == (1, 5)
    fields = parse_receipt_text(first.fields["short_message"].decode("latin-1"))
    assert fields["id"] == first.tlvs[Tag.RECEIPTED_MESSAGE_ID].rstrip(b"\x00").decode()
    if receipt_id_format == "dec":
        assert fields["id"].isdigit()
    assert (fields["sub"], fields["dlvrd"], fields["stat"], fields["err"]) == ("001", "001", "DELIVRD", "000")
    assert first.tlvs[Tag.MESSAGE_STATE] == b"\x02"
    assert smsc.stats()["receipts_sent"] == 3


@pytest.mark.parametrize("digits", [10, 12])
def test_receipt_dates_have_the_configured_digits(smsc, digits):
    smsc.configure(receipt_delay=0, receipt_date_digits=digits)

    async def scenario():
        async with await bound_client(smsc) as client:
            await client.submit("263771234567", "Short and sweet")
            return await client.next_deliver_sm()

    fields = parse_receipt_text(run(scenario()).fields["short_message"].decode("latin-1"))
    assert len(fields["submit date"]) == len(fields["done date"]) == digits
    assert fields["submit date"].isdigit()
    assert fields["text"] == "Short and sweet"


def test_the_receipt_state_can_depend_on_the_destination_prefix(smsc):
    smsc.configure(receipt_delay=0, receipt_status_by_prefix={"26371": "UNDELIV", "263712": "EXPIRED"})

    async def scenario():
        async with await bound_client(smsc) as client:
            for destination in ("263771234567", "263711234567", "+263712345678"):
                await client.submit(destination, "hi")
            return await receipts_of(client, 3)

    by_destination = {
        pdu.fields["source_addr"]: receipt_from_pdu(pdu, gateway="fake", id_format="hex") for pdu in run(scenario())
    }
    assert by_destination["263771234567"].status == ReceiptStatus.DELIVERED
    assert by_destination["263711234567"].error == "Not delivered: UNDELIV (err 001)"
    assert by_destination["+263712345678"].error_code == "dlr:EXPIRED:001"


def test_no_receipt_is_sent_unless_registered_delivery_asks(smsc):
    smsc.configure(receipt_delay=0)

    async def scenario():
        async with await bound_client(smsc) as client:
            await client.submit("263771234567", "no receipt please", registered_delivery=0)
            await client.submit("263771234567", "only on failure", registered_delivery=2)
            with pytest.raises(TimeoutError):
                await client.next_deliver_sm(timeout=0.2)

    run(scenario())
    assert smsc.stats()["receipts_sent"] == 0


def test_receipts_of_a_transmitter_go_to_a_receiver_of_the_same_system_id(smsc):
    smsc.configure(receipt_delay=0.05)

    async def scenario():
        async with (
            await bound_client(smsc, CommandId.BIND_TRANSMITTER) as transmitter,
            await bound_client(smsc, CommandId.BIND_RECEIVER) as receiver,
        ):
            await transmitter.submit("263771234567", "hi")
            delivered = await receiver.next_deliver_sm()
            with pytest.raises(TimeoutError):
                await transmitter.next_deliver_sm(timeout=0.2)
            return delivered

    assert run(scenario()).fields["esm_class"] == smpp.ESM_DELIVERY_RECEIPT
    assert smsc.stats()["receipts_acked"] == 1


def test_receipts_wait_for_a_receiver_to_bind(smsc):
    smsc.configure(receipt_delay=0)

    async def scenario():
        async with await bound_client(smsc, CommandId.BIND_TRANSMITTER) as transmitter:
            await transmitter.submit("263771234567", "later")
            await asyncio.sleep(0.1)
        async with await bound_client(smsc) as transceiver:
            return await transceiver.next_deliver_sm()

    assert run(scenario()).fields["esm_class"] == smpp.ESM_DELIVERY_RECEIPT


def test_unacknowledged_receipts_are_not_counted_as_acked(smsc):
    smsc.configure(receipt_delay=0)

    async def scenario():
        async with await bound_client(smsc, ack_deliver_sm=False) as client:
            await client.submit("263771234567", "hi")
            await client.next_deliver_sm()

    run(scenario())
    assert (smsc.stats()["receipts_sent"], smsc.stats()["receipts_acked"]) == (1, 0)


def test_submits_above_the_throttle_rate_are_throttled(smsc):
    smsc.configure(throttle_tps=5)

    async def scenario():
        async with await bound_client(smsc) as client:
            # Start just after a second begins: the 20 submits then fall within one second.
            await asyncio.sleep(1.02 - time.monotonic() % 1)
            return await asyncio.gather(*(client.submit("263771234567", f"n{n}") for n in range(20)))

    statuses = [answer.status for [answer] in run(scenario())]
    assert statuses.count(Status.ESME_ROK) == 5
    assert statuses.count(Status.ESME_RTHROTTLED) == 15
    assert smsc.stats()["throttled"] == 15


def test_destinations_with_a_rejected_prefix_get_the_reject_status(smsc):
    smsc.configure(reject_prefixes=["26377"])

    async def scenario():
        async with await bound_client(smsc) as client:
            answers = [(await client.submit(destination, "hi"))[0] for destination in ("263771", "+263772", "263781")]
            smsc.configure(reject_status=Status.ESME_RSUBMITFAIL)
            answers += await client.submit("263773", "hi")
            return answers

    assert [answer.status for answer in run(scenario())] == [
        Status.ESME_RINVDSTADR,
        Status.ESME_RINVDSTADR,
        Status.ESME_ROK,
        Status.ESME_RSUBMITFAIL,
    ]
    assert [message["destination"] for message in smsc.messages()] == ["263781"]
    assert smsc.stats()["rejected"] == 3


def test_a_share_of_submits_is_rejected_the_same_way_on_every_run(smsc):
    smsc.configure(reject_share=0.3, seed=11)

    async def statuses():
        async with await bound_client(smsc) as client:
            return [answer.status for [answer] in [await client.submit("263771", str(n)) for n in range(200)]]

    first = run(statuses())
    smsc.reset()
    assert run(statuses()) == first
    assert 30 <= first.count(Status.ESME_RINVDSTADR) <= 90
    assert set(first) == {Status.ESME_ROK, Status.ESME_RINVDSTADR}
    assert smsc.stats()["rejected"] == first.count(Status.ESME_RINVDSTADR)


def test_delayed_answers_keep_their_order(smsc):
    smsc.configure(response_delay=0.05)

    async def scenario():
        async with await bound_client(smsc) as client:
            arrived = []
            started = time.monotonic()
            answers = [
                client.send(CommandId.SUBMIT_SM, **client.submit_fields("263771", f"n{n}")[0]) for n in range(30)
            ]
            for answer in answers:
                answer.add_done_callback(lambda done: arrived.append(done.result().sequence))
            await asyncio.gather(*answers)
            smsc.configure(response_delay=0)  # answers still queued keep their place
            return arrived, time.monotonic() - started, answers

    arrived, elapsed, answers = run(scenario())
    assert arrived == sorted(arrived)
    assert elapsed >= 0.05
    ids = [int(answer.result().fields["message_id"], 16) for answer in answers]
    assert ids == sorted(ids)


def test_drop_after_cuts_every_connection_leaving_that_submit_unanswered(smsc):
    smsc.configure(drop_after=3)

    async def scenario():
        async with await bound_client(smsc) as client, await bound_client(smsc) as bystander:
            submit = [client.submit_fields("263771", f"n{n}")[0] for n in range(5)]
            # The first two answered before the rest are sent: a socket closed with requests it has not read is
            # reset, and the reset may drop answers the client has not read yet either.
            results = [await client.request(CommandId.SUBMIT_SM, **fields) for fields in submit[:2]]
            answers = [client.send(CommandId.SUBMIT_SM, **fields) for fields in submit[2:]]
            results += await asyncio.gather(*answers, return_exceptions=True)
            await client.wait_closed()
            await bystander.wait_closed()
            return results

    results = run(scenario())
    assert [result.status for result in results[:2]] == [Status.ESME_ROK] * 2
    assert all(isinstance(result, ConnectionError) for result in results[2:])
    assert smsc.stats()["submit_sm"] == 3

    async def reconnect():
        async with await bound_client(smsc) as client:
            return await client.submit("263771", "after the cut")

    assert run(reconnect())[0].status == Status.ESME_ROK


def test_drop_connections_cuts_every_client(smsc):
    async def scenario():
        async with await bound_client(smsc) as first, await bound_client(smsc, CommandId.BIND_RECEIVER) as second:
            await asyncio.to_thread(smsc.drop_connections)
            await first.wait_closed()
            await second.wait_closed()

    run(scenario())


def test_an_injected_message_arrives_as_a_deliver_sm_the_platform_reads(smsc):
    async def scenario():
        async with await bound_client(smsc) as client:
            assert await asyncio.to_thread(smsc.inject_inbound, "+263771234567", "12345", "STOP")
            return await client.next_deliver_sm()

    pdu = run(scenario())
    assert (pdu.fields["esm_class"], pdu.fields["data_coding"], pdu.fields["source_addr_ton"]) == (0, 0, 1)
    assert receipt_from_pdu(pdu, gateway="fake", id_format="hex") is None
    assert inbound_from_pdu(pdu, gateway="fake") == InboundSms("fake", "263771234567", "12345", "STOP")


def test_a_long_ucs2_injected_message_arrives_in_concatenated_parts(smsc):
    text = "Сообщение 😀 " * 12

    async def scenario():
        async with await bound_client(smsc, CommandId.BIND_RECEIVER) as client:
            assert await asyncio.to_thread(smsc.inject_inbound, "263771234567", "MyBrand", text)
            first = await client.next_deliver_sm()
            parts = [first] + [
                await client.next_deliver_sm() for _ in range(inbound_from_pdu(first, gateway="g").concat[1] - 1)
            ]
            return [inbound_from_pdu(pdu, gateway="fake") for pdu in parts]

    parts = run(scenario())
    assert len(parts) == 3
    assert [part.concat[2] for part in parts] == [1, 2, 3]
    assert "".join(part.text for part in parts) == text
    assert parts[0].recipient == "MyBrand"


def test_an_injected_message_needs_a_receiver(smsc):
    async def scenario():
        async with await bound_client(smsc, CommandId.BIND_TRANSMITTER) as client:
            sent = await asyncio.to_thread(smsc.inject_inbound, "263771234567", "12345", "hello")
            with pytest.raises(TimeoutError):
                await client.next_deliver_sm(timeout=0.2)
            return sent

    assert run(scenario()) is False


def test_an_unknown_command_gets_a_generic_nack_with_its_sequence(smsc):
    async def scenario():
        async with await bound_client(smsc) as client:
            return await client.request(0x00000099, body=b"\x01\x02")

    answer = run(scenario())
    assert (answer.command_id, answer.status, answer.sequence) == (CommandId.GENERIC_NACK, Status.ESME_RINVCMDID, 2)


def test_a_malformed_pdu_gets_a_generic_nack_and_the_link_stays_up(smsc):
    async def scenario():
        async with await bound_client(smsc) as client:
            broken_submit = struct.pack(">IIII", 20, CommandId.SUBMIT_SM, 0, 1000) + b"abcd"
            nack = await asyncio.wait_for(client.send_raw(broken_submit, sequence=1000), 5)
            return nack, await client.request(CommandId.ENQUIRE_LINK)

    nack, still_up = run(scenario())
    assert (nack.command_id, nack.status, nack.sequence) == (CommandId.GENERIC_NACK, Status.ESME_RINVCMDLEN, 1000)
    assert still_up.command_id == CommandId.ENQUIRE_LINK_RESP


def test_broken_framing_gets_a_generic_nack_and_the_connection_is_closed(smsc):
    async def scenario():
        async with await bound_client(smsc) as client:
            too_short = struct.pack(">IIII", 8, CommandId.ENQUIRE_LINK, 0, 1000)
            nack = await asyncio.wait_for(client.send_raw(too_short, sequence=1000), 5)
            await client.wait_closed()
            return nack

    nack = run(scenario())
    assert (nack.command_id, nack.status, nack.sequence) == (CommandId.GENERIC_NACK, Status.ESME_RINVCMDLEN, 1000)


def test_enquire_link_is_answered_unless_the_link_plays_dead(smsc):
    async def scenario():
        async with await SmppTestClient.connect(smsc.port) as client:
            answer = await client.request(CommandId.ENQUIRE_LINK)
            smsc.configure(answer_enquire_link=False)
            with pytest.raises(TimeoutError):
                await asyncio.wait_for(client.send(CommandId.ENQUIRE_LINK), 0.3)
            return answer

    assert run(scenario()).command_id == CommandId.ENQUIRE_LINK_RESP


def test_unbind_is_answered_then_the_connection_closes(smsc):
    async def scenario():
        async with await bound_client(smsc) as client:
            answer = await client.request(CommandId.UNBIND)
            await client.wait_closed()
            return answer

    answer = run(scenario())
    assert (answer.command_id, answer.status) == (CommandId.UNBIND_RESP, Status.ESME_ROK)


def test_unbind_before_bind_is_refused(smsc):
    async def scenario():
        async with await SmppTestClient.connect(smsc.port) as client:
            return await client.request(CommandId.UNBIND)

    assert run(scenario()).status == Status.ESME_RINVBNDSTS


def test_reset_forgets_messages_and_statistics(smsc):
    async def scenario():
        async with await bound_client(smsc) as client:
            await client.submit("263771234567", "hi")

    run(scenario())
    smsc.reset()
    assert smsc.messages() == []
    assert set(smsc.stats().values()) == {0}


@pytest.mark.parametrize(
    ("changes", "error"),
    [
        ({"port": 1}, ValueError),
        ({"receipt_id_format": "oct"}, ValueError),
        ({"receipt_date_digits": 8}, ValueError),
        ({"reject_share": 1.5}, ValueError),
        ({"receipt_status": "GONE"}, ValueError),
        ({"receipt_status_by_prefix": {"1": "GONE"}}, ValueError),
        ({"throttle_tps": -1}, ValueError),
        ({"no_such_field": 1}, TypeError),
    ],
)
def test_a_bad_configuration_change_is_refused_and_changes_nothing(smsc, changes, error):
    before = smsc.config
    with pytest.raises(error):
        smsc.configure(**changes)
    assert smsc.config == before
