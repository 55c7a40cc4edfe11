"""A saved classifier broken in any way gives one sentence, never a traceback: fuzzed byte by byte.

Valid bundles (a zip, and a folder) are mutated at random places (flipped bytes, cut short, a
stretch overwritten) and loaded as ``predict`` loads them: the outcome is a classifier that still
works, or a ``BundleError`` sentence. The command line turns every such sentence into exit status 2.
"""

from __future__ import annotations

import io
import json
import subprocess
import sys
import zipfile

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bertviz_core.errors import UserError
from bertviz_core.model.bundle import BUNDLE_FILES, load_bundle, save_bundle
from bertviz_core.model.classifier import predict_proba
from tests.model.conftest import export_zip

pytestmark = pytest.mark.slow
FUZZ = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])


class Payload(bytes):
    """The valid zip, with a short repr: hypothesis prints its arguments when a case fails."""

    def __repr__(self) -> str:
        return f"<a valid bundle zip of {len(self):,} bytes>"


@pytest.fixture(scope="module")
def zip_bytes(trained) -> Payload:
    return Payload(export_zip(trained))


def load_or_sentence(source) -> None:
    try:
        bundle = load_bundle(source)
    except UserError as error:
        message = str(error)
        assert message and "\n" not in message and "Traceback" not in message, message
        return
    probabilities = predict_proba(bundle, ["a sentence to try"])  # what loaded must also predict
    assert probabilities.shape == (1, len(bundle.class_names))


mutations = st.lists(
    st.tuples(
        st.integers(min_value=0),
        st.sampled_from(["flip", "cut", "stamp"]),
        st.binary(min_size=1, max_size=64),
    ),
    min_size=1,
    max_size=4,
)


def mutate(payload: bytes, changes: list) -> bytes:
    data = bytearray(payload)
    for position, how, stuff in changes:
        if not data:
            break
        at = position % len(data)
        if how == "flip":
            data[at] ^= stuff[0] or 0xFF
        elif how == "cut":
            del data[at:]
        else:
            data[at : at + len(stuff)] = stuff
    return bytes(data)


@FUZZ
@given(mutations)
def test_a_zip_mutated_anywhere_loads_or_says_why_in_one_sentence(zip_bytes, changes) -> None:
    load_or_sentence(mutate(zip_bytes, changes))


@FUZZ
@given(st.sampled_from(BUNDLE_FILES), mutations)
def test_a_folder_with_one_file_mutated_loads_or_says_why(trained, tmp_path_factory, name, changes) -> None:
    folder = save_bundle(trained, tmp_path_factory.mktemp("bundle"))
    path = folder / name
    path.write_bytes(mutate(path.read_bytes(), changes))
    load_or_sentence(folder)


def rewritten(zip_payload: bytes, name: str, content: bytes) -> bytes:
    """The zip with one member replaced (stored uncompressed, CRC right)."""
    source = zipfile.ZipFile(io.BytesIO(zip_payload))
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as target:
        for member in source.namelist():
            target.writestr(member, content if member == name else source.read(member))
    return buffer.getvalue()


@pytest.mark.parametrize(
    ("name", "content"),
    [
        ("labels.json", b'{"a": 1}'),
        ("labels.json", b"[1, 2]"),
        ("config.json", b'{"model": {"vocab": "many"}, "training": {}}'),
        ("config.json", b"[]"),
        ("metrics.json", b"[[["),
        ("vocab.txt", b"\xff\xfe\x00"),
        ("model.h5", b"\x89HDF\r\n\x1a\n" + b"\x00" * 64),  # HDF5's signature, nothing after it
        ("model.h5", b"not hdf5 at all"),
    ],
)
def test_wrong_types_and_files_that_are_not_what_they_say_are_one_sentence(zip_bytes, name, content) -> None:
    with pytest.raises(UserError) as refusal:
        load_bundle(rewritten(zip_bytes, name, content))
    assert "\n" not in str(refusal.value)


def test_the_command_line_answers_a_corrupted_model_with_exit_2_and_one_sentence(zip_bytes, tmp_path) -> None:
    # Corrupt the deflated bytes of model.h5 inside the zip (its data starts after the local header).
    archive = zipfile.ZipFile(io.BytesIO(zip_bytes))
    info = archive.getinfo("model.h5")
    data = bytearray(zip_bytes)
    start = info.header_offset + 30 + len(info.filename.encode()) + len(info.extra)
    for offset in range(start + 100, start + 400, 7):
        data[offset] ^= 0x5A
    path = tmp_path / "broken.zip"
    path.write_bytes(bytes(data))
    finished = subprocess.run(
        [sys.executable, "-m", "bertviz_core", "predict", str(path), "hello"],
        capture_output=True, text=True, timeout=300, check=False,
    )  # fmt: skip
    assert finished.returncode == 2, finished.stderr
    lines = [line for line in finished.stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("error: ") and "Traceback" not in finished.stderr, lines
    json.dumps(lines)  # plain text
