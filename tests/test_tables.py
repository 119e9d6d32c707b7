"""The data teams keep, read without a model: JSONL, JSON arrays, CSV/TSV, Parquet and
datasets written by the real `datasets` package; the column mapping and how cells become
text; ids, duplicates and mapped columns checked before the model; the export of inputs
joined with verdicts; `evaluate_frame` and a streamed batch on the scripted runtime.

The same paths run on the demo model in real llama.cpp in tests/test_tables_model.py."""

from __future__ import annotations

import json
import math
import os
from array import array
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from edgejudge import Judge
from edgejudge.core.presets import PRESETS
from edgejudge.core.rows import cell_text, parse_map, project
from edgejudge.errors import InputError, OutputError
from edgejudge.io.tables import Table, detect_format
from edgejudge.io.writers import write_table
from edgejudge.judging import batch
from edgejudge.judging.export import export_verdicts
from edgejudge.judging.rows import RowSource, id_key, read_rows
from tests.support.cases import TEN_FAITHFULNESS
from tests.support.fake_runtime import FakeRuntime

METRIC = "response-faithfulness-5point"
VERDICT = "<feedback>Fine.</feedback>\n<score>4</score>"
ROWS = [dict(row, id=f"r{n}") for n, row in enumerate(TEN_FAITHFULNESS[:4])]
RENAMED = [
    {"qid": r["id"], "question": r["query"], "ctx": r["context"], "answer": r["response"]}
    for r in ROWS
]


def write_csv(path: Path, text: str) -> Path:
    path.write_bytes(text.encode("utf-8"))
    return path


# -- formats ------------------------------------------------------------------------------


def test_the_pyarrow_major_is_the_one_this_run_is_for() -> None:
    # scripts/test.sh runs this file under the newest pyarrow (.venv) and again under 18, the
    # oldest pyproject admits (.venv-integrations): the readers and writers work on both.
    wanted = os.environ.get("EDGEJUDGE_EXPECT_PYARROW_MAJOR")
    major = int(pa.__version__.split(".")[0])
    assert major >= 18 and (wanted is None or major == int(wanted)), pa.__version__


@pytest.mark.parametrize(
    ("name", "fmt"),
    [("a.jsonl", "jsonl"), ("a.JSON", "json"), ("a.csv", "csv"), ("a.tsv", "tsv"),
     ("a.parquet", "parquet"), ("a.txt", "jsonl"), ("/dev/stdin", "jsonl")],
)  # fmt: skip
def test_the_format_comes_from_the_extension(name: str, fmt: str) -> None:
    assert detect_format(Path(name)) == fmt


def test_every_format_a_dataset_too_gives_the_same_rows(tmp_path: Path) -> None:
    import datasets

    expected = [(r["qid"], r["question"], r["answer"]) for r in RENAMED]
    (tmp_path / "in.jsonl").write_text("".join(json.dumps(r) + "\n" for r in RENAMED))
    (tmp_path / "in.json").write_text(json.dumps(RENAMED, indent=2))
    for name, sep in (("in.csv", ","), ("in.tsv", "\t")):
        lines = [sep.join(RENAMED[0])] + [sep.join(json.dumps(v) for v in r.values())
                                          for r in RENAMED]  # fmt: skip
        (tmp_path / name).write_text("\n".join(lines) + "\n")
    pq.write_table(pa.Table.from_pylist(RENAMED), tmp_path / "in.parquet")
    datasets.Dataset.from_list(RENAMED).save_to_disk(str(tmp_path / "ds"))
    mapping = {"query": "question", "context": "ctx", "response": "answer"}
    for name in ("in.jsonl", "in.json", "in.csv", "in.tsv", "in.parquet", "ds"):
        rows = read_rows(tmp_path / name, mapping=mapping, id_column="qid")
        found = [(r.id, r.data["question"], r.data["answer"]) for r in rows]
        assert found == expected, name
        judged = rows[0].input_for(PRESETS[METRIC])
        assert judged == {k: ROWS[0][k] for k in ("query", "context", "response")}, name


