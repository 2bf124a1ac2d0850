"""Reading the user's data and deciding what each column is for.

`load_data` turns a CSV/TSV/Excel file or a folder of texts (one sub-folder per class) into a
DataFrame; `infer_schema` gives every column a role and a plain reason; `check_target` refuses a
target a model cannot learn from; `profile_column` feeds the GUI's column panel.

Everything here is pandas + the standard library: the GUI imports this module, so it must never
import TensorFlow (or Qt).
"""

from __future__ import annotations

import codecs
import csv
import difflib
import importlib.util
import os
import re
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from dlstudio.engine.errors import DataError
from dlstudio.engine.schema import ColumnInfo, Role, Schema
from dlstudio.engine.templates import TaskType

__all__ = [
    "GENERIC_TARGET_HINTS",
    "ColumnProfile",
    "check_target",
    "guess_positive_class",
    "guess_target",
    "infer_schema",
    "load_data",
    "profile_column",
]

GENERIC_TARGET_HINTS = ("target", "label", "class", "y", "outcome", "status", "sentiment")

_DELIMITERS = ",;\t|"
_DELIMITER_NAMES = {",": "comma", ";": "semicolon", "\t": "tab", "|": "pipe"}
_EXCEL_ENGINES = {".xlsx": "openpyxl", ".xlsm": "openpyxl", ".xls": "xlrd"}
_SNIFF_BYTES = 64 * 1024
_CHUNK_BYTES = 1 << 20

# Thresholds of the schema rules, named so the rules below read as sentences.
_MOSTLY_EMPTY = 0.95        # fraction missing from which a column is ignored
_NUMERIC_AS_TEXT = 0.95     # fraction of text values that must parse as numbers
_DATE_LIKE = 0.95           # fraction of text values that must look like dates
_TEXT_AVG_CHARS = 30        # average length above which distinct strings are free text
_TEXT_AVG_SPACES = 3        # ... or this many spaces on average (several words)
_SAMPLE_VALUES = 10_000     # values looked at for the string checks (length, parsing, dates)
_SAMPLE_ROWS = 200_000      # rows looked at for the leakage check
_CLASS_LIKE_MAX = 20        # a numeric target with at most this many values is treated as classes
_LEAK_MIN_ROWS = 20         # fewer paired values than this can match the target by chance


# --------------------------------------------------------------------------------------------
# Loading
# --------------------------------------------------------------------------------------------


