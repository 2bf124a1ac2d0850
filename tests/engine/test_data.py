"""Tests of engine.data on real files written by each test."""

from __future__ import annotations

import importlib.util
import os

import numpy as np
import pandas as pd
import pytest

from dlstudio.engine.data import (
    GENERIC_TARGET_HINTS,
    ColumnProfile,
    check_target,
    guess_positive_class,
    guess_target,
    infer_schema,
    load_data,
    profile_column,
)
from dlstudio.engine.errors import DataError
from dlstudio.engine.schema import Role
from dlstudio.engine.templates import TEMPLATES, TaskType

# --------------------------------------------------------------------------------------------
# load_data: files
# --------------------------------------------------------------------------------------------

TABLE = "name,city,amount\nZoë,Málaga,10\nRené,Zürich,20\nJosé,Besançon,30\n"


@pytest.mark.parametrize("encoding", ["utf-8", "utf-8-sig", "cp1252", "utf-16"])
def test_load_detects_encoding(tmp_path, encoding):
    path = tmp_path / "people.csv"
    path.write_bytes(TABLE.encode(encoding))
    df = load_data(path)
    assert list(df.columns) == ["name", "city", "amount"]   # no BOM left in the first name
    assert df["name"].tolist() == ["Zoë", "René", "José"]
    assert df["city"].tolist() == ["Málaga", "Zürich", "Besançon"]
    assert df["amount"].tolist() == [10, 20, 30]


def test_load_cp1252_special_characters(tmp_path):
    # '€' and curly quotes exist in cp1252 but not in latin-1
    path = tmp_path / "prices.csv"
    path.write_bytes("item,note\nbook,“cheap” 5€\npen,naïve\n".encode("cp1252"))
    df = load_data(path)
    assert df["note"].tolist() == ["“cheap” 5€", "naïve"]


def test_load_latin1_fallback_for_bytes_cp1252_lacks(tmp_path):
    path = tmp_path / "odd.csv"
    path.write_bytes(b"a,b\n1,x\x81y\n2,z\n")   # 0x81 is undefined in cp1252
    df = load_data(path)
    assert df["b"].tolist() == ["x\x81y", "z"]


def test_load_semicolon_with_decimal_comma(tmp_path):
    path = tmp_path / "german.csv"
    path.write_bytes("Name;Preis;Menge;Datum\nÄpfel;1,5;3;01.02.2024\nBirnen;2.345,75;4;"
                     "02.02.2024\nKiwi;;5;03.02.2024\n".encode("cp1252"))
    df = load_data(path)
    assert list(df.columns) == ["Name", "Preis", "Menge", "Datum"]
    assert df["Preis"].dtype == "float64"
    assert df["Preis"].iloc[:2].tolist() == [1.5, 2345.75]
    assert pd.isna(df["Preis"].iloc[2])
    assert df["Menge"].tolist() == [3, 4, 5]
    assert df["Datum"].tolist() == ["01.02.2024", "02.02.2024", "03.02.2024"]   # not a number


def test_load_comma_file_keeps_quoted_comma_text(tmp_path):
    path = tmp_path / "c.csv"
    path.write_text('a,b\n1,"1,5"\n2,"2,5"\n', encoding="utf-8")
    df = load_data(path)
    assert df["b"].tolist() == ["1,5", "2,5"]   # a comma file does not use decimal commas


def test_load_tab_separated(tmp_path):
    path = tmp_path / "data.tsv"
    path.write_text("first name\tscore\tcomment\nAnn\t1.5\thello, world\nBob\t2.5\tsemi; colon\n",
                    encoding="utf-8")
    df = load_data(path)
    assert list(df.columns) == ["first name", "score", "comment"]
    assert df["score"].tolist() == [1.5, 2.5]
    assert df["comment"].tolist() == ["hello, world", "semi; colon"]


def test_load_pipe_separated_txt(tmp_path):
    path = tmp_path / "data.txt"
    path.write_text("a|b\n1|x\n2|y\n", encoding="utf-8")
    assert load_data(path).shape == (2, 2)


def test_load_quoted_newline_and_stripped_headers(tmp_path):
    path = tmp_path / "reviews.csv"
    path.write_text(' id , review ,stars\n1,"Great product.\nWould buy again, twice.",5\n'
                    '2,"Bad, ""really"" bad",1\n', encoding="utf-8")
    df = load_data(path)
    assert list(df.columns) == ["id", "review", "stars"]
    assert df["review"].tolist() == ["Great product.\nWould buy again, twice.",
                                     'Bad, "really" bad']
    assert df["stars"].tolist() == [5, 1]