def test_a_dataset_dict_needs_its_split(tmp_path: Path) -> None:
    import datasets

    one = datasets.Dataset.from_list(RENAMED)
    datasets.DatasetDict({"train": one, "test": one.select([0])}).save_to_disk(str(tmp_path))
    with pytest.raises(InputError, match="holds the splits train, test: choose one with --split"):
        Table(tmp_path)
    assert Table(tmp_path, split="test").count == 1
    assert [r.id for r in read_rows(tmp_path, split="train", id_column="qid")] == [
        r["qid"] for r in RENAMED
    ]
    with pytest.raises(InputError, match="has no split 'dev'; it holds train, test"):
        Table(tmp_path, split="dev")


def test_a_dataset_whose_state_names_a_file_outside_is_refused(tmp_path: Path) -> None:
    import datasets

    datasets.Dataset.from_list(RENAMED).save_to_disk(str(tmp_path / "ds"))
    state = tmp_path / "ds" / "state.json"
    state.write_text(json.dumps({"_data_files": [{"filename": "../../etc/passwd"}]}))
    with pytest.raises(InputError, match="is not a file name inside the dataset"):
        Table(tmp_path / "ds")


def test_parquet_declares_its_columns_and_count_and_reads_only_what_is_asked(
    tmp_path: Path,
) -> None:
    path = tmp_path / "in.parquet"
    big = "x" * 10_000
    pq.write_table(pa.Table.from_pylist([dict(r, blob=big) for r in RENAMED]), path)
    table = Table(path)
    assert table.columns == ("qid", "question", "ctx", "answer", "blob")
    assert table.count == len(RENAMED) and table.types["blob"] == pa.string()
    assert [r.data for r in table.records(["qid"])] == [{"qid": r["qid"]} for r in RENAMED]


def test_csv_quotes_newlines_bom_crlf_and_bad_lines(tmp_path: Path) -> None:
    path = write_csv(
        tmp_path / "in.csv",
        '\ufeffid,query,response\r\n1,"a, b","two\nlines"\r\n\r\n2,x\r\n3,"q",r,extra\r\n'
        "4,caf\xe9,ok\r\n",
    )
    path.write_bytes(path.read_bytes().replace("caf\xe9".encode(), b"caf\xe9"))
    rows = read_rows(path)
    assert [(r.line, r.id) for r in rows[:1]] == [(2, "1")]
    assert rows[0].data == {"id": "1", "query": "a, b", "response": "two\nlines"}
    assert rows[1].problem == "line 5 has 2 fields; the header has 3"
    assert rows[2].problem == "line 6 has 4 fields; the header has 3"
    assert rows[3].problem == "line 7 is not UTF-8 text; save the file as UTF-8"
    assert [r.id for r in rows] == ["1", 5, 6, 7]  # a bad line is keyed by its line


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("", "is empty: a CSV file starts with a line of column names"),
        ("id,query,id\n1,q,2\n", "the header names 'id' twice"),
        ("id,,response\n", "has an empty column name"),
        ('{"id": 1, "query": "q"}\n', "looks like JSON, not CSV"),
    ],
)
def test_a_csv_header_that_cannot_be_one_is_refused(
    tmp_path: Path, text: str, message: str
) -> None:
    with pytest.raises(InputError, match=message):
        Table(write_csv(tmp_path / "in.csv", text))


def test_a_file_that_is_not_what_its_extension_says(tmp_path: Path) -> None:
    fake = write_csv(tmp_path / "in.parquet", "id,query\n1,q\n")
    with pytest.raises(InputError, match=r"in.parquet is not a Parquet file \(.*\); give --format"):
        Table(fake)
    real = tmp_path / "real.parquet"
    pq.write_table(pa.Table.from_pylist(RENAMED), real)
    as_csv = tmp_path / "data.csv"
    as_csv.write_bytes(real.read_bytes())
    with pytest.raises(InputError, match="data.csv is not CSV text: it holds binary bytes"):
        read_rows(as_csv)  # Parquet bytes named .csv: one line, before any row
    assert read_rows(fake, fmt="csv")[0].data == {"id": "1", "query": "q"}


