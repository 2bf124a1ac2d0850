"""Reading the user's data: a CSV/TSV/Excel/Parquet/Feather file or a folder of texts into a
DataFrame.

`load_data` detects the encoding and the delimiter of a delimited file, converts decimal-comma
numbers, cleans header names, reads the first sheet of an Excel workbook, and turns a folder with
one sub-folder of `.txt` files per class into a `text`/`label` frame; every failure is a
DataError in plain words.
"""

from __future__ import annotations

import codecs
import csv
import importlib.util
import os
import re
from pathlib import Path

import numpy as np
import pandas as pd

from dlstudio.engine.data.wording import _list_names
from dlstudio.engine.errors import DataError

_DELIMITERS = ",;\t|"
_DELIMITER_NAMES = {",": "comma", ";": "semicolon", "\t": "tab", "|": "pipe"}
_EXCEL_ENGINES = {".xlsx": "openpyxl", ".xlsm": "openpyxl", ".xls": "xlrd"}
_ARROW_FORMATS = {".parquet": "Parquet", ".pq": "Parquet", ".feather": "Feather",
                  ".ftr": "Feather"}
_SNIFF_BYTES = 64 * 1024
_CHUNK_BYTES = 1 << 20
_PARTS_FROM_BYTES = 4 << 20     # a smaller file is read in one go even when parts are asked for


def load_data(path: str | os.PathLike, *, chunk_rows: int | None = None) -> pd.DataFrame:
    """Read a table file or a folder of texts into a DataFrame.

    * A `.csv`/`.tsv`/`.txt` (or any other non-Excel) file is read as a delimited table: the
      encoding (UTF-8 with or without BOM, UTF-16 with BOM, else cp1252, else latin-1) and the
      delimiter (comma, semicolon, tab or pipe) are detected; quoted fields may span lines; in a
      file not separated by commas, text columns written with a decimal comma ("1,5", "1.234,5")
      become floats. Header names are stripped of surrounding whitespace (and made unique).
    * A `.xlsx`/`.xlsm`/`.xls` file is read (first sheet) if pandas' Excel engine is installed.
    * A `.parquet`/`.pq` (Parquet) or `.feather`/`.ftr` (Feather) file is read with pyarrow:
      column types come from the file, nothing is guessed.
    * A folder holding one sub-folder per class, each with `.txt` files, becomes a frame with the
      columns `text` (file contents, stripped) and `label` (the sub-folder name), sorted by label
      then file name. Hidden sub-folders and sub-folders without `.txt` files are not classes.

    `chunk_rows` (the GUI's pool thread) parses a delimited file in parts of that many rows and
    joins them, with the same columns and types as one read; pandas holds Python's lock (the
    GIL) while it turns a parsed column into values, for ~100 ms per text column of a million
    rows, which would stall the window. A column whose type differs between parts (numbers in
    one, text in another) is not joined: the file is then read again in one go.

    Raises DataError, naming the path, when it does not exist, is empty, is not a readable
    table, has a header but no rows, or is a folder without at least two class sub-folders of
    `.txt` files.
    """
    p = Path(path)
    if not p.exists():
        raise DataError(f"'{p}' does not exist. Choose a CSV/TSV/Excel file, or a folder with one "
                        f"sub-folder of .txt files per class.")
    if p.is_dir():
        return _load_text_folder(p)
    if p.stat().st_size == 0:
        raise DataError(f"The file '{p}' is empty (0 bytes). Expected a table: a header line with "
                        f"the column names, then one line per row.")
    suffix = p.suffix.lower()
    if suffix in _EXCEL_ENGINES:
        return _load_excel(p, suffix)
    if suffix in _ARROW_FORMATS:
        return _load_arrow(p, _ARROW_FORMATS[suffix])
    return _load_delimited(p, chunk_rows)


