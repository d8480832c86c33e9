"""The export workbook: XlsxWriter in constant_memory mode (each row goes to disk as it is written, so
100,000 rows hold about the memory of one), a result sheet, and where the point is a trend (the result is
grouped by period) a second sheet with the per-period figure and a line chart of it.

constant_memory writes rows strictly in order (an earlier row is silently dropped): the sheet is
written top to bottom, once.
"""

from __future__ import annotations

from decimal import Decimal
from types import TracebackType
from typing import Any, Self

MAX_SHEET_ROWS = 1_048_576


class ExportBook:
    def __init__(self, path: str, tmpdir: str) -> None:
        import xlsxwriter  # ~60 ms: only the export path pays it

        self._book = xlsxwriter.Workbook(
            path, {"constant_memory": True, "tmpdir": tmpdir, "strings_to_numbers": False}
        )
        self._sheet = self._book.add_worksheet("统计结果")
        self._bold = self._book.add_format({"bold": True})
        self._money = self._book.add_format({"num_format": "#,##0.00"})
        self._count = self._book.add_format({"num_format": "0"})
        self._row = 0
        self._formats: list[Any] = []

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self._book.close()

    def header(self, title: str, notes: list[str], columns: list[str], numeric: list[str | None]) -> None:
        """The title, the query's conditions, then the column names. `numeric` says per column how a
        value is shown: None (text), "money" (two places) or "count"."""
        self._sheet.write_string(self._row, 0, title, self._bold)
        self._row += 1
        for note in notes:
            self._sheet.write_string(self._row, 0, note)
            self._row += 1
        for col, name in enumerate(columns):
            self._sheet.write_string(self._row, col, name, self._bold)
        self._row += 1
        self._formats = [
            None if kind is None else (self._money if kind == "money" else self._count) for kind in numeric
        ]
        self._sheet.set_column(0, len(columns) - 1, 16)

    def row(self, values: list[Any]) -> None:
        if self._row >= MAX_SHEET_ROWS:
            raise ValueError("the result does not fit one sheet")
        for col, value in enumerate(values):
            if value is None:
                continue
            fmt = self._formats[col] if col < len(self._formats) else None
            if fmt is not None and isinstance(value, Decimal | int | float):
                self._sheet.write_number(self._row, col, float(value), fmt)
            else:
                self._sheet.write_string(self._row, col, str(value))
        self._row += 1

    def trend(self, title: str, indicator: str, unit: str, points: list[tuple[str, Decimal | None]]) -> None:
        """A sheet of (period, value) and a line chart of it."""
        sheet = self._book.add_worksheet("趋势")
        sheet.write_string(0, 0, "期间", self._bold)
        sheet.write_string(0, 1, f"{indicator}（{unit}）", self._bold)
        for n, (period, value) in enumerate(points, start=1):
            sheet.write_string(n, 0, period)
            if value is not None:
                sheet.write_number(n, 1, float(value), self._money)
        chart = self._book.add_chart({"type": "line"})
        chart.add_series(
            {
                "name": indicator,
                "categories": ["趋势", 1, 0, max(len(points), 1), 0],
                "values": ["趋势", 1, 1, max(len(points), 1), 1],
                "marker": {"type": "circle"},
            }
        )
        chart.set_title({"name": title})
        chart.set_x_axis({"name": "期间"})
        chart.set_y_axis({"name": unit})
        chart.set_legend({"none": True})
        sheet.insert_chart(1, 3, chart, {"x_scale": 1.5, "y_scale": 1.2})
