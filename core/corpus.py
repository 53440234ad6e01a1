"""Reading a corpus file: one lyric line per line, any common Chinese text encoding; and the
corpora bundled with lyrics-tui, by name.

The file is read as a stream of lines (never whole into one string), so a large file costs
memory in proportion to its lines, not twice its size.
"""

from __future__ import annotations

import codecs
import difflib
import io
import os
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from lyrics_tui.core.config import ModelConfig, TrainConfig, resolve_settings
from lyrics_tui.core.downloads import DOWNLOADABLE, downloadable, fetch_corpus
from lyrics_tui.core.errors import CorpusError

SNIFF_BYTES = 64 * 1024
# data/ beside core/: the source tree, an editable install and a wheel (lyrics_tui/data) alike.
DATA_DIR = Path(__file__).resolve().parent.parent / "data"


@dataclass(frozen=True)
class BundledCorpus:
    """A corpus shipped with lyrics-tui, and the settings chosen for it by measurement."""

    name: str
    file: str  # in data/
    about: str  # one line: what it is
    credit: str  # where it comes from and under which terms
    tokenizer: str = "word"  # how it is split, whatever the preset
    preset: str = "default"
    model: Mapping[str, Any] = field(default_factory=dict)  # over `preset`, when it is used
    train: Mapping[str, Any] = field(default_factory=dict)  # over `preset`, when it is used

    @property
    def path(self) -> Path:
        return DATA_DIR / self.file


BUNDLED: dict[str, BundledCorpus] = {
    corpus.name: corpus
    for corpus in (
        BundledCorpus(
            name="lyrics",
            file="lyrics.txt",
            about="1,238 lines of original Mandarin pop lyrics in 35 songs",
            credit="written for lyrics-tui; MIT, as the project",
        ),
        # Characters, not jieba words: jieba splits classical verse badly (36.5% of held-out
        # words are <unk>) and characters spend a bit per character less; dropout 0.5 beat
        # 0.6 on each of 3 seeds (README, "Corpora"; bench/corpus_defaults.py).
        BundledCorpus(
            name="songci",
            file="songci.txt",
            about="7,567 lines of Song-dynasty ci (宋词), the first 983 poems of 《全宋词》",
            credit="chinese-poetry/chinese-poetry (MIT); the texts are in the public domain",
            tokenizer="char",
            model={"dropout": 0.5},
        ),
    )
}
DEFAULT_CORPUS = "lyrics"
BUNDLED_CORPUS = BUNDLED[DEFAULT_CORPUS].path


def bundled_corpus(spec: str | os.PathLike[str] | None) -> BundledCorpus | None:
    """The bundled corpus `spec` names (by name or by its file; None: the default), else None."""
    if spec is None:
        return BUNDLED[DEFAULT_CORPUS]
    text = os.fspath(spec)
    if text in BUNDLED:
        return BUNDLED[text]
    try:
        where = Path(text).expanduser().resolve()
    except (OSError, RuntimeError):
        return None
    return next((c for c in BUNDLED.values() if c.path.resolve() == where), None)


def corpus_path(spec: str | os.PathLike[str] | None) -> Path:
    """A corpus file from a bundled corpus's name (`lyrics`, `songci`), a downloadable one's
    (`jaychou`: where it is kept, fetched or not; obtain_corpus fetches it), a path, or None
    (the default corpus). A name wins over a file of that name in the current folder (./songci
    reads the file); a name that is neither is one line."""
    corpus = bundled_corpus(spec) if spec is None or os.fspath(spec) in BUNDLED else None
    if corpus is not None:
        if not corpus.path.is_file():
            raise CorpusError(
                f"{corpus.name}: the bundled corpus is missing from this installation "
                f"({corpus.path}); reinstall lyrics-tui"
            )
        return corpus.path
    assert spec is not None
    if not os.fspath(spec).strip():  # Path("") is the current folder
        raise CorpusError("no corpus named: give a text file, one lyric line per line")
    fetched = downloadable(spec)
    if fetched is not None:
        return fetched.path
    path = Path(spec).expanduser()
    text = os.fspath(spec)
    if not path.exists() and os.sep not in text and "/" not in text and not path.suffix:
        near = difflib.get_close_matches(text, [*BUNDLED, *DOWNLOADABLE], n=1)
        raise CorpusError(
            f"{text}: neither a bundled corpus ({', '.join(BUNDLED)}), a downloadable one "
            f"({', '.join(DOWNLOADABLE)}) nor a file"
            + (f"; did you mean {near[0]}?" if near else "")
        )
    return path


def obtain_corpus(
    spec: str | os.PathLike[str] | None, on_note: Callable[[str], None] | None = None
) -> Path:
    """As corpus_path, and a downloadable corpus not fetched yet is fetched now (`on_note`
    hears that it is); CorpusError when it cannot be."""
    fetched = downloadable(spec)
    if fetched is not None:
        return fetch_corpus(fetched.name, on_note=on_note)
    return corpus_path(spec)


def preset_for(spec: str | os.PathLike[str] | None, preset: str | None = None) -> str:
    """The preset a new run uses: the one given, else the bundled corpus's own, else default."""
    corpus = bundled_corpus(spec)
    return preset or (corpus.preset if corpus else "default")


def corpus_settings(
    spec: str | os.PathLike[str] | None,
    preset: str | None = None,
    model_overrides: dict[str, Any] | None = None,
    train_overrides: dict[str, Any] | None = None,
) -> tuple[ModelConfig, TrainConfig]:
    """The settings of a new run on a corpus: the preset (given, else the corpus's); for a
    bundled corpus its tokenizer, and its own settings when its preset is the one used; then
    every override given (not None); validated."""
    corpus = bundled_corpus(spec)
    chosen = preset_for(spec, preset)
    model: dict[str, Any] = {}
    train: dict[str, Any] = {}
    if corpus is not None:
        train["tokenizer"] = corpus.tokenizer
        if chosen == corpus.preset:
            model.update(corpus.model)
            train.update(corpus.train)
    model.update({k: v for k, v in (model_overrides or {}).items() if v is not None})
    train.update({k: v for k, v in (train_overrides or {}).items() if v is not None})
    return resolve_settings(chosen, model, train)