def _load_arrow(p: Path, kind: str) -> pd.DataFrame:
    if importlib.util.find_spec("pyarrow") is None:
        raise DataError(f"Reading {kind} files ('{p.name}') needs the 'pyarrow' package, which is "
                        f"not installed. Install it (pip install pyarrow) or save the table as "
                        f"CSV and import that instead.")
    try:
        df = pd.read_parquet(p) if kind == "Parquet" else pd.read_feather(p)
    except Exception as e:  # any failure of the reader means "not a usable file of that kind"
        raise DataError(f"The file '{p}' could not be read as a {kind} file "
                        f"({_first_line(str(e))}). Expected a {kind} table, as written by "
                        f"pandas' to_{kind.lower()}.") from e
    # Category columns (dictionary-encoded in the file) become plain values, as from a CSV.
    for name in df.columns[[isinstance(t, pd.CategoricalDtype) for t in df.dtypes]]:
        df[name] = df[name].astype(df[name].cat.categories.dtype)
    return _finish_table(df, p)


def _load_excel(p: Path, suffix: str) -> pd.DataFrame:
    engine = _EXCEL_ENGINES[suffix]
    # Check up front so the user is told which package is missing, not an ImportError trace.
    if importlib.util.find_spec(engine) is None:
        raise DataError(f"Reading Excel files ('{p.name}') needs the '{engine}' package, which is "
                        f"not installed. Install it (pip install {engine}) or save the sheet as "
                        f"CSV and import that instead.")
    try:
        df = pd.read_excel(p, sheet_name=0, engine=engine)
    except Exception as e:  # any failure of a third-party reader means "not a usable workbook"
        raise DataError(f"The file '{p}' could not be read as an Excel workbook ({e}). Expected a "
                        f"workbook whose first sheet holds a table with a header row.") from e
    return _finish_table(df, p)


def _load_delimited(p: Path, chunk_rows: int | None = None) -> pd.DataFrame:
    encoding = _detect_encoding(p)
    with open(p, "rb") as f:
        head = f.read(_SNIFF_BYTES)
    _refuse_binary(head, encoding, p)
    sample = _decode_sample(head, encoding)
    if not sample.strip():
        raise DataError(f"The file '{p}' holds only blank lines. Expected a table: a header line "
                        f"with the column names, then one line per row.")
    if _control_fraction(sample) > 0.01:
        raise DataError(f"The file '{p}' does not look like a text table (it contains binary "
                        f"data). Expected a CSV/TSV file or an Excel workbook.")
    delimiter = _detect_delimiter(sample)
    try:
        df = _read_csv(p, delimiter, encoding, chunk_rows)
    except pd.errors.EmptyDataError as e:
        raise DataError(f"The file '{p}' has no columns. Expected a header line with the column "
                        f"names, then one line per row.") from e
    except (pd.errors.ParserError, csv.Error, UnicodeDecodeError, ValueError) as e:
        raise DataError(
            f"The file '{p}' could not be read as a table separated by "
            f"{_DELIMITER_NAMES[delimiter]}s: {_first_line(str(e))}. Check that every row has "
            f"the same number of fields and that quotes are closed.") from e
    if delimiter != ",":
        # Only where commas are not the delimiter can "1,5" be a number rather than two fields.
        _convert_decimal_comma(df)
    return _finish_table(df, p)


# Types that join into the type one read gives: integers in one part, numbers with a missing
# value (float64) in another are float64 in a whole read too.
_JOINABLE_TYPES = frozenset({"int64", "float64"})


def _read_csv(p: Path, delimiter: str, encoding: str, chunk_rows: int | None) -> pd.DataFrame:
    # low_memory=False: read each column (of each part) in one go so that a column never ends
    # up with mixed types
    if chunk_rows is None or p.stat().st_size < _PARTS_FROM_BYTES:
        return pd.read_csv(p, sep=delimiter, encoding=encoding, low_memory=False)
    with pd.read_csv(p, sep=delimiter, encoding=encoding, low_memory=False,
                     chunksize=chunk_rows) as reader:
        parts = list(reader)
    if len(parts) == 1:
        return parts[0]
    for i in range(parts[0].shape[1] if parts else 0):
        types = {str(part.dtypes.iloc[i]) for part in parts}
        if len(types) > 1 and not types <= _JOINABLE_TYPES:
            break
    else:
        if parts:
            return pd.concat(parts, ignore_index=True)
    del parts
    return pd.read_csv(p, sep=delimiter, encoding=encoding, low_memory=False)