def test_load_single_column(tmp_path):
    path = tmp_path / "one.csv"
    path.write_text("text\nhello there\nbye\n", encoding="utf-8")
    df = load_data(path)
    assert list(df.columns) == ["text"] and len(df) == 2


def test_load_large_sample_cut_mid_line(tmp_path):
    # The delimiter sample ends inside a row; detection must not be fooled by it.
    path = tmp_path / "big.csv"
    rows = "".join(f"{i};{i * 0.5:.1f};word {i}\n".replace(".", ",") for i in range(20_000))
    path.write_text("n;half;label\n" + rows, encoding="utf-8")
    df = load_data(path)
    assert df.shape == (20_000, 3)
    assert df["half"].iloc[3] == 1.5


# --------------------------------------------------------------------------------------------
# load_data: folders of texts
# --------------------------------------------------------------------------------------------


def _write_texts(root, files: dict[str, dict[str, bytes]]):
    for label, texts in files.items():
        (root / label).mkdir(parents=True, exist_ok=True)
        for name, data in texts.items():
            (root / label / name).write_bytes(data)


def test_load_text_folder(tmp_path):
    _write_texts(tmp_path, {
        "pos": {"b.txt": b"Loved it\n", "a.txt": "Très bien".encode("cp1252")},
        "neg": {"1.txt": "\ufeffAwful".encode(), "notes.md": b"not a text sample"},
        ".hidden": {"x.txt": b"ignored"},
    })
    df = load_data(tmp_path)
    assert list(df.columns) == ["text", "label"]
    assert df["label"].tolist() == ["neg", "pos", "pos"]
    assert df["text"].tolist() == ["Awful", "Très bien", "Loved it"]


def test_text_folder_without_subfolders(tmp_path):
    (tmp_path / "a.txt").write_text("hello")
    with pytest.raises(DataError, match=r"one sub-folder per class.*holds 1 \.txt files"):
        load_data(tmp_path)


def test_text_folder_with_one_class(tmp_path):
    _write_texts(tmp_path, {"spam": {"1.txt": b"buy now"}, "ham": {}})
    with pytest.raises(DataError, match=r"only one class.*'spam'.*'ham'.*at least two"):
        load_data(tmp_path)


def test_text_folder_without_txt_files(tmp_path):
    _write_texts(tmp_path, {"a": {"x.csv": b"1"}, "b": {}})
    with pytest.raises(DataError, match=r"none of them holds \.txt files"):
        load_data(tmp_path)


# --------------------------------------------------------------------------------------------
# load_data: errors
# --------------------------------------------------------------------------------------------


def test_missing_path(tmp_path):
    with pytest.raises(DataError, match=r"nope\.csv' does not exist"):
        load_data(tmp_path / "nope.csv")


def test_empty_file(tmp_path):
    path = tmp_path / "empty.csv"
    path.write_bytes(b"")
    with pytest.raises(DataError, match=r"empty\.csv' is empty \(0 bytes\).*header line"):
        load_data(path)


def test_blank_file(tmp_path):
    path = tmp_path / "blank.csv"
    path.write_text("\n\n  \n")
    with pytest.raises(DataError, match=r"blank\.csv"):
        load_data(path)


def test_binary_file(tmp_path):
    path = tmp_path / "photo.csv"
    path.write_bytes(np.random.default_rng(0).bytes(4096))
    with pytest.raises(DataError, match=r"photo\.csv' does not look like a text table"):
        load_data(path)


def test_zip_disguised_as_csv(tmp_path):
    path = tmp_path / "book.csv"
    path.write_bytes(b"PK\x03\x04\x14\x00\x00\x00" + bytes(100))
    with pytest.raises(DataError, match=r"\.xlsx extension"):
        load_data(path)


def test_header_without_rows(tmp_path):
    path = tmp_path / "head.csv"
    path.write_text("age,income,status\n")
    with pytest.raises(DataError, match=r"head\.csv' has a header line \('age', 'income', "
                                        r"'status'\) but no rows"):
        load_data(path)


def test_parser_error(tmp_path):
    path = tmp_path / "ragged.csv"
    path.write_text("a,b\n1,2\n3,4\n5,6\n7,8,9,10\n")
    with pytest.raises(DataError, match=r"ragged\.csv' could not be read as a table separated "
                                        r"by commas.*same number of fields"):
        load_data(path)