def load_data(path: str | os.PathLike) -> pd.DataFrame:
    """Read a table file or a folder of texts into a DataFrame.

    * A `.csv`/`.tsv`/`.txt` (or any other non-Excel) file is read as a delimited table: the
      encoding (UTF-8 with or without BOM, UTF-16 with BOM, else cp1252, else latin-1) and the
      delimiter (comma, semicolon, tab or pipe) are detected; quoted fields may span lines; in a
      file not separated by commas, text columns written with a decimal comma ("1,5", "1.234,5")
      become floats. Header names are stripped of surrounding whitespace (and made unique).
    * A `.xlsx`/`.xlsm`/`.xls` file is read (first sheet) if pandas' Excel engine is installed.
    * A folder holding one sub-folder per class, each with `.txt` files, becomes a frame with the
      columns `text` (file contents, stripped) and `label` (the sub-folder name), sorted by label
      then file name. Hidden sub-folders and sub-folders without `.txt` files are not classes.

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
    return _load_delimited(p)


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


def _load_delimited(p: Path) -> pd.DataFrame:
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
        # low_memory=False: read each column in one go so a column never ends up with mixed types
        df = pd.read_csv(p, sep=delimiter, encoding=encoding, low_memory=False)
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


# --------------------------------------------------------------------------------------------
# Schema inference
# --------------------------------------------------------------------------------------------


def infer_schema(df: pd.DataFrame, *, target: str | None = None,
                 text_column: str | None = None) -> Schema:
    """Give every column of `df` a role and a plain-language reason, with warnings to show.

    Promises one ColumnInfo per column, in column order. `target` becomes Role.TARGET and
    `text_column` Role.TEXT (DataError if either is not a column, or both are the same). Other
    columns: mostly empty (>= 95% missing) or constant -> IGNORE; booleans -> CATEGORICAL;
    dates -> IGNORE; numbers -> NUMERIC unless they look like a row identifier; text that is
    >= 95% numbers -> NUMERIC (the values are left as text: convert with pd.to_numeric(...,
    errors="coerce")); long or many-word distinct strings -> TEXT; short strings that are all
    different -> IGNORE (identifier); other strings -> CATEGORICAL. Every ignored column gets a
    warning; so does a feature that predicts the target perfectly (suspected leakage).
    Expensive checks use a fixed-seed sample: a million rows of 20 columns take ~1.5 s.
    """
    names = [str(c) for c in df.columns]
    dupes = sorted({n for n in names if names.count(n) > 1})
    if dupes:
        raise DataError(f"Column names must be unique, but {_list_names(dupes)} appear more than "
                        f"once. Rename them and import the data again.")
    for given, what in ((target, "target"), (text_column, "text")):
        if given is not None and given not in names:
            raise DataError(_no_such_column(given, names, what))
    if target is not None and target == text_column:
        raise DataError(f"The column '{target}' cannot be both the target and the text column.")

    columns: list[ColumnInfo] = []
    warnings: list[str] = []
    for i, name in enumerate(names):
        s = df.iloc[:, i]
        missing = int(s.isna().sum())
        distinct = _nunique(s)
        if name == target:
            role, reason, warning = Role.TARGET, "chosen as the target", None
        elif name == text_column:
            role, reason, warning = Role.TEXT, "chosen as the text column", None
        else:
            role, reason, warning = _infer_role(name, s, missing, distinct)
        columns.append(ColumnInfo(name=name, role=role, dtype=str(s.dtype), missing=missing,
                                  distinct=distinct, reason=reason))
        if warning:
            warnings.append(warning)
        if role in (Role.NUMERIC, Role.TARGET):
            warnings.extend(_infinite_warnings(name, s, role))
    if target is not None:
        warnings.extend(_leakage_warnings(df, names, target, columns))
    return Schema(rows=len(df), columns=columns, warnings=warnings)


def _infer_role(name: str, s: pd.Series, missing: int,
                distinct: int) -> tuple[Role, str, str | None]:
    """(role, reason, warning or None) for a column the user did not assign."""
    n = len(s)
    present = n - missing
    if n and missing / n >= _MOSTLY_EMPTY:
        pct = _pct(missing, n)
        return (Role.IGNORE, f"mostly empty ({pct} missing)",
                f"Column '{name}' is mostly empty ({pct} missing), so it will be ignored.")
    if distinct <= 1:
        only = f" ({_short(s.dropna().iloc[0])!r})" if distinct == 1 else ""
        return (Role.IGNORE, "constant: only one value",
                f"Column '{name}' has only one value{only}, so it will be ignored.")
    if pd.api.types.is_bool_dtype(s):
        return Role.CATEGORICAL, "yes/no values", None
    if pd.api.types.is_datetime64_any_dtype(s):
        return Role.IGNORE, "date", _date_warning(name)
    if isinstance(s.dtype, pd.CategoricalDtype):
        return Role.CATEGORICAL, f"{distinct} distinct values", None
    if pd.api.types.is_numeric_dtype(s) and not pd.api.types.is_complex_dtype(s):
        if distinct == present and _looks_like_numeric_id(name, s):
            return Role.IGNORE, "identifier: every value is different", _id_warning(name)
        return Role.NUMERIC, "numbers", None
    if pd.api.types.is_string_dtype(s) or s.dtype == object:
        return _infer_text_role(name, s, present, distinct)
    return (Role.IGNORE, f"unsupported type ({s.dtype})",
            f"Column '{name}' holds values of type {s.dtype}, which cannot be used as an input, "
            f"so it will be ignored.")


_ID_NAME = re.compile(r"(?:^|[\s_\-.#])(?:id|uuid|guid|key|no|nr)$|^(?:index|idx|row|rowid|"
                      r"row_?num(?:ber)?|unnamed: ?\d+)$", re.IGNORECASE)
_CAMEL_ID = re.compile(r"[a-z0-9]I[Dd]$")


def _looks_like_id_name(name: str) -> bool:
    n = name.strip()
    return bool(_ID_NAME.search(n) or _CAMEL_ID.search(n))


def _looks_like_numeric_id(name: str, s: pd.Series) -> bool:
    # Called only when every present value is different; a real measurement (a price, a
    # timestamp in seconds) can be too, so also require whole numbers and an id-like name or
    # consecutive values (a row counter, in any order).
    v = s.dropna().to_numpy()
    if not pd.api.types.is_integer_dtype(s):
        v = v.astype("float64")
        if not np.all(np.isfinite(v)) or not np.all(np.mod(v, 1) == 0):
            return False
    if _looks_like_id_name(name):
        return True
    return len(v) > 1 and float(v.max()) - float(v.min()) + 1 == len(v)


_DATE = re.compile(r"\d{4}-\d{1,2}-\d{1,2}(?:[ T]\d{1,2}:\d{2}(?::\d{2}(?:\.\d+)?)?)?"
                   r"(?:Z|[+-]\d{2}:?\d{2})?|\d{1,2}[/.\-]\d{1,2}[/.\-]\d{2,4}"
                   r"(?: \d{1,2}:\d{2}(?::\d{2})?)?|\d{4}/\d{1,2}/\d{1,2}")


def _infer_text_role(name: str, s: pd.Series, present: int,
                     distinct: int) -> tuple[Role, str, str | None]:
    sample = _sample_values(s)
    stripped = sample.str.strip()
    numbers = pd.to_numeric(stripped, errors="coerce")
    parsed = float(numbers.notna().mean())
    if parsed >= _NUMERIC_AS_TEXT:
        warning = None
        if parsed < 1:
            warning = (f"Column '{name}' holds numbers stored as text; about {_pct_f(1 - parsed)}"
                       f" of its values are not numbers and will be treated as missing.")
        return Role.NUMERIC, "numbers (stored as text)", warning
    if float(stripped.str.fullmatch(_DATE).mean()) >= _DATE_LIKE:
        return Role.IGNORE, "date", _date_warning(name)
    avg_chars = float(sample.str.len().mean())
    avg_spaces = float(sample.str.count(" ").mean())
    many_distinct = distinct >= 0.5 * present or distinct > 1000
    if many_distinct and (avg_chars > _TEXT_AVG_CHARS or avg_spaces >= _TEXT_AVG_SPACES):
        return Role.TEXT, f"long free text (avg {avg_chars:.0f} characters)", None
    if distinct == present:
        return Role.IGNORE, "identifier: every value is different", _id_warning(name)
    return Role.CATEGORICAL, f"{distinct} distinct values", None


def _infinite_mask(s: pd.Series) -> np.ndarray:
    """Which values are inf or -inf, as numbers or as text that pandas reads as a number
    ("inf", "-Infinity"); parsed the way the model's inputs are (features.column_array)."""
    none = np.zeros(len(s), dtype=bool)
    if pd.api.types.is_bool_dtype(s) or pd.api.types.is_complex_dtype(s):
        return none
    try:
        if not pd.api.types.is_numeric_dtype(s):
            s = pd.to_numeric(s, errors="coerce")
        return np.isinf(s.to_numpy(dtype="float64", na_value=np.nan))
    except (TypeError, ValueError):     # values that are not numbers at all (lists, dates)
        return none


