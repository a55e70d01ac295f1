"""A minimal asyncio ESME for the fake SMSC's tests, built on gateways.smpp.pdu (test-only: not a session)."""

import asyncio
import itertools

from gateways.smpp import pdu as smpp
from gateways.smpp.pdu import CommandId, FrameBuffer, Pdu
from gateways.smpp.text import sms_parts

TIMEOUT = 5.0


class SmppTestClient:
    """One connection: requests are matched to their answers by sequence; deliver_sm are queued and acked."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter, *, ack_deliver_sm: bool):
        self.reader, self.writer = reader, writer
        self.ack_deliver_sm = ack_deliver_sm
        self.delivered: asyncio.Queue[Pdu] = asyncio.Queue()
        self.closed = asyncio.Event()
        self._waiting: dict[int, asyncio.Future[Pdu]] = {}
        self._sequences = itertools.count(1)
        self._reading = asyncio.create_task(self._read())

    @classmethod
    async def connect(cls, port: int, *, ack_deliver_sm: bool = True) -> "SmppTestClient":
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        return cls(reader, writer, ack_deliver_sm=ack_deliver_sm)

    async def close(self) -> None:
        self.writer.close()
        self._reading.cancel()

    async def __aenter__(self) -> "SmppTestClient":
        return self

    async def __aexit__(self, *exc_info) -> None:
        await self.close()

    def send(self, command_id: int, *, tlvs: dict | None = None, **fields) -> asyncio.Future[Pdu]:
        """Send a request; the future is its answer (its *_resp or a generic_nack)."""
        sequence = next(self._sequences)
        answer = asyncio.get_running_loop().create_future()
        self._waiting[sequence] = answer
        self.writer.write(smpp.encode(Pdu(command_id, sequence, 0, fields, tlvs or {})))
        return answer

    def send_raw(self, frame: bytes, *, sequence: int) -> asyncio.Future[Pdu]:
        """Send bytes as they are (a broken PDU); the future is the answer carrying `sequence`."""
        answer = asyncio.get_running_loop().create_future()
        self._waiting[sequence] = answer
        self.writer.write(frame)
        return answer

    async def request(self, command_id: int, *, tlvs: dict | None = None, **fields) -> Pdu:
        return await asyncio.wait_for(self.send(command_id, tlvs=tlvs, **fields), TIMEOUT)

    async def bind(self, command_id: int = CommandId.BIND_TRANSCEIVER, **fields) -> Pdu:
        return await self.request(command_id, **{"system_id": "tester", "password": "secret", **fields})

    def submit_fields(
        self, destination: str, text: str, *, encoding: str = "GSM-7", reference: int = 1, **fields
    ) -> list[dict]:
        """The submit_sm fields of each part of a text, as a session would send them."""
        data_coding, parts = sms_parts(text, encoding, reference=reference)
        base = {
            "source_addr_ton": smpp.TON_ALPHANUMERIC,
            "source_addr": "MyBrand",
            "dest_addr_ton": smpp.TON_INTERNATIONAL,
            "dest_addr_npi": smpp.NPI_ISDN,
            "destination_addr": destination,
            "esm_class": smpp.ESM_UDHI if len(parts) > 1 else 0,
            "registered_delivery": 1,
            "data_coding": data_coding,
            **fields,
        }
        return [{**base, "short_message": part} for part in parts]

    async def submit(self, destination: str, text: str, **options) -> list[Pdu]:
        """Submit every part of a text; the answer of each part, in order."""
        answers = [
            self.send(CommandId.SUBMIT_SM, **fields) for fields in self.submit_fields(destination, text, **options)
        ]
        return list(await asyncio.wait_for(asyncio.gather(*answers), TIMEOUT))

    async def next_deliver_sm(self, timeout: float = TIMEOUT) -> Pdu:
        return await asyncio.wait_for(self.delivered.get(), timeout)

    async def wait_closed(self, timeout: float = TIMEOUT) -> None:
        await asyncio.wait_for(self.closed.wait(), timeout)

    async def _read(self) -> None:
        frames = FrameBuffer()
        try:
            while data := await self.reader.read(65536):
                for frame in frames.feed(data):
                    self._received(smpp.decode(frame))
        except ConnectionError:
            pass
        finally:
            self.closed.set()
            for answer in self._waiting.values():
                if not answer.done():
                    answer.set_exception(ConnectionError("The SMSC closed the connection."))

    def _received(self, pdu: Pdu) -> None:
        if pdu.command_id == CommandId.DELIVER_SM:
            self.delivered.put_nowait(pdu)
            if self.ack_deliver_sm:
                self.writer.write(smpp.encode(pdu.response()))
        elif (answer := self._waiting.pop(pdu.sequence, None)) is not None and not answer.done():
            answer.set_result(pdu)
