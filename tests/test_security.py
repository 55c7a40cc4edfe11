"""What a stranger's file, link or zip can do to the app or to the people who download from it: nothing.

- Exported CSV cells never start a spreadsheet formula (the core's writer, the explorer's layer
  table and the training page's metrics and history).
- An exported model zip holds only plain names; ``load_bundle`` refuses anything else, and
  loading never unpickles.
- No code runs from data: the sources hold no pickle, eval, exec or Lambda layer, and every
  model load names keras-bert's custom objects.
- User text is shown as text: no page renders HTML, and markup in an uploaded CSV (file name,
  header, cells, class names) reaches every Markdown-rendered string escaped.
- Uploads above the limit are refused in one sentence naming it; Streamlit's own limit agrees.
"""

from __future__ import annotations

import ast
import csv
import io
import json
import re
import struct
import tomllib
import zipfile
from pathlib import Path

import pandas as pd
import pytest
from hypothesis import given
from hypothesis import strategies as st
from streamlit.testing.v1 import AppTest

from bertviz_core.data.export import to_safe_csv
from bertviz_core.data.limits import MAX_UPLOAD_MB
from bertviz_core.data.table import read_csv_bytes
from bertviz_core.errors import BundleError, DataError
from bertviz_core.model.bundle import ALLOWED_CLASS_NAMES, BUNDLE_FILES, load_bundle
from bertviz_core.model.checkpoint import MAX_CHECKPOINT_MB
from tests.helpers import budget_as_on_a_server, finished_run_folder, result_zip, train_on_page

REPO_ROOT = Path(__file__).resolve().parent.parent
TRAIN_PAGE = str(REPO_ROOT / "app_pages" / "train.py")
EXPLORER_PAGE = str(REPO_ROOT / "app_pages" / "explorer.py")


def _sources(folder: str, least: int) -> list[Path]:
    """Every Python file below ``folder``; fails at collection if a move left fewer than ``least``,
    so a scan can never pass by matching nothing."""
    found = sorted((REPO_ROOT / folder).rglob("*.py"))
    if len(found) < least:
        raise AssertionError(f"only {len(found)} Python files below {folder}/: did the code move?")
    return found


# Every scan below covers these: the app's entry point, its pages, the UI package and the core.
PAGE_SOURCES = [REPO_ROOT / "app.py", *_sources("app_pages", 2), *_sources("bertviz_ui", 5)]
APP_SOURCES = sorted([*PAGE_SOURCES, *_sources("bertviz_core", 30)])
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def csv_cells(payload: bytes) -> list[list[str]]:
    return list(csv.reader(io.StringIO(payload.decode("utf-8"), newline="")))


# --- CSV exports ----------------------------------------------------------------------------------


@given(
    st.lists(
        st.one_of(st.text(max_size=12), st.sampled_from(["=1+1", "+A1", "-2", "@SUM(A1)", "\t=x", "\r=y"])),
        min_size=1,
        max_size=8,
    )
)
def test_no_exported_text_cell_can_start_a_formula(cells: list[str]) -> None:
    frame = pd.DataFrame({"=text": cells, "number": list(range(-len(cells), 0))})
    rows = csv_cells(to_safe_csv(frame))
    assert rows[0] == ["'=text", "number"]
    for original, row in zip(cells, rows[1:], strict=True):
        exported = row[0]
        assert not exported.startswith(FORMULA_STARTS)
        # Neutralised by one leading apostrophe, nothing else changed.
        assert exported in (original, "'" + original)
        assert (exported != original) == original.startswith(FORMULA_STARTS)
    assert [int(row[1]) for row in rows[1:]] == list(range(-len(cells), 0))  # numbers stay numbers


def _calls(tree: ast.AST, method: str) -> list[ast.Call]:
    return [
        node
        for node in ast.walk(tree)
        if isinstance(node, ast.Call)
        and (
            (isinstance(node.func, ast.Attribute) and node.func.attr == method)
            or (isinstance(node.func, ast.Name) and node.func.id == method)
        )
    ]