def _infinite_warnings(name: str, s: pd.Series, role: Role) -> list[str]:
    count = int(_infinite_mask(s).sum())
    if not count:
        return []
    values = f"{count:,} infinite value{'s' if count != 1 else ''} (inf or -inf)"
    if role is Role.TARGET:
        return [f"The target column '{name}' has {values}; when predicting a number, DL Studio "
                f"leaves those rows out, like rows without a target."]
    return [f"Column '{name}' has {values}; DL Studio treats them as missing."]


def _id_warning(name: str) -> str:
    return (f"Column '{name}' looks like an identifier (every value is different), so it will be "
            f"ignored.")


def _date_warning(name: str) -> str:
    return (f"Column '{name}' holds dates, so it will be ignored (dates are not used as inputs; "
            f"add columns such as the month or the age in days if they matter).")


def _leakage_warnings(df: pd.DataFrame, names: list[str], target: str,
                      columns: list[ColumnInfo]) -> list[str]:
    """Warnings for features that predict the target perfectly, on a sample of rows.

    A feature whose values match the target's one-to-one (a copy, or a recoding such as
    'bad'/'good' -> 1/0) is flagged, and so is one with at most 20 values that each go with a
    single target value over 100+ rows. A many-valued column that does so is not: with many
    values that happens by chance. For a numeric target with many values, only a numeric feature
    that is a perfect linear function of it is flagged (e.g. the price in another currency).
    """
    n = len(df)
    rows = np.arange(n)
    if n > _SAMPLE_ROWS:
        rows = np.sort(np.random.default_rng(0).choice(n, _SAMPLE_ROWS, replace=False))
    t = df.iloc[rows, names.index(target)]
    t_info = columns[names.index(target)]
    numeric_target = pd.api.types.is_numeric_dtype(t) and not pd.api.types.is_bool_dtype(t)
    class_like = not numeric_target or t_info.distinct <= _CLASS_LIKE_MAX
    try:
        t_codes = pd.factorize(t)[0]    # once for all features; -1 marks a missing target
    except TypeError:                   # unhashable target values: no cheap answer, no warning
        return []
    warnings = []
    for i, info in enumerate(columns):
        if info.role not in (Role.NUMERIC, Role.CATEGORICAL):
            continue
        f = df.iloc[rows, i]
        try:
            if class_like:
                # A many-valued feature can neither match the classes one-to-one nor be a
                # suspicious many-to-one mapping, so it is not even factorized (that is the
                # slow part on a big frame).
                if info.distinct != t_info.distinct and info.distinct > _CLASS_LIKE_MAX:
                    continue
                message = _class_leak(f, t, t_codes)
            elif pd.api.types.is_numeric_dtype(f) and not pd.api.types.is_bool_dtype(f):
                message = _linear_leak(f, t)
            else:
                message = None
        except TypeError:   # unhashable or incomparable values: no cheap answer, no warning
            message = None
        if message:
            what = message.format(target=f"'{target}'")
            warnings.append(f"Column '{info.name}' {what}. This "
                            f"usually means it was recorded after the outcome was known (target "
                            f"leakage); check it, and set it to ignore if so.")
    return warnings


