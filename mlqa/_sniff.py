"""What a delimited text file holds when nobody said: its delimiter, whether its first row
is a header, lines before the rows that are not rows, and column names from a UCI `.names`
file beside it. `mlqa init` uses it to write a config that `mlqa gate` can load.

The header decision compares the first row with the rows after it, column by column: a
column whose other cells are all numbers and whose first cell is not (`age` over `39, 50,
38`) is evidence of a header; a first cell that is a number there, or that repeats a value
the column holds further down (`Male` over `Male, Female, ...`), is evidence of data.
Only when no column gives evidence does `csv.Sniffer.has_header` decide.
"""
from __future__ import annotations

import bz2
import csv
import gzip
import io
import lzma
import re
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO

from .errors import MlqaError

#: how much of a file the sniffing reads
SAMPLE_BYTES = 256 * 1024
SAMPLE_ROWS = 200
#: lines before the rows that may be skipped as a preamble (UCI's `|1x3 Cross validator`)
MAX_PREAMBLE = 5
_DELIMITERS = ",\t;|"
_COMPRESSED = {".gz": gzip.open, ".bz2": bz2.open, ".xz": lzma.open}
_NUMBER = re.compile(r"[+-]?(\d+(\.\d*)?|\.\d+)([eE][+-]?\d+)?")


@dataclass(frozen=True)
class Sniffed:
    """How to read one delimited text file: `delimiter`, `header` (its first row names the
    columns), `skip` (lines before the first row: a preamble), the column count and the
    skipped lines themselves (for the message)."""

    path: Path
    delimiter: str
    header: bool
    skip: int
    width: int
    first_row: tuple[str, ...]
    skipped: tuple[str, ...] = field(default=())


def is_number(text: str) -> bool:
    return bool(_NUMBER.fullmatch(text.strip()))


def open_text(path: Path) -> IO[str]:
    """`path` as UTF-8 text, through its compression (gzip, bz2, xz) where it has one."""
    opener = _COMPRESSED.get(path.suffix.lower(), open)
    return opener(path, "rt", encoding="utf-8", newline="")  # type: ignore[operator]


def _sample(path: Path) -> str:
    try:
        with open_text(path) as fh:
            text = fh.read(SAMPLE_BYTES)
    except UnicodeDecodeError:
        raise MlqaError(f"{path}: not UTF-8 text; mlqa reads CSV files as UTF-8 (re-save it as UTF-8, "
                        f"or as Parquet)") from None
    except (OSError, EOFError, lzma.LZMAError) as exc:
        raise MlqaError(f"{path}: cannot be read: {exc}") from None
    if "\x00" in text:
        raise MlqaError(f"{path}: holds binary data, not a delimited text table (use CSV or Parquet)")
    if len(text) == SAMPLE_BYTES and "\n" in text:  # cut at the last whole line
        text = text[:text.rindex("\n") + 1]
    return text


def sniff(path: Path) -> Sniffed:
    """How to read `path` (a CSV, TSV or other delimited text file, optionally compressed).
    An empty file, or one with no delimited rows, is an `MlqaError`."""
    text = _sample(path)
    if not text.strip():
        raise MlqaError(f"{path}: the file is empty; mlqa needs a table with a row per example")
    delimiter, parsed = _delimiter(text)
    rows = [cells for cells, _ in parsed]
    width = Counter(len(r) for r in rows).most_common(1)[0][0]
    # A preamble: leading lines whose field count is not the table's (`|1x3 Cross validator`).
    n_skip = 0
    while n_skip < min(MAX_PREAMBLE, len(rows) - 1) and len(rows[n_skip]) != width:
        n_skip += 1
    body = rows[n_skip:]
    if width < 2 and len(body) < 2:
        raise MlqaError(f"{path}: no table found (one value and no rows); mlqa needs a CSV with a row per "
                        f"example")
    return Sniffed(path=path, delimiter=delimiter, header=has_header(body, text),
                   skip=parsed[n_skip - 1][1] if n_skip else 0, width=width, first_row=tuple(body[0]),
                   skipped=tuple(delimiter.join(r) for r in rows[:n_skip]))


