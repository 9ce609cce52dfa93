"""Streamed export of a filtered executions or traces list, as CSV or JSON Lines (the pages and the API).

The rows come from a server-side cursor (``selectors.executions_export_rows``) and leave as they
are read, in chunks of a few hundred rows: a StreamingHttpResponse, so neither the worker's memory
nor the time to the first byte grows with the number of rows (``crucible.asgi`` streams such
responses instead of buffering them).
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import json
from collections.abc import Iterable, Iterator, Sequence
from decimal import Decimal

from django.http import HttpResponse, StreamingHttpResponse
from django.utils import timezone

from observability.selectors.executions import EXPORT_FIELDS

CSV = "csv"
JSONL = "jsonl"
FORMATS = {CSV: "text/csv; charset=utf-8", JSONL: "application/x-ndjson; charset=utf-8"}
FORMAT_PARAMETER = "export_format"  # not "format": DRF reads that one to pick a renderer
ROWS_PER_CHUNK = 500
# A spreadsheet runs a cell that starts with one of these as a formula: such text gets a leading '.
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def _plain(value):
    if isinstance(value, dt.datetime):
        return value.astimezone(dt.UTC).isoformat().replace("+00:00", "Z")
    if isinstance(value, Decimal):
        return str(value)
    return value


def _cell(value) -> str:
    value = _plain(value)
    if value is None:
        return ""
    if isinstance(value, dict | list):  # attributes, request parameters, tags: JSON in one cell
        value = json.dumps(value, ensure_ascii=False, sort_keys=True)
    if isinstance(value, str):
        return "'" + value if value.startswith(FORMULA_STARTS) else value
    return str(value)


def _chunks(rows: Iterable[dict], write_row, header: str = "") -> Iterator[bytes]:
    buffer = io.StringIO()
    buffer.write(header)
    count = 0
    for row in rows:
        write_row(buffer, row)
        count += 1
        if count % ROWS_PER_CHUNK == 0:
            yield buffer.getvalue().encode()
            buffer.seek(0)
            buffer.truncate()
    if buffer.tell():
        yield buffer.getvalue().encode()


def csv_chunks(rows: Iterable[dict], fields: Sequence[str] = EXPORT_FIELDS) -> Iterator[bytes]:
    """CSV with a header row (``fields``); empty cells for missing values."""
    header = io.StringIO()
    csv.writer(header).writerow(fields)

    def write_row(buffer, row):
        csv.writer(buffer).writerow([_cell(row[name]) for name in fields])

    return _chunks(rows, write_row, header.getvalue())


def jsonl_chunks(rows: Iterable[dict], fields: Sequence[str] = EXPORT_FIELDS) -> Iterator[bytes]:
    """One JSON object per line (missing values are null; money as decimal text, times in UTC)."""

    def write_row(buffer, row):
        buffer.write(json.dumps({name: _plain(row[name]) for name in fields}, ensure_ascii=False))
        buffer.write("\n")

    return _chunks(rows, write_row)


def export_response(
    rows: Iterable[dict], *, file_format: str, name: str = "executions", fields: Sequence[str] = EXPORT_FIELDS
) -> StreamingHttpResponse:
    chunks = csv_chunks(rows, fields) if file_format == CSV else jsonl_chunks(rows, fields)
    response = StreamingHttpResponse(chunks, content_type=FORMATS[file_format])
    stamp = timezone.now().strftime("%Y%m%dT%H%M%SZ")
    response["Content-Disposition"] = f'attachment; filename="{name}-{stamp}.{file_format}"'
    response["X-Content-Type-Options"] = "nosniff"
    return response


class ListExportMixin:
    """A filtered list page's export (``?export_format=csv|jsonl``): the same filters and order as
    the page, streamed; an unknown format or an unreadable filter is a 400 naming it. The view
    gives ``export_response(queryset, file_format)``."""

    def filter_params(self):
        params = super().filter_params()
        params.pop(FORMAT_PARAMETER, None)
        return params

    def get(self, request, *args, **kwargs):
        file_format = request.GET.get(FORMAT_PARAMETER) or CSV
        if file_format not in FORMATS:
            return HttpResponse(f"{FORMAT_PARAMETER}: choose one of {', '.join(FORMATS)}.", status=400)
        filterset = self.get_filterset(self.get_queryset())
        if not filterset.is_valid():
            problems = "; ".join(f"{name}: {' '.join(errors)}" for name, errors in filterset.errors.items())
            return HttpResponse(f"Correct the filter: {problems}", status=400, content_type="text/plain")
        return self.export_response(self.order(filterset.qs, self.ordering()), file_format)