def _class_leak(f: pd.Series, t: pd.Series, t_codes: np.ndarray) -> str | None:
    f_codes = pd.factorize(f)[0]
    ok = (f_codes >= 0) & (t_codes >= 0)
    fc, tc = f_codes[ok], t_codes[ok]
    if len(fc) < _LEAK_MIN_ROWS:
        return None
    if not ok.all():
        # Codes follow the order of first appearance: renumber them over the rows kept.
        fc, tc = pd.factorize(fc)[0], pd.factorize(tc)[0]
    n_f, n_t = int(fc.max()) + 1, int(tc.max()) + 1
    if n_t < 2:
        return None
    # With codes in order of first appearance, a one-to-one recoding gives equal codes.
    if np.array_equal(fc, tc):
        same = f[ok].astype(str).to_numpy() == t[ok].astype(str).to_numpy()
        return ("is a copy of the target {target}" if bool(np.all(same))
                else "matches the target {target} one-to-one")
    # Each feature value goes with one target value iff there are as many distinct
    # (feature, target) pairs as feature values.
    if (n_f <= _CLASS_LIKE_MAX and len(fc) >= 100
            and len(np.unique(fc.astype(np.int64) * n_t + tc)) == n_f):
        return "predicts the target {target} perfectly"
    return None


def _linear_leak(f: pd.Series, t: pd.Series) -> str | None:
    x = f.to_numpy(dtype="float64", na_value=np.nan)
    y = t.to_numpy(dtype="float64", na_value=np.nan)
    good = np.isfinite(x) & np.isfinite(y)
    x, y = x[good], y[good]
    if len(x) < _LEAK_MIN_ROWS or x.std() == 0 or y.std() == 0:
        return None
    if np.array_equal(x, y):
        return "is a copy of the target {target}"
    if abs(float(np.corrcoef(x, y)[0, 1])) > 0.9999:
        return "is a perfect linear function of the target {target}"
    return None