def _finish_table(df: pd.DataFrame, p: Path) -> pd.DataFrame:
    df.columns = _clean_names(df.columns)
    if len(df) == 0:
        cols = _list_names(list(df.columns))
        raise DataError(f"The file '{p}' has a header line ({cols}) but no rows of data.")
    return df


def _clean_names(columns: pd.Index) -> list[str]:
    """Header names stripped of whitespace, made unique again ('a', 'a.1') if stripping clashed."""
    seen: dict[str, int] = {}
    out = []
    for c in columns:
        name = str(c).strip()
        if name in seen:
            seen[name] += 1
            name = f"{name}.{seen[name]}"
        seen.setdefault(name, 0)
        out.append(name)
    return out


def _detect_encoding(p: Path) -> str:
    """UTF-8 (BOM or not) or UTF-16 with BOM when the bytes say so, else cp1252, else latin-1.

    The whole file is checked (in chunks): a cp1252 file is often pure ASCII for megabytes before
    its first accented character.
    """
    with open(p, "rb") as f:
        head = f.read(4)
    if head.startswith(codecs.BOM_UTF8):
        return "utf-8-sig"
    if head.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        return "utf-16"
    # cp1252 leaves 5 bytes undefined; latin-1 decodes anything, so it is the last resort.
    for encoding in ("utf-8", "cp1252"):
        decoder = codecs.getincrementaldecoder(encoding)()
        try:
            with open(p, "rb") as f:
                while chunk := f.read(_CHUNK_BYTES):
                    decoder.decode(chunk)
            decoder.decode(b"", final=True)
        except UnicodeDecodeError:
            continue
        return encoding
    return "latin-1"


def _decode_bytes(data: bytes) -> str:
    """Decode a whole file's bytes with the same rules as `_detect_encoding`."""
    if data.startswith(codecs.BOM_UTF8):
        return data.decode("utf-8-sig")
    if data.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        return data.decode("utf-16")
    for encoding in ("utf-8", "cp1252"):
        try:
            return data.decode(encoding)
        except UnicodeDecodeError:
            continue
    return data.decode("latin-1")


def _decode_sample(head: bytes, encoding: str) -> str:
    # The sample may end in the middle of a character or a line: drop both partial ends.
    text = codecs.getincrementaldecoder(encoding)(errors="replace").decode(head)
    if len(head) == _SNIFF_BYTES and "\n" in text:
        text = text[: text.rindex("\n") + 1]
    return text


def _refuse_binary(head: bytes, encoding: str, p: Path) -> None:
    if encoding == "utf-16" or b"\x00" not in head:
        return
    hint = ""
    if head.startswith(b"PK\x03\x04"):
        hint = (" It looks like a zip archive; if it is an Excel workbook, give it the .xlsx "
                "extension.")
    raise DataError(f"The file '{p}' does not look like a text table (it contains binary data)."
                    f"{hint} Expected a CSV/TSV file or an Excel workbook.")


_C0_CONTROLS = re.compile(r"[\x00-\x08\x0b\x0e-\x1f\x7f]")


def _control_fraction(text: str) -> float:
    if not text:
        return 0.0
    # Only C0 controls count: C1 controls (0x80-0x9f) are what latin-1 makes of odd bytes in a
    # legacy text file, whereas binary data is full of C0 bytes.
    bad = len(_C0_CONTROLS.findall(text))
    return bad / len(text)