@pytest.mark.skipif(importlib.util.find_spec("openpyxl") is not None,
                    reason="openpyxl is installed, so Excel files can be read")
def test_excel_without_engine(tmp_path):
    path = tmp_path / "sheet.xlsx"
    path.write_bytes(b"PK\x03\x04 not really a workbook")
    with pytest.raises(DataError, match=r"'openpyxl' package.*pip install openpyxl.*CSV"):
        load_data(path)


@pytest.mark.skipif(importlib.util.find_spec("openpyxl") is None, reason="needs openpyxl")
def test_excel_round_trip(tmp_path):
    path = tmp_path / "sheet.xlsx"
    pd.DataFrame({" a ": [1, 2], "b": ["x", "y"]}).to_excel(path, index=False)
    df = load_data(path)
    assert list(df.columns) == ["a", "b"] and df["b"].tolist() == ["x", "y"]


def _mixed_frame() -> pd.DataFrame:
    return pd.DataFrame({"income": [1200.5, np.nan, 800.0, 950.25, 3100.0, 40.0],
                         "home": pd.Categorical(["rent", "owner", None, "rent", "owner", "rent"]),
                         "age": [25, 40, 33, 51, 62, 19],
                         "status": ["good", "bad", "good", "good", "bad", "good"]})


@pytest.mark.skipif(importlib.util.find_spec("pyarrow") is None, reason="needs pyarrow")
@pytest.mark.parametrize("suffix", [".parquet", ".feather"])
def test_parquet_and_feather_read_as_the_same_table_as_a_csv(tmp_path, suffix):
    frame = _mixed_frame()
    path = tmp_path / f"table{suffix}"
    (frame.to_parquet if suffix == ".parquet" else frame.to_feather)(path)
    frame.to_csv(tmp_path / "table.csv", index=False)
    df, csv = load_data(path), load_data(tmp_path / "table.csv")
    assert list(df.columns) == list(csv.columns)
    assert df["home"].tolist()[:2] == ["rent", "owner"] and pd.isna(df["home"][2])
    assert np.isnan(df["income"][1]) and df["age"].tolist() == csv["age"].tolist()
    roles = {c.name: c.role for c in infer_schema(df, target="status").columns}
    assert roles == {c.name: c.role for c in infer_schema(csv, target="status").columns}


@pytest.mark.skipif(importlib.util.find_spec("pyarrow") is None, reason="needs pyarrow")
def test_a_broken_parquet_file_is_named_in_plain_words(tmp_path):
    path = tmp_path / "broken.parquet"
    path.write_bytes(b"PAR1 this is not really a parquet file")
    with pytest.raises(DataError, match=r"broken\.parquet' could not be read as a Parquet file"):
        load_data(path)


# --------------------------------------------------------------------------------------------
# infer_schema
# --------------------------------------------------------------------------------------------


def _frame(n: int = 200) -> pd.DataFrame:
    rng = np.random.default_rng(0)
    words = ["good", "bad", "very", "nice", "product", "service", "slow", "fast", "again"]
    return pd.DataFrame({
        "id": np.arange(1, n + 1),
        "customer_id": [f"C{i:05d}" for i in rng.permutation(n)],
        "age": rng.integers(18, 80, n),
        "income": rng.normal(3000, 500, n),
        "city": rng.choice(["Paris", "Lyon", "Nice"], n),
        "country": ["FR"] * n,
        "notes": [None] * (n - 2) + ["a", "b"],
        "amount_txt": [f"{v:.2f}" for v in rng.normal(100, 10, n)],
        "review": [" ".join(rng.choice(words, 12)) + f" #{i}" for i in range(n)],
        "vip": rng.choice([True, False], n),
        "signup": [f"2024-01-{1 + i % 28:02d}" for i in range(n)],
        "status": rng.choice(["good", "bad"], n),
    })