# --------------------------------------------------------------------------------------------
# Target
# --------------------------------------------------------------------------------------------


def _normalise_name(name: str) -> str:
    return re.sub(r"[\s_\-]+", "", str(name).strip().lower())


def guess_target(df: pd.DataFrame, hints: Sequence[str]) -> str | None:
    """The first column whose name equals a hint, trying hints in order; None if none does.

    Names and hints are compared case-insensitively, stripped, and with spaces, underscores and
    hyphens removed, so the hint 'loan_status' finds a column 'Loan Status' or 'loan-status'.
    """
    columns = [(str(c), _normalise_name(c)) for c in df.columns]
    for hint in hints:
        wanted = _normalise_name(hint)
        for name, normalised in columns:
            if normalised == wanted:
                return name
    return None


def guess_positive_class(values: Sequence[str], hints: Sequence[str]) -> str | None:
    """The first of `values` equal to a hint (case-insensitive, stripped), trying hints in order.

    Numbers compare by value too, so the hint '1' finds the class '1.0'. Returns the value as
    given, or None when no hint matches.
    """
    for hint in hints:
        h = str(hint).strip().lower()
        h_num = _as_float(h)
        for v in values:
            text = str(v).strip().lower()
            if text == h or (h_num is not None and _as_float(text) == h_num):
                return v
    return None


