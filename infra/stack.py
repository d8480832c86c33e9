"""The waterrev stack: composes the constructs and nothing else."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from aws_cdk import CfnOutput, Stack, Tags
from constructs import Construct

from infra.assets import SourcePaths
from infra.constructs.api import Api
from infra.constructs.attachments import Attachments
from infra.constructs.banking import SEALING_INTERFACES, SEALING_TASKS, SFTP_INTERFACES, SFTP_TASKS, Banking
from infra.constructs.data import Data
from infra.constructs.documents import Documents
from infra.constructs.export_files import ExportFiles
from infra.constructs.function_factory import FunctionSettings, InterfaceSpec, TaskSpec
from infra.constructs.invoice_files import InvoiceFiles
from infra.constructs.layers import Layers
from infra.constructs.messaging import Messaging
from infra.constructs.migrations import MIGRATE_TASK, Migrations
from infra.constructs.monitoring import Monitoring
from infra.constructs.recon_files import ReconFiles
from infra.constructs.schedules import Schedules
from infra.constructs.secrets import (
    BANK_SFTP_INTERFACES,
    EGRESS_TASKS,
    ESIGN_CALLER_INTERFACES,
    SYS008_CALLER_INTERFACES,
    SYS008_CALLER_TASKS,
    SYS009_CALLER_INTERFACES,
    AppSecrets,
)
from infra.constructs.workflows import Workflows

# The interfaces that start bill runs (IF-REV-005: POST /admin-api/revenue/charge/bill-run).
BILL_RUN_STARTERS = ("IF-REV-005",)
# The interfaces that start withholding batches and resume those waiting for their return (IF-REV-011's
# batch, cancel and return routes; IF-EXT-002's receipt).
WITHHOLDING_STARTERS = ("IF-REV-011", "IF-EXT-002")
# SYS-009 notifies payment results to IF-EXT-005's route; the interfaces that create orders there
# (the SYS-009 callers) send its URL as notifyUrl.
SYS009_NOTIFY_INTERFACE = "IF-EXT-005"
SYS009_NOTIFY_URL_ENV = "WATERREV_SYS009_NOTIFY_URL"
SYS009_NOTIFY_PATH = "/open-api/pay/notify"  # the refund results go beside it: /open-api/pay/refund-notify
# SYS-008 writes results back to IF-EXT-007's route; the interfaces and the task that send applications
# (and resend them) give its URL as notifyUrl.
SYS008_WRITEBACK_INTERFACE = "IF-EXT-007"
SYS008_NOTIFY_URL_ENV = "WATERREV_SYS008_NOTIFY_URL"
# Invoice files: written by the functions that copy an issued invoice's file from SYS-008, read (presigned
# links) by the customer's invoices (IF-CS-004) and bill history (IF-CS-002).
INVOICE_FILE_WRITERS = ("IF-REV-008", "IF-REV-009", "IF-EXT-007")
INVOICE_FILE_READERS = ("IF-CS-004", "IF-CS-002")
# The service desk presigns attachment uploads and reads them back (IF-CS-006).
ATTACHMENT_USERS = ("IF-CS-006",)
# Connection applications: the e-signature service calls back IF-INST-004's route, which IF-INST-003 sends
# as notifyUrl; the documents bucket is read and written by the IF-INST functions only.
ESIGN_CALLBACK_INTERFACE = "IF-INST-004"
ESIGN_NOTIFY_URL_ENV = "WATERREV_ESIGN_NOTIFY_URL"
DOCUMENT_WRITERS = ("IF-INST-001", "IF-INST-003", "IF-INST-004")  # presigned PUTs, contracts, signed copies
DOCUMENT_READERS = ("IF-INST-002", "IF-INST-005")  # digests checked on survey and archive
# The statistics exports (IF-REV-010): written and presigned by the statistics function only.
EXPORT_FILE_WRITERS = ("IF-REV-010",)
STAT_FOLD_SCHEDULE = "job_stat_fold"  # folds the statistics summaries every 10 minutes
# SYS-010 calls its delivery results back to IF-REV-013's webhook route (IF-EXT-008 回传执行结果).
SYS010_RESULT_INTERFACE = "IF-REV-013"
MESSAGE_CONSUMER, MESSAGE_RELAY, REMINDER_SCHEDULE = (
    "msg_consumer",
    "job_message_relay",
    "job_reminder_generate",
)


class WaterRevStack(Stack):
    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        env_name: str,
        interfaces: Sequence[InterfaceSpec],
        paths: SourcePaths,
        tasks: Sequence[TaskSpec] | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(scope, construct_id, **kwargs)
        for key, value in (("project", "waterrev"), ("environment", env_name)):
            # The tag aspect wrongly reaches proxy target groups, which CloudFormation cannot tag.
            Tags.of(self).add(key, value, exclude_resource_types=["AWS::RDS::DBProxyTargetGroup"])

        data = Data(self, "Data", env_name=env_name)
        layers = Layers(self, "Layers", paths=paths)
        secrets = AppSecrets(self, "Secrets")
        function_settings = FunctionSettings(
            env_name=env_name,
            paths=paths,
            layers=layers.all,
            vpc=data.vpc,
            subnets=data.subnets,
            security_group=data.lambda_sg,
            db_secret=data.secret,
            db_host=data.db_host,
            db_name=data.db_name,
            egress_subnets=data.egress_subnets,
            egress_security_group=data.egress_sg,
        )
        if tasks is None:
            from waterrev import catalog  # app.py puts the core layer's source on sys.path

            tasks = catalog.TASK_FUNCTIONS
        migrate_tasks = [t for t in tasks if t.function == MIGRATE_TASK]
        if not migrate_tasks:
            raise ValueError(f"deployments migrate the database: the task {MIGRATE_TASK!r} is missing")
        # After everything the function needs to reach the database (Data: cluster, proxy, security
        # group rules, Secrets Manager endpoint); before the functions that use the schema (below).
        migrations = Migrations(
            self,
            "Migrations",
            task=migrate_tasks[0],
            function_settings=function_settings,
            execute_after=[data],
        )
        api = Api(
            self,
            "Api",
            env_name=env_name,
            interfaces=interfaces,
            function_settings=function_settings,
            interface_secrets=secrets.by_interface,
            egress_interfaces=(
                *SYS009_CALLER_INTERFACES,
                *SYS008_CALLER_INTERFACES,
                *BANK_SFTP_INTERFACES,
                *ESIGN_CALLER_INTERFACES,
                *EXPORT_FILE_WRITERS,  # the export writers reach S3 through the NAT gateway
            ),
        )
        order_creators = [api.functions[i] for i in SYS009_CALLER_INTERFACES if i in api.functions]
        if order_creators:
            notify_url = api.route_url(SYS009_NOTIFY_INTERFACE, path=SYS009_NOTIFY_PATH)
            for fn in order_creators:
                fn.add_environment(SYS009_NOTIFY_URL_ENV, notify_url)
        workflows = Workflows(
            self,
            "Workflows",
            env_name=env_name,
            tasks=[t for t in tasks if t.function != MIGRATE_TASK],
            function_settings=function_settings,
            bill_run_starters=[api.functions[i] for i in BILL_RUN_STARTERS if i in api.functions],
            task_secrets=secrets.by_task,
            egress_tasks=EGRESS_TASKS,
            withholding_starters=[api.functions[i] for i in WITHHOLDING_STARTERS if i in api.functions],
        )
        refund_sender = workflows.functions.get("job_pay_compensate")
        if order_creators and refund_sender is not None:  # it sends refunds SYS-009 has not accepted yet
            refund_sender.add_environment(SYS009_NOTIFY_URL_ENV, notify_url)
        invoice_senders = [api.functions[i] for i in SYS008_CALLER_INTERFACES if i in api.functions] + [
            workflows.functions[t] for t in SYS008_CALLER_TASKS if t in workflows.functions
        ]
        if SYS008_WRITEBACK_INTERFACE in api.functions:
            writeback_url = api.route_url(SYS008_WRITEBACK_INTERFACE)
            for fn in invoice_senders:
                fn.add_environment(SYS008_NOTIFY_URL_ENV, writeback_url)
        invoice_files = InvoiceFiles(self, "InvoiceFiles")
        invoice_files.writers(
            [api.functions[i] for i in INVOICE_FILE_WRITERS if i in api.functions]
            + [workflows.functions[t] for t in SYS008_CALLER_TASKS if t in workflows.functions]
        )
        invoice_files.readers([api.functions[i] for i in INVOICE_FILE_READERS if i in api.functions])
        banking = Banking(
            self,
            "Banking",
            env_name=env_name,
            vpc=data.vpc,
            subnets=data.subnets,
            functions_sg=data.lambda_sg,
            sealers=[api.functions[i] for i in SEALING_INTERFACES if i in api.functions]
            + [workflows.functions[t] for t in SEALING_TASKS if t in workflows.functions]
            + ([migrations.function] if "job_migrate" in SEALING_TASKS else []),
            sftp_callers=[api.functions[i] for i in SFTP_INTERFACES if i in api.functions]
            + [workflows.functions[t] for t in SFTP_TASKS if t in workflows.functions],
        )
        attachments = Attachments(self, "Attachments")
        attachments.users([api.functions[i] for i in ATTACHMENT_USERS if i in api.functions])
        if ESIGN_CALLBACK_INTERFACE in api.functions and "IF-INST-003" in api.functions:
            api.functions["IF-INST-003"].add_environment(
                ESIGN_NOTIFY_URL_ENV, api.route_url(ESIGN_CALLBACK_INTERFACE, "POST", caller="webhook")
            )
        documents = Documents(self, "Documents")
        documents.grant(
            [api.functions[i] for i in DOCUMENT_WRITERS if i in api.functions],
            ["s3:PutObject", "s3:GetObject"],
        )
        documents.grant([api.functions[i] for i in DOCUMENT_READERS if i in api.functions], ["s3:GetObject"])
        export_files = ExportFiles(self, "ExportFiles")
        export_files.writers([api.functions[i] for i in EXPORT_FILE_WRITERS if i in api.functions])
        recon_files = ReconFiles(self, "ReconFiles")  # the daily reconciliation's statements (docs/BANK.md)
        recon_files.readers(
            [api.functions[i] for i in ("IF-REV-011",) if i in api.functions]
            + [workflows.functions[f] for f in ("job_daily_reconcile",) if f in workflows.functions]
        )
        # Not the whole Workflows construct: its Step Functions endpoint's security group is referenced
        # by a rule in Data, which the trigger runs after (that would be a cycle).
        migrations.run_before(api, *workflows.functions.values())
        messaging = None
        if MESSAGE_CONSUMER in workflows.functions and MESSAGE_RELAY in workflows.functions:
            messaging = Messaging(
                self,
                "Messaging",
                env_name=env_name,
                function_settings=function_settings,
                consumer=workflows.functions[MESSAGE_CONSUMER],
                relay=workflows.functions[MESSAGE_RELAY],
                callback_url=api.route_url(SYS010_RESULT_INTERFACE, "POST", caller="webhook"),
            )
        schedules = Schedules(
            self,
            "Schedules",
            env_name=env_name,
            bill_run=workflows.bill_run,
            payment_compensation=workflows.functions.get("job_pay_compensate"),
            invoice_compensation=workflows.functions.get("job_invoice_compensate"),
            message_relay=workflows.functions.get(MESSAGE_RELAY),
            reminders=workflows.functions.get(REMINDER_SCHEDULE),
            ledger_check=workflows.functions.get("job_ledger_check"),
            stat_fold=workflows.functions.get(STAT_FOLD_SCHEDULE),
            daily_reconcile=workflows.functions.get("job_daily_reconcile"),
        )
        monitoring = Monitoring(
            self,
            "Monitoring",
            functions={**api.functions, **workflows.functions, MIGRATE_TASK: migrations.function},
            http_api=api.http_api,
        )
        workflows.alarm_to(monitoring.topic)
        schedules.alarm_to(monitoring.topic)
        if messaging is not None:
            messaging.alarm_to(monitoring.topic)

        self.api = api
        self.data = data
        self.migrations = migrations
        self.workflows = workflows
        self.schedules = schedules
        self.invoice_files = invoice_files
        self.banking = banking
        self.attachments = attachments
        self.documents = documents
        self.export_files = export_files
        self.messaging = messaging
        CfnOutput(self, "ApiUrl", value=api.url)
        CfnOutput(self, "DbProxyEndpoint", value=data.db_host)
        CfnOutput(self, "AlarmTopicArn", value=monitoring.topic.topic_arn)
        CfnOutput(self, "ChannelLoginSecretArn", value=secrets.channel_login.secret_arn)
        CfnOutput(self, "WebhookKeysSecretArn", value=secrets.webhooks.secret_arn)
        CfnOutput(self, "BillRunStateMachineArn", value=workflows.bill_run.state_machine_arn)
        CfnOutput(self, "InvoiceBucketName", value=invoice_files.bucket.bucket_name)
        if workflows.withholding is not None:
            CfnOutput(self, "WithholdingStateMachineArn", value=workflows.withholding.state_machine_arn)
        CfnOutput(self, "BankCredentialsSecretPrefix", value=banking.credentials_prefix)
        CfnOutput(self, "AttachmentBucketName", value=attachments.bucket.bucket_name)
        CfnOutput(self, "ExportBucketName", value=export_files.bucket.bucket_name)
        CfnOutput(self, "Sys008SecretArn", value=secrets.sys008.secret_arn)
        CfnOutput(self, "Sys010SecretArn", value=secrets.sys010.secret_arn)
        CfnOutput(self, "EsignSecretArn", value=secrets.esign.secret_arn)
        CfnOutput(self, "DocumentBucketName", value=documents.bucket.bucket_name)
        if messaging is not None:
            CfnOutput(self, "MessageDeadLetterQueueUrl", value=messaging.dead_letters.queue_url)
