"""Corpora that lyrics-tui may not ship but a learner wants, above all the tutorial's own: fetched
once from where the tutorial's book keeps them, checked against a known sha256, unpacked into
the user's data folder, and from then on named like a bundled corpus (`--corpus jaychou`).

Nothing half-written is left behind: the text is written to a temporary file in the same folder
and renamed into place only once the download is whole, checked and unpacked.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from lyrics_tui.core.errors import CorpusError
from lyrics_tui.core.paths import user_data_dir

MAX_DOWNLOAD_BYTES = 16 * 1024 * 1024  # far above any corpus listed: a wrong URL stops early
TIMEOUT_S = 30.0


@dataclass(frozen=True)
class DownloadableCorpus:
    name: str
    url: str
    sha256: str  # of the file at `url`
    member: str  # the text inside the zip, and the name it is kept under
    about: str
    credit: str

    @property
    def path(self) -> Path:
        """Where the text is kept once fetched."""
        return user_data_dir() / "corpora" / self.member

    @property
    def url_variable(self) -> str:
        """An environment variable that points the download at a mirror."""
        return f"LYRICS_TUI_{self.name.upper()}_URL"

    def source(self) -> str:
        return os.environ.get(self.url_variable) or self.url

    def manual_steps(self, url: str) -> str:
        return (
            f"to do it by hand, download {url}, check that its sha256 is {self.sha256}, "
            f"unzip it and give --corpus the file {self.member} (or put it at {self.path})"
        )


DOWNLOADABLE: dict[str, DownloadableCorpus] = {
    corpus.name: corpus
    for corpus in (
        # d2l-zh's loader (d2lzh/utils.py, load_data_jay_lyrics) reads data/ of its own
        # repository; the file is on its v1 branch, the edition the tutorial follows.
        DownloadableCorpus(
            name="jaychou",
            url="https://raw.githubusercontent.com/d2l-ai/d2l-zh/v1/data/jaychou_lyrics.txt.zip",
            sha256="3cfedd7d174111cdad5a27eaffaa6a2432a2842cf2590a03dd8a97610ea07043",
            member="jaychou_lyrics.txt",
            about="Jay Chou's lyrics, the tutorial's corpus (5,819 lines; downloaded once)",
            credit="from d2l-zh (Dive into Deep Learning, Chinese edition); not ours to "
            "redistribute, so never shipped with lyrics-tui",
        ),
    )
}


def downloadable(spec: str | os.PathLike[str] | None) -> DownloadableCorpus | None:
    """The downloadable corpus `spec` names, else None."""
    return DOWNLOADABLE.get(os.fspath(spec)) if spec is not None else None


def fetch_corpus(
    name: str, url: str | None = None, on_note: Callable[[str], None] | None = None
) -> Path:
    """The corpus's text file, downloaded, checked and unpacked first when it is not there yet.
    CorpusError (one line, with the manual steps) when that cannot be done."""
    corpus = DOWNLOADABLE[name]
    target = corpus.path
    if target.is_file():
        return target
    url = url or corpus.source()
    if on_note is not None:
        on_note(f"{name}: downloading {url} (once; kept in {target.parent})")
    text = _member(corpus, _checked(corpus, _download(corpus, url), url), url)
    _write_atomically(corpus, target, text)
    return target


def _fail(corpus: DownloadableCorpus, url: str, what: str) -> CorpusError:
    return CorpusError(f"{corpus.name}: {what}; {corpus.manual_steps(url)}")


def _download(corpus: DownloadableCorpus, url: str) -> bytes:
    import http.client  # here: the command line's start does without them
    import urllib.error
    import urllib.request

    try:
        with urllib.request.urlopen(url, timeout=TIMEOUT_S) as response:
            length = int(response.headers.get("Content-Length") or 0)
            if length > MAX_DOWNLOAD_BYTES:
                raise _fail(corpus, url, f"the file is larger than {MAX_DOWNLOAD_BYTES:,} bytes")
            # with a length given, read() says when the connection ends short of it
            data = response.read() if length else response.read(MAX_DOWNLOAD_BYTES + 1)
    except urllib.error.HTTPError as exc:
        raise _fail(corpus, url, f"the download failed (HTTP {exc.code} {exc.reason})") from None
    except urllib.error.URLError as exc:
        raise _fail(corpus, url, f"could not download it ({exc.reason})") from None
    except http.client.IncompleteRead as exc:
        got, wanted = len(exc.partial), len(exc.partial) + (exc.expected or 0)
        raise _fail(
            corpus, url, f"the download broke off after {got:,} of {wanted:,} bytes"
        ) from None
    except CorpusError:
        raise
    except (OSError, http.client.HTTPException, ValueError) as exc:
        raise _fail(corpus, url, f"could not download it ({exc or type(exc).__name__})") from None
    if len(data) > MAX_DOWNLOAD_BYTES:
        raise _fail(corpus, url, f"the download is larger than {MAX_DOWNLOAD_BYTES:,} bytes")
    return data


def _checked(corpus: DownloadableCorpus, data: bytes, url: str) -> bytes:
    import hashlib

    digest = hashlib.sha256(data).hexdigest()
    if digest != corpus.sha256:
        raise _fail(
            corpus,
            url,
            f"the download ({len(data):,} bytes) is not the expected file: its sha256 is {digest}",
        )
    return data


def _member(corpus: DownloadableCorpus, data: bytes, url: str) -> bytes:
    import io
    import zipfile

    try:
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            return archive.read(corpus.member)
    except KeyError:
        raise _fail(corpus, url, f"the zip holds no {corpus.member}") from None
    except (zipfile.BadZipFile, OSError) as exc:
        raise _fail(corpus, url, f"the zip cannot be unpacked ({exc})") from None


def _write_atomically(corpus: DownloadableCorpus, target: Path, data: bytes) -> None:
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        handle, temp = tempfile.mkstemp(prefix=f".{target.name}.", dir=target.parent)
    except OSError as exc:
        raise CorpusError(
            f"{corpus.name}: {target.parent}: cannot be written ({exc.strerror or exc})"
        ) from None
    try:
        with os.fdopen(handle, "wb") as out:
            out.write(data)
            out.flush()
            os.fsync(out.fileno())
        os.replace(temp, target)
    except OSError as exc:
        raise CorpusError(
            f"{corpus.name}: {target}: cannot be written ({exc.strerror or exc})"
        ) from None
    finally:
        if os.path.exists(temp):
            os.unlink(temp)
