"""The message queue on this machine: moto's SQS and what AWS runs around it.

A `ThreadedMotoServer` on a loopback port holds the queue and its dead-letter queue, with the same
redrive policy as the cloud (`maxReceiveCount`: WATERREV_MESSAGE_MAX_RECEIVES, default 5). Our code
reaches it through `WATERREV_SQS_ENDPOINT_URL`. What the cloud's Lambda event source mapping and the
relay schedule do, the pump does: relay due messages from the outbox, receive batches and hand them, as
SQS events, to the same consumer handler (`functions/msg_consumer`), delete what it did not report
failed (moto ignores batchItemFailures, so this is ours to do, exactly as the event source mapping
does), and sweep the dead-letter queue. Tests call the steps one by one; `make run` runs them on a
thread (`start_pump`).
"""

from __future__ import annotations

import json
import logging
import os
import threading
import time
from typing import Any

from waterrev.context import SYSTEM, RequestContext
from waterrev.local.gateway import FakeLambdaContext, load_handler
from waterrev.logs import get_logger

REGION = "us-east-1"
QUEUE = "waterrev-local-messages"
DLQ = "waterrev-local-messages-dlq"
CONSUMER = "msg_consumer"


class LocalMessaging:
    def __init__(self, *, max_receives: int | None = None, visibility_s: int = 30) -> None:
        import boto3
        from moto.server import ThreadedMotoServer

        logging.getLogger("werkzeug").setLevel(logging.WARNING)
        self._server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
        self._server.start()
        host, port = self._server.get_host_and_port()
        self.endpoint_url = f"http://{host}:{port}"
        self.max_receives = int(max_receives or os.environ.get("WATERREV_MESSAGE_MAX_RECEIVES") or 5)
        self.sqs: Any = boto3.client(
            "sqs",
            endpoint_url=self.endpoint_url,
            region_name=REGION,
            aws_access_key_id="local",
            aws_secret_access_key="local",
        )
        self.dlq_url = self.sqs.create_queue(QueueName=DLQ)["QueueUrl"]
        dlq_arn = self.sqs.get_queue_attributes(QueueUrl=self.dlq_url, AttributeNames=["QueueArn"])[
            "Attributes"
        ]["QueueArn"]
        self.queue_url = self.sqs.create_queue(
            QueueName=QUEUE,
            Attributes={
                "VisibilityTimeout": str(visibility_s),
                "RedrivePolicy": json.dumps(
                    {"deadLetterTargetArn": dlq_arn, "maxReceiveCount": str(self.max_receives)}
                ),
            },
        )["QueueUrl"]
        self.queue_arn = self.sqs.get_queue_attributes(QueueUrl=self.queue_url, AttributeNames=["QueueArn"])[
            "Attributes"
        ]["QueueArn"]
        self._stop = threading.Event()
        self._pump: threading.Thread | None = None
        self.point_here()

    def point_here(self) -> None:
        """Our settings and SQS client use this queue."""
        from waterrev.adapters import queue
        from waterrev.settings import reset_settings

        os.environ.update(
            WATERREV_MESSAGE_QUEUE_URL=self.queue_url,
            WATERREV_MESSAGE_DLQ_URL=self.dlq_url,
            WATERREV_SQS_ENDPOINT_URL=self.endpoint_url,
            WATERREV_MESSAGE_MAX_RECEIVES=str(self.max_receives),
        )
        reset_settings()
        queue.reset()

    # ---------------------------------------------------------------- the steps
    def relay(self) -> int:
        from waterrev.notifications import relay

        sent = 0
        while True:
            n = relay.relay_once()
            sent += n
            if n < relay.BATCH:
                return sent

    def consume_once(self, wait_s: int = 0, max_messages: int = 10) -> int:
        """One batch as the event source mapping would hand it over: receive, invoke the consumer,
        delete what it did not report failed. How many copies the batch held."""
        messages = self.sqs.receive_message(
            QueueUrl=self.queue_url,
            MaxNumberOfMessages=max_messages,
            WaitTimeSeconds=wait_s,
            MessageSystemAttributeNames=["All"],
        ).get("Messages", [])
        if not messages:
            return 0
        event = {"Records": [self.record(m) for m in messages]}
        result = load_handler(CONSUMER).handler(event, FakeLambdaContext(CONSUMER))
        failed = {f["itemIdentifier"] for f in result.get("batchItemFailures", [])}
        done = [m["ReceiptHandle"] for m in messages if m["MessageId"] not in failed]
        for start in range(0, len(done), 10):
            self.sqs.delete_message_batch(
                QueueUrl=self.queue_url,
                Entries=[{"Id": str(n), "ReceiptHandle": h} for n, h in enumerate(done[start : start + 10])],
            )
        return len(messages)

    def record(self, message: dict[str, Any]) -> dict[str, Any]:
        """An SQS message as Lambda's SQS event carries it."""
        attributes = message.get("Attributes", {})
        return {
            "messageId": message["MessageId"],
            "receiptHandle": message["ReceiptHandle"],
            "body": message["Body"],
            "attributes": {
                "ApproximateReceiveCount": attributes.get("ApproximateReceiveCount", "1"),
                "SentTimestamp": attributes.get("SentTimestamp", "0"),
                "SenderId": attributes.get("SenderId", "local"),
                "ApproximateFirstReceiveTimestamp": attributes.get("ApproximateFirstReceiveTimestamp", "0"),
            },
            "messageAttributes": {},
            "md5OfBody": message.get("MD5OfBody", ""),
            "eventSource": "aws:sqs",
            "eventSourceARN": self.queue_arn,
            "awsRegion": REGION,
        }

    def sweep(self) -> dict[str, int]:
        from waterrev.notifications import relay

        return relay.sweep_dead_letters(RequestContext(request_id="local-sweep", principal=SYSTEM), hide_s=0)

    def drain(self, rounds: int = 50) -> int:
        """Relay and consume until neither finds anything (copies waiting out a backoff are left)."""
        handled = 0
        for _ in range(rounds):
            moved = self.relay() + self.consume_once()
            handled += moved
            if not moved:
                break
        return handled

    def depth(self, queue_url: str | None = None) -> int:
        attributes = self.sqs.get_queue_attributes(
            QueueUrl=queue_url or self.queue_url,
            AttributeNames=["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"],
        )["Attributes"]
        return int(attributes["ApproximateNumberOfMessages"]) + int(
            attributes["ApproximateNumberOfMessagesNotVisible"]
        )

    def purge(self) -> None:
        """Delete every visible copy in both queues (PurgeQueue is allowed once a minute)."""
        for url in (self.queue_url, self.dlq_url):
            while messages := self.sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10).get("Messages"):
                self.sqs.delete_message_batch(
                    QueueUrl=url,
                    Entries=[
                        {"Id": str(n), "ReceiptHandle": m["ReceiptHandle"]} for n, m in enumerate(messages)
                    ],
                )

    # ---------------------------------------------------------------- make run
    def start_pump(self, sweep_every_s: float = 30.0) -> threading.Thread:
        """Relay, consume and sweep on a thread, as the schedule and the event source mapping would."""

        def loop() -> None:
            last_sweep = 0.0
            while not self._stop.is_set():
                try:
                    moved = self.relay() + self.consume_once(wait_s=1)
                    if time.monotonic() - last_sweep > sweep_every_s:
                        self.sweep()
                        last_sweep = time.monotonic()
                except Exception:  # keep pumping: a bad moment of the database or the simulator passes
                    get_logger().exception("local message pump")
                    moved = 0
                    self._stop.wait(1.0)
                if not moved:
                    self._stop.wait(0.2)

        self._pump = threading.Thread(target=loop, name="local-message-pump", daemon=True)
        self._pump.start()
        return self._pump

    def stop(self) -> None:
        self._stop.set()
        if self._pump is not None:
            self._pump.join(timeout=5)
        self._server.stop()


def start(**kwargs: Any) -> LocalMessaging:
    return LocalMessaging(**kwargs)