def _keyword(call: ast.Call, name: str) -> ast.expr | None:
    return next((keyword.value for keyword in call.keywords if keyword.arg == name), None)


def test_every_csv_download_on_a_page_goes_through_to_safe_csv() -> None:
    csv_downloads = 0
    for path in PAGE_SOURCES:
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for call in _calls(tree, "download_button"):
            mime = _keyword(call, "mime")
            file_name = _keyword(call, "file_name")
            is_csv = (isinstance(mime, ast.Constant) and mime.value == "text/csv") or (
                isinstance(file_name, ast.Constant) and str(file_name.value).endswith(".csv")
            )
            if not is_csv:
                continue
            csv_downloads += 1
            payload = call.args[1] if len(call.args) > 1 else _keyword(call, "data")
            assert payload is not None and "to_safe_csv" in ast.unparse(payload), (
                f"{path.name}:{call.lineno} offers a CSV download not written by data.to_safe_csv"
            )
    assert csv_downloads >= 3  # the explorer's layer table, the trainer's metrics and history


class DownloadSpy:
    """Records what every ``download_button`` on a page would hand to the browser."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch) -> None:
        from streamlit.delta_generator import DeltaGenerator

        self.payloads: dict[str, bytes] = {}
        original = DeltaGenerator.download_button

        def spy(generator, label, data, *args, **kwargs):
            content = data() if callable(data) else data
            self.payloads[kwargs.get("key") or label] = (
                content.encode("utf-8") if isinstance(content, str) else bytes(content)
            )
            return original(generator, label, data, *args, **kwargs)

        monkeypatch.setattr(DeltaGenerator, "download_button", spy)


def test_the_explorers_layer_table_csv_is_neutralised(monkeypatch: pytest.MonkeyPatch) -> None:
    spy = DownloadSpy(monkeypatch)
    app = AppTest.from_file(EXPLORER_PAGE, default_timeout=30).run()
    assert not app.exception
    rows = csv_cells(spy.payloads["explorer_download_csv"])
    assert rows[0][:3] == ["Layer (type)", "Output Shape", "Param #"]
    assert len(rows) > 10
    for row in rows:
        for cell in row:
            assert not cell.startswith(FORMULA_STARTS), cell


# --- one hostile upload, trained on: names, markup and formulas all the way through ---------------

MARK = "pwn"  # every payload carries it, so the test can find where user text ended up
HOSTILE_FILE_NAME = f"<img src=x onerror=alert('{MARK}')>.csv"
# The first is the majority class (it has more rows): the page names it in several places.
HOSTILE_CLASSES = (
    f'=HYPERLINK("http://x")[{MARK}](http://127.0.0.1:9/)',
    f"@{MARK}<script>alert(1)</script>",
)
HOSTILE_TEXT_HEADER = f"<script>alert('{MARK}')</script>"
HOSTILE_LABEL_HEADER = f"[{MARK}](javascript:alert(1))"


def hostile_csv(rows: int = 120) -> bytes:
    """Two learnable classes whose names, header and texts are all markup or formulas."""
    good = ["lovely", "great", "superb", "cheerful", "bright", "charming"]
    bad = ["awful", "broken", "dull", "noisy", "flimsy", "gloomy"]
    lines = [f'"{HOSTILE_TEXT_HEADER}","{HOSTILE_LABEL_HEADER}"']
    for index in range(rows):
        words, label = (good, HOSTILE_CLASSES[0]) if index % 5 < 3 else (bad, HOSTILE_CLASSES[1])
        text = (
            f"![{MARK}](http://127.0.0.1:9/t.png) <img src=x onerror=alert({index})> "
            f"the thing is {words[index % 6]} and {words[(index * 5 + 1) % 6]}"
        )
        label_cell = label.replace('"', '""')
        lines.append(f'"{text}","{label_cell}"')
    return ("\n".join(lines) + "\n").encode()


# Fields of Streamlit's element messages that the browser renders as Markdown.
MARKDOWN_FIELDS = {"body", "label", "help", "caption", "placeholder", "delta"}
# An unescaped '<' (HTML) or '](' / '![' (a Markdown link or image) in rendered text.
UNESCAPED_MARKUP = re.compile(r"(?<!\\)<|(?<!\\)\]\(|(?<!\\)!\[")


def markdown_strings(app: AppTest) -> list[tuple[str, str]]:
    """(element type, text) for every Markdown-rendered string on the page, charts and tables excluded."""
    found: list[tuple[str, str]] = []

    def collect(kind: str, message) -> None:
        for field, value in message.ListFields():
            if field.message_type is not None:
                for item in [value] if hasattr(value, "ListFields") else value:
                    collect(kind, item)
            elif field.name in MARKDOWN_FIELDS and isinstance(value, str):
                found.append((kind, value))

    def walk(node) -> None:
        children = getattr(node, "children", None)
        if isinstance(children, dict):
            for child in children.values():
                walk(child)
        proto = getattr(node, "proto", None)
        kind = getattr(node, "type", type(node).__name__)
        if proto is not None and kind not in {"plotly_chart", "arrow_data_frame", "dataframe"}:
            collect(kind, proto)

    walk(app._tree)
    return found


def assert_user_text_is_escaped(app: AppTest) -> int:
    shown = [(kind, text) for kind, text in markdown_strings(app) if MARK in text]
    for kind, text in shown:
        assert not UNESCAPED_MARKUP.search(text), f"{kind} renders user text as markup: {text!r}"
    return len(shown)


@pytest.fixture(scope="module")
def hostile_training(tmp_path_factory) -> dict:
    """The training page after uploading the hostile CSV and training a tiny model on it."""
    monkeypatch = pytest.MonkeyPatch()
    try:
        spy = DownloadSpy(monkeypatch)
        with budget_as_on_a_server():
            app = AppTest.from_file(TRAIN_PAGE, default_timeout=180).run()
            app.radio(key="train_source").set_value("My CSV file").run()
            app.file_uploader[0].set_value((HOSTILE_FILE_NAME, hostile_csv(), "text/csv")).run()
            assert not app.exception, [element.value for element in app.exception]
            uploaded_view = {
                "strings": assert_user_text_is_escaped(app),
                "errors": [e.value for e in app.error],
            }
            for key, value in (
                ("train_model_embed_dim", 16),
                ("train_model_ff_dim", 32),
                ("train_model_layers", 1),
                ("train_model_seq_len", 24),
                ("train_epochs", 2),
                ("train_batch_size", 16),
            ):
                app.number_input(key=key).set_value(value)
            app.run()
            train_on_page(app)
            assert not app.exception, [element.value for element in app.exception]
            app.text_input(key="train_predict_text").input(f"<b>{MARK}</b> lovely and bright").run()
            assert not app.exception, [element.value for element in app.exception]
        return {"app": app, "downloads": dict(spy.payloads), "uploaded_view": uploaded_view}
    finally:
        monkeypatch.undo()


@pytest.mark.slow
def test_markup_in_an_upload_is_shown_as_text(hostile_training) -> None:
    assert hostile_training["uploaded_view"]["errors"] == []
    app = hostile_training["app"]
    assert finished_run_folder(app).is_dir(), "training did not finish"
    assert assert_user_text_is_escaped(app) >= 3  # results caption, verdict, prediction, ...
    assert not app.get("html") and not app.get("iframe")


@pytest.mark.slow
def test_training_page_csv_downloads_are_neutralised(hostile_training) -> None:
    metrics = csv_cells(hostile_training["downloads"]["train_download_metrics"])
    history = csv_cells(hostile_training["downloads"]["train_download_history"])
    classes = [row[0] for row in metrics[1:]]
    assert set(classes) >= {"'" + HOSTILE_CLASSES[0], "'" + HOSTILE_CLASSES[1]}
    for row in metrics + history:
        for cell in row:
            assert not cell.startswith(FORMULA_STARTS), cell


@pytest.mark.slow
def test_the_pages_model_zip_has_plain_names_and_no_code(hostile_training, tmp_path) -> None:
    payload = result_zip(hostile_training["app"])
    assert payload == hostile_training["downloads"]["train_download_zip"]
    with zipfile.ZipFile(io.BytesIO(payload)) as archive:
        names = archive.namelist()
        assert sorted(names) == sorted(BUNDLE_FILES)
        for name in names:
            assert "/" not in name and "\\" not in name and ".." not in name and not name.startswith(".")
        assert set(json.loads(archive.read("labels.json"))) == set(HOSTILE_CLASSES)
        model_path = tmp_path / "model.h5"
        model_path.write_bytes(archive.read("model.h5"))
    import h5py

    with h5py.File(model_path, "r") as handle:
        model_config = json.loads(handle.attrs["model_config"])
    class_names = set(re.findall(r'"class_name":\s*"([^"]+)"', json.dumps(model_config)))
    assert "Lambda" not in class_names and class_names <= ALLOWED_CLASS_NAMES
    assert '"function"' not in json.dumps(model_config)  # where a Lambda keeps its bytecode


@pytest.mark.slow
def test_loading_the_zip_never_unpickles(hostile_training, monkeypatch: pytest.MonkeyPatch) -> None:
    import marshal
    import pickle

    # A first load imports what loading needs (TensorFlow's lazily imported modules among them), since
    # importing a module unmarshals its bytecode; what the second load may not do is unpickle data.
    load_bundle(result_zip(hostile_training["app"]))

    def refuse(*args, **kwargs):
        raise AssertionError("loading a bundle tried to unpickle or unmarshal data")

    for module, names in ((pickle, ("load", "loads", "Unpickler")), (marshal, ("load", "loads"))):
        for name in names:
            monkeypatch.setattr(module, name, refuse)
    bundle = load_bundle(result_zip(hostile_training["app"]))
    assert set(bundle.class_names) == set(HOSTILE_CLASSES)


# --- hostile zips ---------------------------------------------------------------------------------


def _zip(entries: list[tuple[str | zipfile.ZipInfo, bytes]]) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        for name, content in entries:
            archive.writestr(name, content)
    return buffer.getvalue()


def _plain_entries() -> list[tuple[str, bytes]]:
    """The five names with harmless contents: refusals below must come before any of them is parsed."""
    return [(name, b"x") for name in BUNDLE_FILES]


@pytest.mark.parametrize(
    "hostile_name",
    [
        "../vocab.txt",
        "../../etc/passwd",
        "/tmp/model.h5",
        "C:\\Windows\\model.h5",
        "folder/model.h5",
        "./model.h5",
        "model.h5/",
        "model.h5\x00.txt",
        "MODEL.H5",
        "run.py",
        "__init__.py",
        "model.pkl",
    ],
)
def test_zip_with_a_traversal_or_unknown_name_is_refused(hostile_name: str) -> None:
    payload = _zip([*_plain_entries(), (hostile_name, b"import os")])
    with pytest.raises(BundleError) as refusal:
        load_bundle(payload)
    message = str(refusal.value)
    # zipfile cuts a name at NUL, so "model.h5\x00.txt" arrives as a second model.h5.
    assert "not part of a saved classifier" in message or "twice" in message
    assert "\n" not in message


def test_zip_with_a_symlink_entry_is_refused_before_it_is_parsed() -> None:
    link = zipfile.ZipInfo("vocab.txt")
    link.external_attr = (0o120777 << 16) | 0x10  # a Unix symbolic link to /etc/passwd
    entries = [entry for entry in _plain_entries() if entry[0] != "vocab.txt"] + [(link, b"/etc/passwd")]
    with pytest.raises(BundleError):  # read as a tiny text file: never followed, never valid
        load_bundle(_zip(entries))


def test_oversized_entries_are_refused_before_they_are_read() -> None:
    bomb = b"\0" * (3 * 1024 * 1024)  # compresses to a few kilobytes
    payload = _zip([*[entry for entry in _plain_entries() if entry[0] != "vocab.txt"], ("vocab.txt", bomb)])
    assert len(payload) < 64 * 1024
    with pytest.raises(BundleError, match="unpacks to more than 1 MB"):
        load_bundle(payload, max_bytes=1024 * 1024)


def test_an_entry_lying_about_its_size_is_refused() -> None:
    entries = [entry for entry in _plain_entries() if entry[0] != "vocab.txt"]
    payload = bytearray(_zip([*entries, ("vocab.txt", b"\0" * 500_000)]))
    # Claim 10 bytes for vocab.txt in its local header (offset 22) and its central record (24).
    local = zipfile.ZipFile(io.BytesIO(bytes(payload))).getinfo("vocab.txt").header_offset
    struct.pack_into("<I", payload, local + 22, 10)
    for match in re.finditer(rb"PK\x01\x02", bytes(payload)):
        name_length = struct.unpack_from("<H", payload, match.start() + 28)[0]
        if payload[match.start() + 46 : match.start() + 46 + name_length] == b"vocab.txt":
            struct.pack_into("<I", payload, match.start() + 24, 10)
    assert zipfile.ZipFile(io.BytesIO(bytes(payload))).getinfo("vocab.txt").file_size == 10
    with pytest.raises(BundleError):
        load_bundle(bytes(payload), max_bytes=100_000)


def test_encrypted_or_duplicate_entries_are_refused() -> None:
    duplicate = _zip([*_plain_entries(), ("vocab.txt", b"again")])
    with pytest.raises(BundleError, match="twice"):
        load_bundle(duplicate)
    encrypted = bytearray(_zip(_plain_entries()))
    for match in re.finditer(rb"PK\x01\x02", bytes(encrypted)):
        flags = struct.unpack_from("<H", encrypted, match.start() + 8)[0]
        struct.pack_into("<H", encrypted, match.start() + 8, flags | 0x1)
    with pytest.raises(BundleError, match="encrypted"):
        load_bundle(bytes(encrypted))


# --- no code from data: a scan of the sources -----------------------------------------------------

UNSAFE_MODULES = {"pickle", "cPickle", "_pickle", "marshal", "shelve", "dill", "cloudpickle", "joblib"}
UNSAFE_BUILTINS = {"eval", "exec", "compile", "__import__"}  # as bare names; re.compile is fine
UNSAFE_ATTRIBUTES = {"Lambda", "read_pickle", "to_pickle", "lambda_callback"}


@pytest.mark.parametrize("path", APP_SOURCES, ids=lambda path: str(path.relative_to(REPO_ROOT)))
def test_sources_hold_no_pickle_eval_exec_or_lambda_layer(path: Path) -> None:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    where = str(path.relative_to(REPO_ROOT))
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            assert not {alias.name.split(".")[0] for alias in node.names} & UNSAFE_MODULES, where
        elif isinstance(node, ast.ImportFrom):
            assert (node.module or "").split(".")[0] not in UNSAFE_MODULES, where
        elif isinstance(node, ast.Name):
            assert node.id not in UNSAFE_BUILTINS | {"Lambda"}, f"{where}:{node.lineno} uses {node.id}"
        elif isinstance(node, ast.Attribute):
            assert node.attr not in UNSAFE_ATTRIBUTES, f"{where}:{node.lineno} uses .{node.attr}"
        elif isinstance(node, ast.keyword) and node.arg in {"allow_pickle", "shell", "safe_mode"}:
            # np.load(allow_pickle=True), subprocess(shell=True) and load_model(safe_mode=False) run code.
            unsafe = not (
                isinstance(node.value, ast.Constant) and node.value.value is (node.arg == "safe_mode")
            )
            assert not unsafe, f"{where}:{node.value.lineno} sets {node.arg}"
    for call in _calls(tree, "load_model"):
        # Only keras-bert's own layers (and this project's exact GELU, below) may be named by a saved
        # model; the optimizer is never restored.
        custom = _keyword(call, "custom_objects")
        named = ast.unparse(custom) if custom is not None else ""
        assert "get_custom_objects" in named or named == "activations.custom_objects()", (
            f"{where}:{call.lineno}"
        )
        compile_flag = _keyword(call, "compile")
        assert isinstance(compile_flag, ast.Constant) and compile_flag.value is False, (
            f"{where}:{call.lineno}"
        )


# --- no HTML from users: a scan of the pages ------------------------------------------------------

HTML_CALLS = {"html", "iframe", "declare_component"}


@pytest.mark.parametrize("path", PAGE_SOURCES, ids=lambda path: str(path.relative_to(REPO_ROOT)))
def test_pages_render_no_html_built_from_data(path: Path) -> None:
    """No st.html, no components, and unsafe_allow_html only with a fixed string (none today)."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    where = str(path.relative_to(REPO_ROOT))
    for node in ast.walk(tree):
        if isinstance(node, (ast.Import, ast.ImportFrom)):
            modules = [alias.name for alias in node.names] + [getattr(node, "module", None) or ""]
            assert not any("components" in module for module in modules), f"{where}:{node.lineno}"
        if isinstance(node, ast.Attribute) and node.attr in {"components", "html"}:
            raise AssertionError(f"{where}:{node.lineno} uses .{node.attr}")
        if isinstance(node, ast.Call):
            name = node.func.attr if isinstance(node.func, ast.Attribute) else getattr(node.func, "id", "")
            assert name not in HTML_CALLS, f"{where}:{node.lineno} calls {name}"
            unsafe = _keyword(node, "unsafe_allow_html")
            if unsafe is not None and not (isinstance(unsafe, ast.Constant) and unsafe.value is False):
                assert node.args and isinstance(node.args[0], ast.Constant), (
                    f"{where}:{node.lineno} renders HTML built from variables"
                )