def test_a_json_array_and_jsonl_named_json(tmp_path: Path) -> None:
    array = tmp_path / "a.json"
    array.write_text(json.dumps([{"id": 1, "query": "q"}, [1, 2]]))
    rows = read_rows(array)
    assert rows[0].data == {"id": 1, "query": "q"} and rows[1].data == [1, 2]
    assert rows[1].where == "item 2"
    lines = tmp_path / "b.json"
    lines.write_text('{"id": 1}\n{"id": 2}\n')
    assert [r.id for r in read_rows(lines)] == [1, 2]
    broken = tmp_path / "c.json"
    broken.write_text("[{")
    with pytest.raises(InputError, match="c.json is not JSON"):
        read_rows(broken)


# -- the mapping and the cells ------------------------------------------------------------


def test_parse_map() -> None:
    assert parse_map(["query=question", " response = answer "]) == {
        "query": "question",
        "response": "answer",
    }
    for bad in ("query", "=x", "query="):
        with pytest.raises(InputError, match="is not FIELD=COLUMN"):
            parse_map([bad])
    with pytest.raises(InputError, match="gives the field 'query' twice"):
        parse_map(["query=a", "query=b"])


@pytest.mark.parametrize(
    ("value", "text"),
    [("text", "text"), (3, "3"), (2.5, "2.5"), (True, "true"), (b"caf\xc3\xa9", "café")],
)
def test_a_cell_becomes_text(value: Any, text: str) -> None:
    assert cell_text("query", "question", value) == text


@pytest.mark.parametrize(
    ("value", "message"),
    [
        (None, "field 'query' (column 'question') is empty (null)"),
        (math.nan, "field 'query' (column 'question') is empty (null)"),
        ("  ", "field 'query' (column 'question') is empty"),
        (["a"], "field 'query' (column 'question') is a list, not text"),
        ({"a": 1}, "is an object, not text"),
        (b"\xff", "holds bytes that are not UTF-8"),
    ],
)
def test_a_cell_that_is_not_text_is_an_error_naming_field_and_column(
    value: Any, message: str
) -> None:
    with pytest.raises(InputError) as info:
        cell_text("query", "question", value)
    assert message in str(info.value)


def test_project_reads_only_the_metric_fields() -> None:
    record = {"question": "q", "context": "c", "response": 7, "label": "5"}
    assert project(record, ("query", "context", "response"), {"query": "question"}) == {
        "query": "q",
        "context": "c",
        "response": "7",
    }
    with pytest.raises(InputError, match="the row has no field 'query' \\(column 'q'\\)"):
        project(record, ("query",), {"query": "q"})


# -- sources: checked before the model ----------------------------------------------------


def test_a_mapped_column_the_table_lacks_lists_the_columns(tmp_path: Path) -> None:
    path = write_csv(tmp_path / "in.csv", "qid,question,ctx,answer\n1,q,c,r\n")
    source = RowSource(path, mapping={"query": "question", "context": "ctx"})
    with pytest.raises(InputError) as info:
        source.scan([PRESETS[METRIC]])
    assert str(info.value) == (
        f"{path} has no column for response (its columns: qid, question, ctx, answer); "
        "name the column with --map FIELD=COLUMN"
    )
    with pytest.raises(InputError, match="no column for --id-column nope"):
        RowSource(
            path,
            mapping={"query": "question", "context": "ctx", "response": "answer"},
            id_column="nope",
        ).scan([PRESETS[METRIC]])