def check_target(df: pd.DataFrame, target: str, task: TaskType, *,
                 min_per_class: int = 5) -> None:
    """Raise DataError, in plain words, if `target` cannot be learned for `task`; else None.

    Refused: a column that is not there; more than half of the rows missing a target (rows
    missing it are allowed below that and are dropped later); a single value; for BINARY, more
    than two values; for classification, a class with fewer than `min_per_class` rows; for
    REGRESSION, values that are not numbers.
    """
    names = [str(c) for c in df.columns]
    if target not in names:
        raise DataError(_no_such_column(target, names, "target"))
    s = df.iloc[:, names.index(target)]
    n = len(s)
    if n == 0:
        raise DataError(f"The table has no rows, so the target column '{target}' has nothing to "
                        f"learn from.")
    # A number to predict that is infinite is as good as missing: the row is left out.
    infinite = _infinite_mask(s) if task is TaskType.REGRESSION else np.zeros(n, dtype=bool)
    missing = int(s.isna().sum()) + int(infinite.sum())
    if missing / n > 0.5:
        empty = "empty or infinite" if infinite.any() else "empty"
        raise DataError(f"The target column '{target}' is {empty} in {_pct(missing, n)} of the "
                        f"rows ({missing:,} of {n:,}); at most half may be missing. Fill it in, "
                        f"or choose another column as the target.")
    present = s[~infinite].dropna()
    counts = present.value_counts()
    if len(counts) <= 1:
        value = f" ({_short(counts.index[0])!r})" if len(counts) else ""
        needs = ("a classifier needs at least two" if task is not TaskType.REGRESSION
                 else "there is nothing to predict")
        raise DataError(f"The target column '{target}' has only one value{value}; {needs}.")
    if task is TaskType.REGRESSION:
        _check_regression_target(target, present)
        return
    if task is TaskType.BINARY and len(counts) > 2:
        examples = ", ".join(repr(_short(v)) for v in counts.index[:4])
        more = ", ..." if len(counts) > 4 else ""
        raise DataError(f"The target column '{target}' has {len(counts)} different values "
                        f"({examples}{more}), but this template predicts one of two classes. "
                        f"Choose the 'Table: predict a category' template "
                        f"(tabular-classification) instead, or another target column.")
    small = counts[counts < min_per_class]
    if len(small):
        listed = ", ".join(f"'{_short(v)}' has {c} row{'s' if c != 1 else ''}"
                           for v, c in small.iloc[:3].items())
        more = f" (and {len(small) - 3} more classes)" if len(small) > 3 else ""
        advice = "Add examples of these classes, or merge or remove them."
        if (pd.api.types.is_numeric_dtype(present) and not pd.api.types.is_bool_dtype(present)
                and len(counts) > _CLASS_LIKE_MAX):
            advice = ("The target looks like a number to predict rather than a category: "
                      "choose the 'Table: predict a category' template only for categories, "
                      "and 'Table: predict a number' (tabular-regression) for numbers.")
        raise DataError(f"In the target column '{target}', {listed}{more}: too few rows to "
                        f"split into training, validation and test (at least {min_per_class} "
                        f"per class are needed). {advice}")


def _check_regression_target(target: str, present: pd.Series) -> None:
    if pd.api.types.is_bool_dtype(present):
        raise DataError(f"The target column '{target}' holds yes/no values, but this template "
                        f"predicts a number. Choose a classification template instead.")
    if pd.api.types.is_numeric_dtype(present):
        return
    numbers = pd.to_numeric(present.astype(str).str.strip(), errors="coerce")
    bad = present[numbers.isna().to_numpy()]
    if len(bad):
        raise DataError(f"The target column '{target}' must hold numbers to predict, but "
                        f"{len(bad):,} of its values are not numbers (for example "
                        f"{_short(bad.iloc[0])!r}). Fix those values, or choose the 'Table: "
                        f"predict a category' template (tabular-classification) instead.")


# --------------------------------------------------------------------------------------------
# Column profile
# --------------------------------------------------------------------------------------------


@dataclass
class ColumnProfile:
    """What the GUI shows about one column."""

    name: str
    dtype: str
    missing: int
    missing_pct: float                  # percent of rows, 0-100
    distinct: int                       # distinct non-missing values
    histogram: list[tuple[str, int]]    # (label, count), see profile_column