def test_infer_roles_and_reasons():
    schema = infer_schema(_frame(), target="status")
    roles = {c.name: c.role for c in schema.columns}
    assert roles == {
        "id": Role.IGNORE, "customer_id": Role.IGNORE, "age": Role.NUMERIC,
        "income": Role.NUMERIC, "city": Role.CATEGORICAL, "country": Role.IGNORE,
        "notes": Role.IGNORE, "amount_txt": Role.NUMERIC, "review": Role.TEXT,
        "vip": Role.CATEGORICAL, "signup": Role.IGNORE, "status": Role.TARGET,
    }
    assert schema.rows == 200
    assert schema.target == "status"
    reasons = {c.name: c.reason for c in schema.columns}
    assert reasons["id"] == "identifier: every value is different"
    assert reasons["customer_id"] == "identifier: every value is different"
    assert reasons["country"] == "constant: only one value"
    assert reasons["notes"] == "mostly empty (99% missing)"
    assert reasons["city"] == "3 distinct values"
    assert reasons["income"] == "numbers"
    assert "stored as text" in reasons["amount_txt"]
    assert reasons["review"].startswith("long free text (avg ")
    assert reasons["signup"] == "date"
    city = schema.column("city")
    assert (city.dtype, city.missing, city.distinct) == (str(_frame()["city"].dtype), 0, 3)
    assert schema.column("notes").missing == 198
    text = " ".join(schema.warnings)
    assert ("Column 'id' looks like an identifier (every value is different), so it will be "
            "ignored.") in schema.warnings
    assert "Column 'country' has only one value ('FR'), so it will be ignored." in schema.warnings
    assert "Column 'notes' is mostly empty (99% missing)" in text
    assert "Column 'signup' holds dates" in text
    assert "leakage" not in text


def test_infer_without_target_and_with_text_column():
    df = _frame(50)
    schema = infer_schema(df, text_column="city")
    assert schema.target is None
    assert schema.column("city").role is Role.TEXT
    assert schema.column("status").role is Role.CATEGORICAL


def test_infer_unknown_columns_are_named():
    with pytest.raises(DataError, match=r"no column called 'Stauts'.*Did you mean 'status'.*"
                                        r"'income'"):
        infer_schema(_frame(20), target="Stauts")
    with pytest.raises(DataError, match=r"no column called 'body' to use as the text column"):
        infer_schema(_frame(20), text_column="body")


def test_numeric_that_is_not_an_id():
    # all different, whole numbers, but neither consecutive nor named like an id
    df = pd.DataFrame({"price": [100, 250, 320, 1000, 75], "y": list("ababa")})
    assert infer_schema(df).column("price").role is Role.NUMERIC


def test_consecutive_numbers_are_an_id_whatever_their_name():
    df = pd.DataFrame({"row": [5, 3, 4, 1, 2], "v": [1.0, 2.5, 2.5, 3.0, 1.0]})
    df = df.rename(columns={"row": "counter"})
    assert infer_schema(df).column("counter").role is Role.IGNORE


def test_numbers_as_text_with_a_few_bad_values():
    values = [str(i * 1.5) for i in range(99)] + ["n/a"]
    schema = infer_schema(pd.DataFrame({"amount": values, "n": range(100)}))
    assert schema.column("amount").role is Role.NUMERIC
    assert any("'amount' holds numbers stored as text" in w for w in schema.warnings)


def test_short_repeated_strings_are_categorical_and_sentences_are_text():
    df = pd.DataFrame({
        "size": ["small", "medium", "large", "small"] * 5,
        "tweet": [f"so happy today {i} yay" for i in range(20)],
    })
    schema = infer_schema(df)
    assert schema.column("size").role is Role.CATEGORICAL
    assert schema.column("tweet").role is Role.TEXT


def test_object_dtype_and_datetime_dtype():
    df = pd.DataFrame({
        "code": pd.Series(["a", "b", "a", "c"], dtype=object),
        "when": pd.to_datetime(["2024-01-01", "2024-02-01", "2024-03-01", "2024-04-01"]),
    })
    schema = infer_schema(df)
    assert schema.column("code").role is Role.CATEGORICAL
    assert schema.column("when").role is Role.IGNORE
    assert schema.column("when").reason == "date"


def test_leakage_copy_and_recoding_of_the_target():
    rng = np.random.default_rng(1)
    status = rng.choice(["good", "bad"], 300)
    df = pd.DataFrame({
        "status": status,
        "status_copy": status,
        "bad_flag": (status == "bad").astype(int),
        "many_to_one": [f"{s}-{i % 30}" for i, s in enumerate(status)],   # 60 values
        "noise": rng.choice(["x", "y"], 300),
    })
    warnings = infer_schema(df, target="status").warnings
    text = " ".join(warnings)
    assert "Column 'status_copy' is a copy of the target 'status'" in text
    assert "Column 'bad_flag' matches the target 'status' one-to-one" in text
    assert "many_to_one" not in text
    assert "noise" not in text


