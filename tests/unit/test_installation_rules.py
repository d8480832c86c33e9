"""The connection-application rules and lifecycle (pure): every allowed and refused transition of an
application, what each archive type requires, the archive status, the evidence hash, the idempotency
keys."""

from __future__ import annotations

import itertools

import pytest
from hypothesis import given
from hypothesis import strategies as st

from waterrev.domain.lifecycle import IllegalTransition
from waterrev.domain.states import CONTRACT, INSTALL, INSTALL_NEXT_NODE, ContractStatus, InstallStatus
from waterrev.installation import rules

S = InstallStatus
ALLOWED = {
    (S.SURVEYING, S.SURVEYING),
    (S.SURVEYING, S.SURVEYED),
    (S.SURVEYING, S.REJECTED),
    (S.SURVEYED, S.SURVEYED),
    (S.SURVEYED, S.SIGNING),
    (S.SURVEYED, S.REJECTED),
    (S.SIGNING, S.SIGNED),
    (S.SIGNING, S.SURVEYED),
    (S.SIGNED, S.CONSTRUCTED),
    (S.CONSTRUCTED, S.COMPLETED),
}


@pytest.mark.parametrize(("current", "target"), list(itertools.product(S, S)), ids=lambda s: str(s))
def test_each_transition_of_an_application_is_allowed_or_refused(current: S, target: S) -> None:
    """Given any two statuses of an application
    When the lifecycle is asked to move from one to the other
    Then only the steps of submitted -> surveyed -> signing -> signed -> constructed -> completed (and the
    refusals: a rejected survey, a refused signature sent back) pass; every other is refused with
    1_002_007_002 naming the current status."""
    if (current, target) in ALLOWED:
        assert INSTALL.require(current, target) is target
    else:
        with pytest.raises(IllegalTransition) as refused:
            INSTALL.require(current, target)
        assert refused.value.error.code == 1_002_007_002
        assert refused.value.data == {"currentStatus": current, "targetStatus": target}


def test_completed_and_rejected_applications_never_change_again() -> None:
    """Given the lifecycle
    Then COMPLETED and REJECTED are its only ends, every status waits at a node, and an application is
    created waiting for its survey."""
    assert INSTALL.terminal == {S.COMPLETED, S.REJECTED}
    assert set(INSTALL_NEXT_NODE) == set(S)
    assert INSTALL.initial == {S.SURVEYING}
    assert CONTRACT.terminal == {ContractStatus.SIGNED, ContractStatus.FAILED, ContractStatus.CANCELLED}


@pytest.mark.parametrize(
    ("archive_type", "status", "moves_to"),
    [
        ("APPLY", S.SURVEYING, None),
        ("ACCEPT", S.SIGNED, None),
        ("CONTRACT", S.SIGNED, None),
        ("CHECK", S.SIGNED, S.CONSTRUCTED),
        ("FINISH", S.CONSTRUCTED, S.COMPLETED),
    ],
)
def test_archive_steps_name_where_they_may_happen_and_what_they_move(
    archive_type: str, status: S, moves_to: S | None
) -> None:
    """Given an archive type
    Then it is accepted in the status it needs and moves the application where the lifecycle allows."""
    step = rules.ARCHIVE_STEPS[archive_type]
    assert status in step.allowed_from and step.target == moves_to
    for source in step.allowed_from:
        if step.target is not None:
            assert INSTALL.allows(source, step.target)


def test_check_and_finish_are_refused_before_their_time() -> None:
    """Given an application not yet signed
    Then neither CHECK nor FINISH nor CONTRACT is accepted, and FINISH waits for the CHECK."""
    for early in (S.SURVEYING, S.SURVEYED, S.SIGNING):
        for archive_type in ("CHECK", "FINISH", "CONTRACT"):
            assert early not in rules.ARCHIVE_STEPS[archive_type].allowed_from
    assert S.SIGNED not in rules.ARCHIVE_STEPS["FINISH"].allowed_from


@given(st.integers(0, 50), st.integers(0, 50))
def test_archive_status_is_success_partial_or_fail(archived: int, failed: int) -> None:
    """Given how many documents were archived and how many failed
    Then SUCCESS means none failed, FAIL that none was archived (and some failed), PARTIAL the rest."""
    status = rules.archive_status(archived, failed)
    assert status == ("SUCCESS" if failed == 0 else "FAIL" if archived == 0 else "PARTIAL")


digests = st.text("0123456789abcdef", min_size=64, max_size=64)
documents = st.lists(
    st.builds(
        rules.Document,
        st.sampled_from(["APPLY", "CHECK", "SIGNED"]),
        st.text(min_size=1, max_size=20),
        digests,
    ),
    min_size=1,
    max_size=8,
)


@given(documents, st.randoms())
def test_the_evidence_hash_covers_every_document_in_any_order(
    docs: list[rules.Document], rnd: object
) -> None:
    """Given a set of documents
    Then the evidence hash does not depend on their order, and changes when any digest changes or a
    document is left out."""
    shuffled = list(docs)
    rnd.shuffle(shuffled)  # type: ignore[attr-defined]
    assert rules.evidence_hash(shuffled) == rules.evidence_hash(docs)
    changed = [
        docs[0]._replace(sha256=("f" if docs[0].sha256[0] != "f" else "e") + docs[0].sha256[1:]),
        *docs[1:],
    ]
    assert rules.evidence_hash(changed) != rules.evidence_hash(docs)
    if docs[0] not in docs[1:]:
        assert rules.evidence_hash(docs[1:]) != rules.evidence_hash(docs)


def test_keys_ignore_spacing_and_order_but_not_content() -> None:
    """Given the same applicant and address written with other spacing, or the same documents in
    another order
    Then the keys are equal; another address or document set gives another key."""
    assert rules.apply_key("NEW", "13800138000", "鼓楼区 报装路 1号") == rules.apply_key(
        "NEW", "13800138000", "鼓楼区报装路1号"
    )
    assert rules.apply_key("NEW", "13800138000", "鼓楼区报装路1号") != rules.apply_key(
        "REBUILD", "13800138000", "鼓楼区报装路1号"
    )
    assert rules.archive_request_key(1, "CHECK", ["b" * 64, "a" * 64]) == rules.archive_request_key(
        1, "CHECK", ["A" * 64, "b" * 64]
    )
    assert rules.archive_request_key(1, "CHECK", ["a" * 64]) != rules.archive_request_key(
        1, "FINISH", ["a" * 64]
    )