def profile_column(series: pd.Series, role: Role | None = None) -> ColumnProfile:
    """Counts and a small histogram of one column, for the GUI's profile panel.

    For a column used as free text (`role` TEXT) the histogram counts words per text, in 10
    bins, since its most frequent values say nothing. Otherwise it is, for numbers, 10
    equal-width bins labelled "lo–hi" over the finite values (or one bar per value, in value
    order, when there are at most 10 distinct values); for anything else, the 10 most frequent
    values with their counts (labels cut to 60 characters). It is empty when the column has no
    values.
    """
    n = len(series)
    missing = int(series.isna().sum())
    distinct = _nunique(series)
    present = series.dropna()
    histogram: list[tuple[str, int]] = []
    numeric = (pd.api.types.is_numeric_dtype(series) and not pd.api.types.is_bool_dtype(series)
               and not pd.api.types.is_complex_dtype(series))
    if len(present) and numeric:
        if distinct <= 10:
            counts = present.value_counts().sort_index()
            histogram = [(_fmt_number(v), int(c)) for v, c in counts.items()]
        else:
            v = present.to_numpy(dtype="float64")
            v = v[np.isfinite(v)]
            if len(v):
                counts, edges = np.histogram(v, bins=10)
                histogram = [(f"{_fmt_number(lo)}–{_fmt_number(hi)}", int(c))
                             for lo, hi, c in zip(edges[:-1], edges[1:], counts, strict=True)]
    elif len(present) and role is Role.TEXT:
        words = present.astype(str).str.split().str.len().to_numpy(dtype="float64")
        # 9 bins up to the 95th percentile and one for the long tail, so outliers don't
        # squash every text into the first bar.
        top = float(np.ceil(np.percentile(words, 95)))
        edges = np.unique(np.round(np.linspace(words.min(), max(top, words.min() + 1), 10)))
        counts, _ = np.histogram(np.minimum(words, edges[-1]), bins=edges)
        histogram = [(f"{lo:.0f}–{hi:.0f}", int(c))
                     for lo, hi, c in zip(edges[:-1], edges[1:], counts, strict=True)]
        tail = int((words > edges[-1]).sum())
        if tail:
            last_lo, last_hi, last_c = edges[-2], edges[-1], histogram[-1][1]
            histogram[-1] = (f"{last_lo:.0f}–{last_hi:.0f}", last_c - tail)
            histogram.append((f"{last_hi:.0f}+ words", tail))
        else:
            histogram[-1] = (f"{histogram[-1][0]} words", histogram[-1][1])
    elif len(present):
        try:
            counts = present.value_counts().head(10)
        except TypeError:   # unhashable values (lists, dicts): count their text instead
            counts = present.astype(str).value_counts().head(10)
        histogram = [(_short(v, 60), int(c)) for v, c in counts.items()]
    return ColumnProfile(name="" if series.name is None else str(series.name),
                         dtype=str(series.dtype), missing=missing,
                         missing_pct=100.0 * missing / n if n else 0.0, distinct=distinct,
                         histogram=histogram)


# --------------------------------------------------------------------------------------------
# Small helpers
# --------------------------------------------------------------------------------------------


def _nunique(s: pd.Series) -> int:
    try:
        return int(s.nunique(dropna=True))
    except TypeError:   # unhashable values in an object column
        return int(s.dropna().astype(str).nunique())


def _sample_values(s: pd.Series) -> pd.Series:
    """Up to _SAMPLE_VALUES non-missing values as str, picked with a fixed seed."""
    present = s.dropna()
    if len(present) > _SAMPLE_VALUES:
        present = present.sample(_SAMPLE_VALUES, random_state=0)
    return present.astype(str)


def _no_such_column(given: str, names: list[str], what: str) -> str:
    close = difflib.get_close_matches(given, names, n=1)
    hint = f" Did you mean '{close[0]}'?" if close else ""
    return (f"There is no column called '{given}' to use as the {what} column.{hint} The columns "
            f"are: {_list_names(names)}.")


def _list_names(names: Sequence[str], limit: int = 20) -> str:
    shown = ", ".join(f"'{n}'" for n in names[:limit])
    return shown + (f" and {len(names) - limit} more" if len(names) > limit else "")


def _short(value: object, limit: int = 40) -> str:
    text = str(value)
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _pct(part: int, whole: int) -> str:
    return _pct_f(part / whole)


def _pct_f(fraction: float) -> str:
    # Never round a partial share to 0% or 100%: "100% missing" must mean every value.
    pct = 100 * fraction
    if 0 < pct < 1:
        return "<1%"
    if 99 < pct < 100:
        return ">99%"
    return f"{pct:.0f}%"


def _fmt_number(x: object) -> str:
    return f"{float(x):.4g}" if not isinstance(x, (int, np.integer)) else str(x)


def _as_float(text: str) -> float | None:
    try:
        return float(text)
    except ValueError:
        return None


def _first_line(text: str) -> str:
    return text.strip().splitlines()[0] if text.strip() else "unknown error"