def _detect_delimiter(sample: str) -> str:
    """The delimiter of a table, from a sample that starts at its header line.

    csv.Sniffer first; its answer is kept only if it splits the header into several fields and
    most rows into the same number of fields, because the Sniffer is easily fooled (e.g. by
    decimal commas in a semicolon file). Otherwise every candidate is tried and the most
    consistent wins; a file where none splits anything is one column (comma).
    """
    try:
        sniffed = csv.Sniffer().sniff(sample, delimiters=_DELIMITERS).delimiter
    except csv.Error:
        sniffed = None
    if sniffed and sniffed in _DELIMITERS and _split_score(sample, sniffed)[0] >= 0.9:
        return sniffed
    best, best_score = ",", (0.0, 0)
    for d in _DELIMITERS:
        score = _split_score(sample, d)
        if score > best_score:
            best, best_score = d, score
    return best


def _split_score(sample: str, delimiter: str) -> tuple[float, int]:
    """(share of rows with as many fields as the header, header fields); (0, 0) if it splits
    nothing."""
    try:
        rows = list(csv.reader(sample.splitlines(keepends=True)[:200], delimiter=delimiter))
    except csv.Error:
        return 0.0, 0
    rows = [r for r in rows if r]
    if not rows or len(rows[0]) < 2:
        return 0.0, 0
    width = len(rows[0])
    body = rows[1:-1] if len(rows) > 2 else rows[1:]   # the last row may be cut by the sample
    if not body:
        return 1.0, width
    return sum(len(r) == width for r in body) / len(body), width


_DECIMAL_COMMA = re.compile(r"[+-]?(?:\d{1,3}(?:\.\d{3})+|\d+)(?:,\d+)?")


def _convert_decimal_comma(df: pd.DataFrame) -> None:
    """Turn text columns whose every value is a decimal-comma number into floats, in place."""
    for col in df.columns:
        s = df[col]
        if not (pd.api.types.is_string_dtype(s) or s.dtype == object):
            continue
        values = s.dropna()
        if values.empty:
            continue
        values = values.astype(str).str.strip()
        # Cheap look at the first values before matching the whole column.
        for part in (values.iloc[:1000], values):
            if not part.str.fullmatch(_DECIMAL_COMMA).all():
                break
        else:
            if values.str.contains(",", regex=False).any():
                numbers = values.str.replace(".", "", regex=False).str.replace(",", ".",
                                                                                regex=False)
                converted = pd.Series(np.nan, index=s.index, dtype="float64")
                converted[values.index] = pd.to_numeric(numbers).astype("float64")
                df[col] = converted


def _load_text_folder(folder: Path) -> pd.DataFrame:
    subdirs = sorted(d for d in folder.iterdir() if d.is_dir() and not d.name.startswith("."))
    loose = [f for f in folder.iterdir() if f.is_file() and f.suffix.lower() == ".txt"]
    if not subdirs:
        found = f"it holds {len(loose)} .txt files directly" if loose else "it has no sub-folders"
        raise DataError(f"The folder '{folder}' should hold one sub-folder per class (e.g. "
                        f"'positive/' and 'negative/'), each with .txt files, but {found}.")
    classes: dict[str, list[Path]] = {}
    for d in subdirs:
        files = sorted(f for f in d.iterdir() if f.is_file() and f.suffix.lower() == ".txt")
        if files:
            classes[d.name] = files
    if not classes:
        raise DataError(f"The folder '{folder}' has sub-folders "
                        f"({_list_names([d.name for d in subdirs])}) but none of them holds "
                        f".txt files. Put each class's texts, as .txt files, in its sub-folder.")
    if len(classes) < 2:
        (only,) = classes
        empty = [d.name for d in subdirs if d.name not in classes]
        extra = f" (the sub-folders {_list_names(empty)} hold no .txt files)" if empty else ""
        raise DataError(f"The folder '{folder}' has only one class with texts, '{only}'{extra}. "
                        f"A classifier needs at least two: add a sub-folder of .txt files for "
                        f"each other class.")
    texts, labels = [], []
    for label, files in classes.items():
        for f in files:
            try:
                texts.append(_decode_bytes(f.read_bytes()).strip())
            except OSError as e:
                raise DataError(f"The text file '{f}' could not be read ({e}).") from e
            labels.append(label)
    return pd.DataFrame({"text": texts, "label": labels})


def _first_line(text: str) -> str:
    return text.strip().splitlines()[0] if text.strip() else "unknown error"