# --- upload size ----------------------------------------------------------------------------------


def test_streamlits_upload_limits_are_the_readers_limits() -> None:
    """The server takes nothing larger than a checkpoint zip; the CSV uploader nothing larger than a CSV."""
    settings = tomllib.loads((REPO_ROOT / ".streamlit" / "config.toml").read_text(encoding="utf-8"))
    assert settings["server"]["maxUploadSize"] == MAX_CHECKPOINT_MB
    source = (REPO_ROOT / "bertviz_ui" / "train_data.py").read_text(encoding="utf-8")
    assert "max_upload_size=MAX_UPLOAD_MB" in source
    source = (REPO_ROOT / "bertviz_ui" / "start_from.py").read_text(encoding="utf-8")
    assert "max_upload_size=MAX_CHECKPOINT_MB" in source


def test_an_upload_over_the_limit_is_refused_in_one_sentence_naming_it() -> None:
    limit = MAX_UPLOAD_MB * 1024 * 1024
    header = b"text,label\n"
    payload = header + b"a fine text,pos\n" * ((limit - len(header)) // 16 + 1)
    assert len(payload) > limit
    with pytest.raises(DataError) as refusal:
        read_csv_bytes(payload, "big.csv")
    message = str(refusal.value)
    assert f"{MAX_UPLOAD_MB} MB" in message and "big.csv" in message
    assert "\n" not in message and message.count(". ") == 0 and message.endswith(".")


@pytest.mark.slow
def test_the_training_page_shows_the_size_refusal() -> None:
    payload = b"text,label\n" + b"x" * (MAX_UPLOAD_MB * 1024 * 1024)
    app = AppTest.from_file(TRAIN_PAGE, default_timeout=60).run()
    app.radio(key="train_source").set_value("My CSV file").run()
    app.file_uploader[0].set_value(("huge.csv", payload, "text/csv")).run()
    assert not app.exception
    errors = [re.sub(r"\\(.)", r"\1", element.value) for element in app.error]
    assert len(errors) == 1 and f"more than the {MAX_UPLOAD_MB} MB limit" in errors[0]
    assert not [button for button in app.button if button.key == "train_start"]


def test_a_saved_classifier_may_name_keras_berts_objects_and_the_exact_gelu_only():
    from bertviz_core.model import activations, runtime

    objects = activations.custom_objects()
    assert set(objects) - set(runtime.keras_bert().get_custom_objects()) == {"GeluErf"}
    assert objects["GeluErf"] is activations.GeluErf