@dataclass(frozen=True)
class Corpus:
    """The non-blank lines of a text file, stripped of surrounding whitespace."""

    path: str
    encoding: str
    lines: list[str]

    def split(self, val_fraction: float) -> tuple[list[str], list[str]]:
        """The first lines for training and the last `val_fraction` of them for validation."""
        return split_lines(self.lines, val_fraction)


def split_lines(lines: list[str], val_fraction: float) -> tuple[list[str], list[str]]:
    cut = len(lines) - int(len(lines) * val_fraction)
    if val_fraction > 0 and cut == len(lines) and len(lines) > 1:
        cut -= 1  # a tiny corpus still gets one validation line when one was asked for
    return lines[:cut], lines[cut:]


def detect_encoding(head: bytes) -> str:
    """The encoding of a file from its first bytes; raises CorpusError for binary data."""
    if head.startswith(codecs.BOM_UTF8):
        return "utf-8-sig"
    if head.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        return "utf-16"
    if b"\x00" in head:
        raise CorpusError(
            "looks like a binary file (it contains NUL bytes), not text; UTF-16 without a "
            "byte-order mark reads so too: save it as UTF-8"
        )
    try:
        codecs.getincrementaldecoder("utf-8")().decode(head, final=False)
        encoding = "utf-8"
    except UnicodeDecodeError:
        try:
            codecs.getincrementaldecoder("gb18030")().decode(head, final=False)
            encoding = "gb18030"  # a superset of GBK and GB2312
        except UnicodeDecodeError:
            raise CorpusError("is neither UTF-8 nor GB18030/GBK text") from None
    text = head.decode(encoding, errors="ignore")
    controls = sum(1 for ch in text if ord(ch) < 32 and ch not in "\t\n\r\f\v")
    if text and controls / len(text) > 0.05:
        raise CorpusError("looks like a binary file (many control characters), not text")
    return encoding


def iter_lines(path: str | os.PathLike, encoding: str) -> Iterator[str]:
    """Non-blank lines, stripped; CRLF, LF and CR endings alike."""
    with open(path, encoding=encoding, newline=None) as handle:
        yield from _text_lines(handle)


def _text_lines(handle: Iterable[str]) -> Iterator[str]:
    for raw in handle:
        line = raw.strip()
        if line:
            yield line


def read_corpus(path: str | os.PathLike) -> Corpus:
    """Read a corpus file, or raise CorpusError with one line that names the file."""
    name = str(path)
    if not name.strip():
        corpus_path(name)  # says it in one line
    try:
        if Path(path).is_dir():
            raise CorpusError(f"{name}: is a folder, not a text file")
        # a pipe (<(cat a b), /dev/stdin) can be read once: all of it now, not again below
        piped = Path(path).exists() and not Path(path).is_file()
        with open(path, "rb") as handle:
            head = handle.read(SNIFF_BYTES)
            whole = head + handle.read() if piped else b""
    except FileNotFoundError:
        raise CorpusError(f"{name}: no such file") from None
    except PermissionError:
        raise CorpusError(f"{name}: permission denied") from None
    except OSError as exc:
        raise CorpusError(f"{name}: cannot be read ({exc.strerror or exc})") from None
    if not head:
        raise CorpusError(f"{name}: the file is empty")
    try:
        encoding = detect_encoding(head)
    except CorpusError as exc:
        raise CorpusError(f"{name}: {exc}") from None
    try:
        if piped:
            lines = list(_text_lines(io.StringIO(whole.decode(encoding), newline=None)))
        else:
            lines = list(iter_lines(path, encoding))
    except UnicodeDecodeError as exc:
        raise CorpusError(f"{name}: not valid {encoding} text past byte {exc.start}") from None
    except OSError as exc:
        raise CorpusError(f"{name}: cannot be read ({exc.strerror or exc})") from None
    if not lines:
        raise CorpusError(f"{name}: holds no text, only blank lines or whitespace")
    return Corpus(path=name, encoding=encoding, lines=lines)


def same_corpus(a: str, b: str) -> bool:
    """Whether two corpora (paths or bundled names) are the same file (by file name when one
    cannot be found)."""
    first, second = corpus_file(a), corpus_file(b)
    try:
        return first.samefile(second)
    except OSError:
        return first.name == second.name


def corpus_file(spec: str) -> Path:
    """The file a corpus name or path stands for (the text itself when it names neither)."""
    try:
        return corpus_path(spec).expanduser()
    except CorpusError:
        return Path(spec).expanduser()


def continued_corpus(recorded: str, given: str | None) -> tuple[str, str]:
    """The corpus a resumed run reads, and a note: the one given, else the one the model was
    trained on, so that a run never goes on silently on another text. CorpusError when that
    one is not here; the note says when the given one is another."""
    if given:  # said only where the other text is here to tell them apart
        if recorded and corpus_file(recorded).is_file() and not same_corpus(recorded, given):
            return given, (
                f"the model was trained on {recorded}; going on with {given}, its best "
                "perplexity so far was measured on the other text's held-out lines"
            )
        return given, ""
    if recorded and corpus_file(recorded).is_file():
        return recorded, ""
    raise CorpusError(
        f"the model was trained on {recorded or 'a corpus it does not name'}, which is not "
        "here; name the text to go on with ({corpus})"
    )