def test_jsonl_with_a_map_checks_the_columns_its_rows_use(tmp_path: Path) -> None:
    path = tmp_path / "in.jsonl"
    path.write_text("".join(json.dumps(r) + "\n" for r in RENAMED))
    good = {"query": "question", "context": "ctx", "response": "answer"}
    assert RowSource(path, mapping=good, id_column="qid").scan([PRESETS[METRIC]]) == 4
    with pytest.raises(InputError, match="no column for response=reply"):
        RowSource(path, mapping={**good, "response": "reply"}).scan([PRESETS[METRIC]])


@pytest.mark.parametrize("kind", ["csv", "parquet"])
def test_a_duplicate_id_stops_the_scan_naming_both_rows(tmp_path: Path, kind: str) -> None:
    rows = [dict(r, qid="same" if n in (1, 3) else r["qid"]) for n, r in enumerate(RENAMED)]
    path = tmp_path / f"in.{kind}"
    if kind == "csv":
        write_table(path, list(rows[0]), rows)
        where = "line 3 and line 5"
    else:
        pq.write_table(pa.Table.from_pylist(rows), path)
        where = "row 2 and row 4"
    mapping = {"query": "question", "context": "ctx", "response": "answer"}
    source = RowSource(path, mapping=mapping, id_column="qid")
    with pytest.raises(InputError, match=f"id 'same' appears on {where}"):
        source.scan([PRESETS[METRIC]])


def test_ids_from_a_table_column(tmp_path: Path) -> None:
    path = tmp_path / "in.parquet"
    pq.write_table(
        pa.table({"id": [1.0, None, 3.0], "query": ["a", "b", "c"]}), path
    )  # an integer column with a null, as pandas writes it
    rows = read_rows(path)
    assert [(r.id, r.problem) for r in rows] == [
        (1, None),
        (2, "row 2: the id must be a string or an integer, not null"),
        (3, None),
    ]


# -- export -------------------------------------------------------------------------------


def verdicts_for(path: Path, ids: list[Any]) -> Path:
    lines = [
        {"id": ids[0], "feedback": "ok", "score": 4, "probabilities": {"4": 0.9, "5": 0.1},
         "expected_score": 4.1, "metric": METRIC},
        {"id": ids[1], "metric": METRIC, "error": "field 'query' is empty", "error_type": "X"},
    ]  # fmt: skip
    path.write_text("".join(json.dumps(line) + "\n" for line in lines))
    return path


@pytest.mark.parametrize("suffix", [".parquet", ".csv", ".jsonl"])
def test_export_joins_inputs_with_their_verdicts(tmp_path: Path, suffix: str) -> None:
    source_path = tmp_path / "in.csv"
    write_table(source_path, list(RENAMED[0]), RENAMED)
    verdicts = verdicts_for(tmp_path / "out.jsonl", ["r0", "r1"])
    to = tmp_path / f"joined{suffix}"
    source = RowSource(source_path, id_column="qid")
    assert export_verdicts(source, verdicts, to) == (4, [METRIC])
    if suffix == ".parquet":
        table = pq.read_table(to)
        assert table.schema.field(f"{METRIC}.score").type == pa.int64()
        got = table.to_pylist()
    elif suffix == ".csv":
        got = list(Table(to).records())
        got = [r.data for r in got]
    else:
        got = [json.loads(line) for line in to.read_text().splitlines()]
    assert [r["qid"] for r in got] == [r["qid"] for r in RENAMED]
    assert list(got[0])[:6] == ["qid", "question", "ctx", "answer", f"{METRIC}.score",
                                f"{METRIC}.feedback"]  # fmt: skip
    assert str(got[0][f"{METRIC}.score"]) == "4"
    assert got[1][f"{METRIC}.error"] == "field 'query' is empty"
    assert got[2][f"{METRIC}.score"] in (None, "")  # not judged yet: empty
    probabilities = got[0][f"{METRIC}.probabilities"]
    loaded = probabilities if isinstance(probabilities, dict) else json.loads(probabilities)
    assert loaded == {"4": 0.9, "5": 0.1}


