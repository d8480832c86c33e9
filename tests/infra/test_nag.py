"""cdk-nag (AwsSolutions): every finding is fixed or acknowledged, so synth passes validation.

cdk-nag 3.x reports through CDK's policy validation, not annotations: `app.synth()` raises and
writes validation-report.json when a finding is not acknowledged. `validate_scope` runs the same
rules on the construct tree and returns the findings, which makes a readable failure message.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import pytest
from cdk_nag import AwsSolutionsChecks

if TYPE_CHECKING:  # fixtures only: conftest is not importable as a module under pytest
    from conftest import Synth

pytestmark = pytest.mark.infra


def test_given_the_app_then_aws_solutions_reports_no_unacknowledged_finding(synth: Synth) -> None:
    report = AwsSolutionsChecks().validate_scope(synth.app)

    findings = [
        f"{v.rule_name} ({v.severity}) at {r.construct_path}"
        for v in report.violations
        for r in v.violating_resources
    ]
    assert findings == []
    assert report.success


def test_given_the_app_then_synth_passes_every_validation_plugin(synth: Synth) -> None:
    assert synth.synth_error is None, synth.synth_error