def _rows(text: str, delimiter: str) -> list[tuple[list[str], int]]:
    """The non-blank rows of `text` (quoted fields may hold line breaks), each with the
    number of the line it ends on; the last row is dropped when the sample cut it."""
    reader = csv.reader(io.StringIO(text), delimiter=delimiter)
    out: list[tuple[list[str], int]] = []
    try:
        for row in reader:
            if any(c.strip() for c in row):
                out.append(([c.strip() for c in row], reader.line_num))
            if len(out) > SAMPLE_ROWS + MAX_PREAMBLE:
                break
    except csv.Error:
        pass  # a malformed tail of the sample: what came before decides
    if len(out) > 1 and not text.endswith(("\n", "\r")) and len(text) >= SAMPLE_BYTES - 1:
        out.pop()
    return out


def _delimiter(text: str) -> tuple[str, list[tuple[list[str], int]]]:
    """The delimiter that splits most rows into the same number (>1) of fields, and the rows."""
    best, best_rows, best_score = ",", _rows(text, ","), -1.0
    for d in _DELIMITERS:
        rows = _rows(text, d)
        if not rows:
            continue
        width, n = Counter(len(r) for r, _ in rows).most_common(1)[0]
        if width < 2:
            continue
        score = n / len(rows) + width * 1e-6
        if score > best_score:
            best, best_rows, best_score = d, rows, score
    if not best_rows:
        raise MlqaError("no rows")  # pragma: no cover - a non-blank text has a row
    return best, best_rows


def has_header(rows: list[list[str]], text: str = "") -> bool:
    """Whether `rows[0]` names the columns of `rows[1:]` (see the module's docstring)."""
    first, rest = rows[0], rows[1:]
    if not rest:  # one row: a header unless it holds a number
        return not any(is_number(c) for c in first)
    header = data = 0
    for j, cell in enumerate(first):
        column = [r[j] for r in rest if j < len(r) and r[j] != ""]
        if not column:
            continue
        if all(is_number(v) for v in column):
            if is_number(cell):
                data += 1
            elif cell != "":
                header += 1
        elif cell in set(column) or is_number(cell):
            data += 1
    if header != data:
        return header > data
    if len(set(first)) < len(first):  # names repeat: rows, not a header
        return False
    try:
        return csv.Sniffer().has_header(text) if text else True
    except csv.Error:
        return True


# ---------------------------------------------------------------- UCI `.names`
@dataclass(frozen=True)
class UciNames:
    """Column names read from a UCI (C4.5) `.names` file: the attributes in order and the
    class values of its first line (the label, which the data holds as its last column)."""

    path: Path
    attributes: tuple[str, ...]
    classes: tuple[str, ...]


_COMPRESSION = re.compile(r"\.(gz|bz2|xz|zip|zst)$", re.IGNORECASE)


def names_file(data: Path) -> Path | None:
    """The UCI `.names` file that describes `data` (`adult.data` -> `adult.names`)."""
    base = _COMPRESSION.sub("", data.name)
    stem = base.rsplit(".", 1)[0] if "." in base else base
    cand = data.with_name(stem + ".names")
    return cand if cand.is_file() and cand != data else None


def read_names(path: Path) -> UciNames | None:
    """Attributes (`name: continuous.` / `name: v1, v2.`) and class values (the first
    line that is not an attribute) of a C4.5 `.names` file; None when it has neither."""
    try:
        text = path.read_text(encoding="utf-8", errors="replace")
    except OSError:
        return None
    attributes: list[str] = []
    classes: tuple[str, ...] = ()
    for raw in text.splitlines():
        line = raw.split("|", 1)[0].strip()
        if not line:
            continue
        m = re.match(r"^([^:]+?)\s*:\s*(.*)$", line)
        if m:
            attributes.append(m.group(1).strip())
        elif not attributes and not classes:
            classes = tuple(v.strip() for v in line.rstrip(".").split(",") if v.strip())
    if not attributes:
        return None
    return UciNames(path=path, attributes=tuple(attributes), classes=classes)