def test_an_export_that_fails_leaves_the_old_file(tmp_path: Path) -> None:
    source = RowSource(write_csv(tmp_path / "in.csv", "id,query\n1,q\n"))
    verdicts = verdicts_for(tmp_path / "out.jsonl", ["1", "2"])
    to = tmp_path / "joined.csv"
    to.write_text("the old export\n")

    def rows_then_fail() -> Any:
        yield {"id": "1"}
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        write_table(to, ["id"], rows_then_fail())
    assert to.read_text() == "the old export\n"
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".")] == []
    with pytest.raises(InputError, match="end it in .jsonl, .csv, .tsv, .parquet"):
        export_verdicts(source, verdicts, tmp_path / "joined.xlsx")
    with pytest.raises(OutputError, match="is also the input"):
        export_verdicts(source, verdicts, tmp_path / "in.csv")


# -- judging a stream and a frame on the scripted runtime ---------------------------------


def test_a_batch_reads_its_rows_as_the_judge_takes_them(tmp_path: Path) -> None:
    read: list[int] = []

    def stream() -> Any:
        for n, row in enumerate(ROWS):
            read.append(n)
            yield batch.Row(n + 1, row["id"], data=row)

    seen_when_first_done: list[int] = []
    with (
        Judge(None, METRIC, runtime=FakeRuntime(VERDICT)) as judge,
        batch.BatchOutput(tmp_path / "out.jsonl") as output,
    ):
        for _ in batch.run_batch(judge, stream(), output):
            seen_when_first_done.append(len(read))
    assert seen_when_first_done[0] <= 2  # one slot: a row read ahead at most, never all
    assert [json.loads(x)["id"] for x in (tmp_path / "out.jsonl").read_text().splitlines()] == [
        r["id"] for r in ROWS
    ]


@pytest.mark.parametrize("slots", [1, 3])
def test_evaluate_frame_adds_verdict_columns_in_row_order(slots: int) -> None:
    import pandas as pd

    def answer(prompt: str, grammar: str | None) -> str:
        score = 5 if "Paris" in prompt else 2
        return f"<feedback>Seen.</feedback>\n<score>{score}</score>"

    frame = pd.DataFrame(RENAMED, index=[10, 11, 12, 13])
    frame.loc[12, "answer"] = None
    mapping = {"query": "question", "context": "ctx", "response": "answer"}
    with Judge(None, METRIC, runtime=FakeRuntime(answer, slots=slots)) as judge:
        out = judge.evaluate_frame(frame, map=mapping, progress=False)
        table = judge.evaluate_frame(pa.Table.from_pandas(frame, preserve_index=False), map=mapping)
        with pytest.raises(InputError, match="the frame has no column for query"):
            judge.evaluate_frame(frame)
    wanted = [5 if "Paris" in " ".join(map(str, r.values())) else 2 for r in RENAMED]
    wanted[2] = None
    assert list(out.index) == [10, 11, 12, 13] and list(frame.columns) == list(RENAMED[0])
    assert [None if pd.isna(v) else v for v in out[f"{METRIC}.score"]] == wanted
    assert str(out[f"{METRIC}.score"].dtype) == "Int64"
    assert "field 'response' (column 'answer') is empty" in out[f"{METRIC}.error"][12]
    assert table.column(f"{METRIC}.score").to_pylist() == wanted


def test_two_ids_that_share_a_hash_are_not_a_duplicate(tmp_path: Path) -> None:
    # The scan keeps each id's hash; rows whose hash repeats are read again and their ids
    # compared. Here "a" and "b" are made to look alike by their hashes.
    path = write_csv(tmp_path / "in.csv", "id,query\na,q\nb,q\na,q\n")
    source = RowSource(path)
    two = write_csv(tmp_path / "two.csv", "id,query\na,q\nb,q\n")
    RowSource(two)._duplicates(array("q", [hash(id_key("a"))] * 2))  # "a" once: no error
    with pytest.raises(InputError, match="id 'a' appears on line 2 and line 4"):
        source._duplicates(array("q", [hash(id_key("a"))] * 2))