def test_leakage_many_to_one_with_few_values_and_missing_values():
    rng = np.random.default_rng(3)
    detail = rng.choice(["paid", "paid early", "late", "charged off"], 400)
    status = np.where(np.isin(detail, ["late", "charged off"]), "bad", "good")
    recoded = pd.Series((status == "bad").astype(float))
    recoded[::7] = np.nan                       # missing values must not hide the match
    df = pd.DataFrame({"detail": detail, "recoded": recoded, "status": status,
                       "n": pd.array(rng.integers(0, 5, 400), dtype="Int64")})
    text = " ".join(infer_schema(df, target="status").warnings)
    assert "Column 'detail' predicts the target 'status' perfectly" in text
    assert "Column 'recoded' matches the target 'status' one-to-one" in text
    assert "'n'" not in text


def test_no_leakage_claims_on_a_tiny_frame():
    df = pd.DataFrame({"a": ["x", "y", "x"], "b": [1, 2, 1], "y": ["p", "q", "p"]})
    assert infer_schema(df, target="y").warnings == []


def test_leakage_for_a_numeric_target():
    rng = np.random.default_rng(2)
    price = rng.normal(100, 20, 500)
    df = pd.DataFrame({"price": price, "price_usd": price * 1.1, "size": rng.normal(size=500)})
    text = " ".join(infer_schema(df, target="price").warnings)
    assert "Column 'price_usd' is a perfect linear function of the target 'price'" in text
    assert "size" not in text


def test_infer_schema_on_a_million_rows():
    n = 1_000_000
    rng = np.random.default_rng(0)
    df = pd.DataFrame({
        "id": np.arange(n),
        "x": rng.normal(size=n),
        "k": rng.integers(0, 50, n),
        "cat": pd.Series(rng.choice(["a", "b", "c", "d"], n)).astype("str"),
        "flag": rng.choice(["yes", "no"], n),
        "target": rng.choice(["good", "bad"], n),
    })
    schema = infer_schema(df, target="target")
    roles = {c.name: c.role for c in schema.columns}
    assert roles == {"id": Role.IGNORE, "x": Role.NUMERIC, "k": Role.NUMERIC,
                     "cat": Role.CATEGORICAL, "flag": Role.CATEGORICAL, "target": Role.TARGET}
    assert schema.rows == n


def test_loaded_text_folder_infers_text_and_label(tmp_path):
    _write_texts(tmp_path, {
        "pos": {f"{i}.txt": f"I really liked this film number {i}".encode() for i in range(6)},
        "neg": {f"{i}.txt": f"I did not like this film number {i}".encode() for i in range(6)},
    })
    schema = infer_schema(load_data(tmp_path), target="label")
    assert schema.column("text").role is Role.TEXT
    assert schema.target == "label"


# --------------------------------------------------------------------------------------------
# guesses
# --------------------------------------------------------------------------------------------


def test_guess_target():
    df = pd.DataFrame(columns=["Customer ID", " Loan-Status ", "Class", "amount"])
    assert guess_target(df, ["loan_status", "class"]) == " Loan-Status "
    assert guess_target(df, ["class", "loan_status"]) == "Class"
    assert guess_target(df, GENERIC_TARGET_HINTS) == "Class"
    assert guess_target(df, ["price"]) is None
    assert guess_target(df, []) is None


def test_guess_target_with_template_hints():
    df = pd.DataFrame(columns=["age", "credit_amount", "class"])
    assert guess_target(df, TEMPLATES["credit-scoring"].target_hints) == "class"


def test_guess_positive_class():
    hints = TEMPLATES["credit-scoring"].positive_hints
    assert guess_positive_class(["good", "bad"], hints) == "bad"
    assert guess_positive_class(["Fully Paid", "Charged Off"], hints) == "Charged Off"
    assert guess_positive_class(["0", "1"], hints) == "1"
    assert guess_positive_class(["0.0", "1.0"], hints) == "1.0"
    assert guess_positive_class(["No", "YES"], hints) == "YES"
    assert guess_positive_class(["cat", "dog"], hints) is None
    # hints order wins over values order
    assert guess_positive_class(["yes", "default"], ["default", "yes"]) == "default"


# --------------------------------------------------------------------------------------------
# check_target
# --------------------------------------------------------------------------------------------


def test_check_target_accepts_good_targets():
    df = pd.DataFrame({"Status": ["good", "bad"] * 10 + [None], "price": range(21)})
    check_target(df, "Status", TaskType.BINARY)
    check_target(df, "Status", TaskType.MULTICLASS)
    check_target(df, "price", TaskType.REGRESSION)
    check_target(pd.DataFrame({"p": ["1.5", " 2", "3e2", None]}), "p", TaskType.REGRESSION)


