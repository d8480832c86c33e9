"""The message pipeline's AWS side: the queue and its dead-letter queue, the consumer's event source,
the relay's rights, the SQS endpoint the isolated functions reach the queue through, and the alarms.

The functions themselves come from the one factory (the Workflows construct builds every task function);
this construct wires them: the consumer (`msg_consumer`) reads the queue with ReportBatchItemFailures and
a bounded concurrency, the relay (`job_message_relay`) sends to the queue and sweeps the dead-letter
queue. A message whose deliveries keep failing is moved to the dead-letter queue after MAX_RECEIVES
receives, where it stays (an alarm) until a person replays or dismisses it (IF-REV-013's dead-letter
routes; the relay's sweep then deletes the stale copy).
"""

from __future__ import annotations

from aws_cdk import Duration
from aws_cdk import aws_cloudwatch as cloudwatch
from aws_cdk import aws_ec2 as ec2
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_lambda_event_sources as sources
from aws_cdk import aws_sns as sns
from aws_cdk import aws_sqs as sqs
from constructs import Construct

from infra.constructs.function_factory import FunctionSettings
from infra.constructs.monitoring import alarm_to
from infra.nag import acknowledge

MAX_RECEIVES = 5  # the consumer's last attempt marks the message DEAD (WATERREV_MESSAGE_MAX_RECEIVES)
BATCH_SIZE = 25
BATCHING_WINDOW_S = 1
MAX_CONCURRENCY = 5  # consumers at once: SYS-010 and the database see at most this many batches
OLDEST_MESSAGE_ALARM_S = 900  # a message waiting this long means delivery is stuck
QUEUE_URL_ENV = "WATERREV_MESSAGE_QUEUE_URL"
DLQ_URL_ENV = "WATERREV_MESSAGE_DLQ_URL"
MAX_RECEIVES_ENV = "WATERREV_MESSAGE_MAX_RECEIVES"
CALLBACK_URL_ENV = "WATERREV_SYS010_CALLBACK_URL"


class Messaging(Construct):
    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        env_name: str,
        function_settings: FunctionSettings,
        consumer: lambda_.Function,
        relay: lambda_.Function,
        callback_url: str,
    ) -> None:
        super().__init__(scope, construct_id)
        self.dead_letters = sqs.Queue(
            self,
            "DeadLetters",
            queue_name=f"waterrev-{env_name}-messages-dlq",
            encryption=sqs.QueueEncryption.SQS_MANAGED,
            enforce_ssl=True,
            retention_period=Duration.days(14),
        )
        acknowledge(
            self.dead_letters,
            "AwsSolutions-SQS3",
            "This queue is itself the dead-letter queue of the message queue: a message lands here after "
            "its deliveries to SYS-010 failed MAX_RECEIVES times, and waits for a person's replay.",
        )
        self.queue = sqs.Queue(
            self,
            "Queue",
            queue_name=f"waterrev-{env_name}-messages",
            encryption=sqs.QueueEncryption.SQS_MANAGED,
            enforce_ssl=True,
            retention_period=Duration.days(14),
            # AWS's advice for a Lambda event source: at least six times the function's timeout
            visibility_timeout=Duration.seconds(
                6 * int(consumer.timeout.to_seconds()) if consumer.timeout else 360
            ),
            dead_letter_queue=sqs.DeadLetterQueue(max_receive_count=MAX_RECEIVES, queue=self.dead_letters),
        )

        consumer.add_event_source(
            sources.SqsEventSource(
                self.queue,
                batch_size=BATCH_SIZE,
                max_batching_window=Duration.seconds(BATCHING_WINDOW_S),
                report_batch_item_failures=True,
                max_concurrency=MAX_CONCURRENCY,
            )
        )  # grants the consumer receive, delete and change-visibility on this queue only
        for name, value in (
            (QUEUE_URL_ENV, self.queue.queue_url),
            (MAX_RECEIVES_ENV, str(MAX_RECEIVES)),
            (CALLBACK_URL_ENV, callback_url),
        ):
            consumer.add_environment(name, value)

        self.queue.grant_send_messages(relay)
        self.dead_letters.grant_consume_messages(relay)  # the sweep reads it and deletes stale copies
        relay.add_environment(QUEUE_URL_ENV, self.queue.queue_url)
        relay.add_environment(DLQ_URL_ENV, self.dead_letters.queue_url)
        self.endpoint = self._sqs_endpoint(function_settings)

    def _sqs_endpoint(self, settings: FunctionSettings) -> ec2.InterfaceVpcEndpoint:
        """The relay lives in the isolated subnets: it reaches SQS through an interface endpoint (private
        DNS, so the consumer in the egress subnets uses it too) open to the functions' group only."""
        endpoint_sg = ec2.SecurityGroup(
            self,
            "SqsEndpointSg",
            vpc=settings.vpc,
            description="SQS endpoint: in over HTTPS from the functions",
            allow_all_outbound=False,
        )
        endpoint = ec2.InterfaceVpcEndpoint(
            self,
            "SqsEndpoint",
            vpc=settings.vpc,
            service=ec2.InterfaceVpcEndpointAwsService.SQS,
            subnets=settings.subnets,
            security_groups=[endpoint_sg],
            private_dns_enabled=True,
            open=False,
        )
        endpoint.connections.allow_default_port_from(
            settings.security_group, "functions use the message queue"
        )
        return endpoint

    def alarm_to(self, topic: sns.ITopic) -> dict[str, cloudwatch.Alarm]:
        """A message in the dead-letter queue (a person must replay it), and a message that has waited
        too long on the queue (delivery is stuck: SYS-010 down, the consumer failing)."""
        return {
            "DeadLetters": alarm_to(
                self,
                "DeadLettersVisible",
                topic,
                metric=self.dead_letters.metric_approximate_number_of_messages_visible(
                    period=Duration.minutes(5), statistic="Maximum"
                ),
                description="Messages could not be delivered to SYS-010: replay them under IF-REV-013.",
                anchor="message-dead-letters",
            ),
            "OldestMessage": alarm_to(
                self,
                "OldestMessageAge",
                topic,
                metric=self.queue.metric_approximate_age_of_oldest_message(
                    period=Duration.minutes(5), statistic="Maximum"
                ),
                threshold=OLDEST_MESSAGE_ALARM_S,
                description="A message has waited on the queue for 15 minutes: delivery to SYS-010 is stuck.",
                anchor="message-queue-age",
            ),
        }
