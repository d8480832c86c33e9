"""The SYS-008 simulator's invoice PDF: rendered with an embedded CJK font, and a clear refusal without one."""

from __future__ import annotations

from datetime import datetime

import pytest

from waterrev.local import sys008_sim


def test_the_invoice_pdf_embeds_the_cjk_font() -> None:
    """Given an issued invoice with Chinese lines, its PDF is a real PDF embedding a WenQuanYi subset."""
    inv = sys008_sim._Invoice(
        "FP1", "SR1", "1", "张三", None, "ELECTRONIC", "43.00",
        [{"itemName": "*水冰雪*自来水", "taxRate": "0.09", "amount": "43.00", "amountExTax": "39.45", "taxAmount": "3.55"}],
        None, status="SUCCESS", invoice_no="26000000000000000001", issue_time=datetime.now(sys008_sim.CST),
    )  # fmt: skip

    pdf = sys008_sim.render_pdf(inv)

    assert pdf.startswith(b"%PDF") and b"/FontFile2" in pdf and b"+WenQuanYiMicroHei" in pdf


def test_without_a_cjk_font_the_simulator_says_what_to_install(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(sys008_sim, "FONT_PATHS", ("/nonexistent/font.ttc",))
    monkeypatch.delenv("WATERREV_CJK_FONT", raising=False)

    with pytest.raises(sys008_sim.FontMissing, match="fonts-wqy-microhei"):
        sys008_sim.font_path()