def test_check_target_missing_column():
    df = pd.DataFrame({"Status": ["a", "b"], "age": [1, 2]})
    with pytest.raises(DataError, match=r"no column called 'status'.*'Status', 'age'"):
        check_target(df, "status", TaskType.BINARY)


def test_check_target_mostly_empty():
    df = pd.DataFrame({"Status": ["good", "bad", None, None, None]})
    with pytest.raises(DataError, match=r"'Status' is empty in 60% of the rows \(3 of 5\)"):
        check_target(df, "Status", TaskType.BINARY)


def test_check_target_constant():
    df = pd.DataFrame({"Status": ["good"] * 10})
    with pytest.raises(DataError) as e:
        check_target(df, "Status", TaskType.BINARY)
    assert str(e.value) == ("The target column 'Status' has only one value ('good'); a "
                            "classifier needs at least two.")


def test_check_target_binary_with_many_values():
    df = pd.DataFrame({"grade": list("ABCDE") * 10})
    with pytest.raises(DataError, match=r"'grade' has 5 different values \('A', 'B', 'C', 'D', "
                                        r"\.\.\.\).*two classes.*tabular-classification"):
        check_target(df, "grade", TaskType.BINARY)


def test_check_target_too_few_rows_in_a_class():
    df = pd.DataFrame({"label": ["cat"] * 20 + ["dog"] * 20 + ["eel"] * 2})
    with pytest.raises(DataError, match=r"'label', 'eel' has 2 rows: too few rows to split into "
                                        r"training, validation and test"):
        check_target(df, "label", TaskType.MULTICLASS)
    check_target(df, "label", TaskType.MULTICLASS, min_per_class=2)


def test_check_target_continuous_numbers_as_classes_suggests_regression():
    df = pd.DataFrame({"price": np.arange(100) * 1.5})
    with pytest.raises(DataError, match=r"tabular-regression"):
        check_target(df, "price", TaskType.MULTICLASS)


def test_check_target_regression_with_text_values():
    df = pd.DataFrame({"price": ["10", "12.5", "n/a", "unknown", "8"]})
    with pytest.raises(DataError, match=r"'price' must hold numbers.*2 of its values are not "
                                        r"numbers \(for example 'n/a'\)"):
        check_target(df, "price", TaskType.REGRESSION)


# --------------------------------------------------------------------------------------------
# profile_column
# --------------------------------------------------------------------------------------------


def test_profile_numeric_column():
    s = pd.Series([float(i) for i in range(100)] + [None] * 25, name="age")
    p = profile_column(s)
    assert isinstance(p, ColumnProfile)
    assert (p.name, p.dtype, p.missing, p.distinct) == ("age", "float64", 25, 100)
    assert p.missing_pct == pytest.approx(20.0)
    assert len(p.histogram) == 10
    assert sum(c for _, c in p.histogram) == 100
    assert p.histogram[0] == ("0–9.9", 10)


def test_profile_few_valued_numbers_and_text():
    assert profile_column(pd.Series([1, 0, 1, 1], name="f")).histogram == [("0", 1), ("1", 3)]
    s = pd.Series([f"v{i % 15}" for i in range(150)] + ["v0"] * 5, name="c")
    p = profile_column(s)
    assert p.distinct == 15 and len(p.histogram) == 10
    assert p.histogram[0] == ("v0", 15)


def test_profile_empty_column():
    p = profile_column(pd.Series([None, None], dtype="float64", name="e"))
    assert (p.missing, p.missing_pct, p.distinct, p.histogram) == (2, 100.0, 0, [])


def test_module_does_not_import_tensorflow():
    # Checked in a fresh interpreter: this process may have imported TensorFlow for other tests.
    import subprocess
    import sys

    code = ("import sys, dlstudio.engine.data; "
            "sys.exit(1 if 'tensorflow' in sys.modules or 'PySide6' in sys.modules else 0)")
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)}
    assert subprocess.run([sys.executable, "-c", code], env=env).returncode == 0


def test_profile_of_free_text_counts_words_with_a_tail_bin():
    texts = pd.Series([" ".join(["w"] * n) for n in [*range(5, 45), 500]])
    profile = profile_column(texts, Role.TEXT)
    assert sum(c for _, c in profile.histogram) == len(texts)
    label, count = profile.histogram[-1]
    assert label.endswith("+ words") and count >= 1      # the 500-word outlier
    assert profile.histogram[0][0].startswith("5–")
