"""cdk-nag wiring: the AwsSolutions pack as a synth-time validation plugin, and acknowledgments.

cdk-nag 3.x runs as a policy validation plugin: `app.synth()` fails when any finding (error or
warning) is not acknowledged. An acknowledgment covers one rule id (with its `[finding]` suffix
for granular rules such as IAM4/IAM5) on one construct and its children, so every call below
names the construct it is about and why the finding is acceptable there.
"""

from __future__ import annotations

from aws_cdk import Acknowledgment, App, Validations
from cdk_nag import AwsSolutionsChecks
from constructs import IConstruct


def add_checks(app: App) -> AwsSolutionsChecks:
    checks = AwsSolutionsChecks(app, verbose=True, write_suppressions_to_cloud_formation=True)
    Validations.of(app).add_plugins(checks)
    return checks


def acknowledge(construct: IConstruct, rule: str, reason: str) -> None:
    Validations.of(construct).acknowledge(Acknowledgment(id=rule, reason=reason))
