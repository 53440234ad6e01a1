"""`--corpus jaychou` and `lyrics-tui corpus fetch jaychou` against a local HTTP server: a good
zip is checked and unpacked into the data folder, then named like a bundled corpus; a wrong
checksum, a download cut short and a refused connection are one line each (with the manual
steps) and leave nothing behind. The real corpus is never fetched here: each test builds a tiny
zip of its own and points the download at the local server."""

from __future__ import annotations

import dataclasses
import hashlib
import io
import socket
import threading
import zipfile
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from lyrics_tui.core import downloads
from lyrics_tui.core.corpus import corpus_path, obtain_corpus, read_corpus
from lyrics_tui.core.errors import CorpusError
from lyrics_tui.tui.cli import main

LINES = "城市的灯火慢慢亮\n我在路口等你唱\n"  # original lines, made up for this test


def fake_zip(member: str = "jaychou_lyrics.txt", text: str = LINES) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr(member, text.encode("utf-8"))
    return buffer.getvalue()


GOOD = fake_zip()


class Handler(BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        if self.path == "/good.zip":
            self._send(GOOD)
        elif self.path == "/other.zip":
            self._send(fake_zip(text="另一首歌\n"))
        elif self.path == "/truncated.zip":
            self.send_response(200)
            self.send_header("Content-Length", str(len(GOOD)))
            self.end_headers()
            self.wfile.write(GOOD[: len(GOOD) // 2])  # then the connection closes
            self.close_connection = True
        else:
            self.send_error(404)

    def _send(self, data: bytes) -> None:
        self.send_response(200)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture(scope="module")
def server() -> Iterator[str]:
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}"
    httpd.shutdown()
    thread.join(timeout=5)
    httpd.server_close()


@pytest.fixture
def data_home(tmp_path, monkeypatch) -> Path:
    """A data folder of the test's own, and jaychou expecting the fake zip's checksum."""
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "data"))
    fake = dataclasses.replace(
        downloads.DOWNLOADABLE["jaychou"], sha256=hashlib.sha256(GOOD).hexdigest()
    )
    monkeypatch.setitem(downloads.DOWNLOADABLE, "jaychou", fake)
    return tmp_path / "data" / "lyrics-tui" / "corpora"


def refused_url() -> str:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    return f"http://127.0.0.1:{port}/jaychou_lyrics.txt.zip"  # nothing listens there now


def nothing_left(folder: Path) -> bool:
    return not folder.exists() or not any(folder.iterdir())


def test_a_good_zip_is_checked_unpacked_and_then_named_like_a_bundled_corpus(server, data_home):
    notes: list[str] = []
    path = downloads.fetch_corpus("jaychou", url=f"{server}/good.zip", on_note=notes.append)
    assert path == data_home / "jaychou_lyrics.txt"
    assert path.read_text(encoding="utf-8") == LINES
    assert len(notes) == 1 and "downloading" in notes[0]
    assert [p.name for p in data_home.iterdir()] == ["jaychou_lyrics.txt"]  # no temp file left
    assert corpus_path("jaychou") == path
    assert read_corpus(obtain_corpus("jaychou")).lines == LINES.split()
    # fetched once: later uses read the file and never download again
    assert downloads.fetch_corpus("jaychou", url=refused_url()) == path


def test_a_wrong_checksum_is_one_line_and_leaves_nothing(server, data_home):
    with pytest.raises(CorpusError) as info:
        downloads.fetch_corpus("jaychou", url=f"{server}/other.zip")
    text = str(info.value)
    assert "\n" not in text and "is not the expected file: its sha256 is" in text
    assert "to do it by hand" in text and downloads.DOWNLOADABLE["jaychou"].sha256 in text
    assert nothing_left(data_home)


def test_a_download_cut_short_is_one_line_and_leaves_nothing(server, data_home):
    with pytest.raises(CorpusError) as info:
        downloads.fetch_corpus("jaychou", url=f"{server}/truncated.zip")
    half = len(GOOD) // 2
    assert f"broke off after {half:,} of {len(GOOD):,} bytes" in str(info.value)
    assert nothing_left(data_home)


def test_a_refused_connection_is_one_line_with_the_manual_steps(data_home):
    url = refused_url()
    with pytest.raises(CorpusError) as info:
        downloads.fetch_corpus("jaychou", url=url)
    text = str(info.value)
    assert text.startswith("jaychou: could not download it (") and "\n" not in text
    assert f"download {url}, check that its sha256 is" in text and "unzip it" in text
    assert nothing_left(data_home)


def test_corpus_fetch_on_the_command_line(server, data_home, capsys):
    assert main(["corpus"]) == 0
    assert "lyrics-tui corpus fetch jaychou" in capsys.readouterr().out
    assert main(["corpus", "fetch", "jaychou", "--url", f"{server}/good.zip"]) == 0
    out, err = capsys.readouterr()
    where = data_home / "jaychou_lyrics.txt"
    assert out == f"jaychou: at {where}; lyrics-tui train --corpus jaychou uses it\n"
    assert err == ""
    assert main(["corpus"]) == 0
    assert "(downloaded)" in capsys.readouterr().out


@pytest.mark.parametrize("command", [["train", "--epochs", "1"], ["demo"], []])
def test_corpus_jaychou_offline_exits_2_with_one_line(data_home, capsys, monkeypatch, command):
    monkeypatch.setenv("LYRICS_TUI_JAYCHOU_URL", refused_url())
    argv = [*command, "--corpus", "jaychou"] if command else ["--corpus", "jaychou"]
    assert main(argv) == 2
    out, err = capsys.readouterr()
    assert out == "" and err.count("\n") == 1 and "Traceback" not in err
    assert err.startswith("lyrics-tui: jaychou: could not download it")
    assert nothing_left(data_home)
