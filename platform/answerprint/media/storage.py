"""Media storage as ffmpeg needs it: local paths in, the storage API out.

ffmpeg reads and writes files on disk. With the local file-system storage the stored file is
used where it lies; with storage that has no local path (S3-compatible, via django-storages)
the file is copied to a temporary folder first and the copy removed afterwards. Derived files
are always written back through the storage API, so both kinds of storage work the same way.
"""
import hashlib
import os
import posixpath
import re
import shutil
import tempfile
from contextlib import contextmanager
from pathlib import Path

from django.core.exceptions import ValidationError
from django.core.files import File
from django.core.files.storage import default_storage

CHUNK_BYTES = 4 * 1024 * 1024

# "frame.%04d.exr" (printf, as ffmpeg takes it) or "frame.####.exr" (one '#' per digit).
_PRINTF_FRAME = re.compile(r"%0?(\d*)d")
_HASH_FRAME = re.compile(r"#+")


def local_path_of(name, storage=None):
    """The stored file's path on this machine, or None when the storage has none."""
    storage = storage or default_storage
    try:
        return Path(storage.path(name))
    except NotImplementedError:
        return None


@contextmanager
def local_files(names, storage=None):
    """Yield {name: local Path} for stored files, copying to a temporary folder only if needed.

    All names must share one folder (a file, or the frames of one image sequence), so that a
    printf pattern in that folder still names them after the copy.
    """
    storage = storage or default_storage
    names = list(names)
    paths = {name: local_path_of(name, storage) for name in names}
    if all(path is not None for path in paths.values()):
        yield paths
        return
    with tempfile.TemporaryDirectory(prefix="answerprint-media-") as folder:
        for name in names:
            target = Path(folder) / posixpath.basename(name)
            with storage.open(name, "rb") as source, open(target, "wb") as out:
                shutil.copyfileobj(source, out, CHUNK_BYTES)
            paths[name] = target
        yield paths


class _LocalFile(File):
    """A finished local file: FileSystemStorage moves it into place instead of copying."""

    def __init__(self, path):
        super().__init__(open(path, "rb"), name=Path(path).name)
        self._path = str(path)

    def temporary_file_path(self):
        return self._path


def replace_file(name, local_path, storage=None):
    """Store `local_path` under exactly `name`, replacing what was there; return the name.

    Derived files have fixed names so that running ingest again gives one result, not a pile
    of `proxy_x7Gq2.mp4` siblings.
    """
    storage = storage or default_storage
    if storage.exists(name):
        storage.delete(name)
    with _LocalFile(local_path) as content:
        saved = storage.save(name, content)
    return saved


def sha256_of(name, storage=None):
    """Hex sha256 of a stored file, streamed in chunks."""
    storage = storage or default_storage
    digest = hashlib.sha256()
    with storage.open(name, "rb") as stream:
        for chunk in iter(lambda: stream.read(CHUNK_BYTES), b""):
            digest.update(chunk)
    return digest.hexdigest()


def production_root(production) -> str:
    """The storage folder that holds everything of one production, and nothing of another."""
    return f"productions/{production.code}"


def safe_filename(name: str | None) -> str:
    """A client's file name as a storage name: no folders, only letters, digits, '-', '_', '.'."""
    base = posixpath.basename((name or "").replace("\\", "/"))
    stem, extension = os.path.splitext(base)

    def clean(text):
        return re.sub(r"(?u)[^-\w.]", "", text.strip().replace(" ", "_"))

    stem = clean(stem).strip("._")[:150] or "original"
    extension = clean(extension)[:12]
    return stem + (extension if len(extension) > 1 else "")


def check_relative_path(path: str | None) -> str:
    """A storage path as a client may give it: relative, with no way up, POSIX.

    Returns the normalised path; raises ValidationError for anything that could leave the folder
    it is taken relative to.
    """
    path = (path or "").strip()
    if not path:
        raise ValidationError({"path": "Give a path relative to the production's media folder."})
    if "\x00" in path or "\\" in path:
        raise ValidationError({"path": "The path may not contain backslashes or NUL characters."})
    if path.startswith("/") or re.match(r"^[A-Za-z]:", path):
        raise ValidationError({"path": "The path must be relative to the production's media folder, not absolute."})
    parts = path.split("/")
    if ".." in parts:
        raise ValidationError({"path": "The path may not contain '..': it must stay inside the production's media."})
    normalised = "/".join(part for part in parts if part not in ("", "."))
    if not normalised:
        raise ValidationError({"path": "Give a path relative to the production's media folder."})
    return normalised


def path_in_production(production, path: str | None) -> str:
    """The storage name of a client's `path`, taken relative to the production's own folder.

    The client cannot name anything outside it: the path is checked for ways up and then put
    under the production's root, so another production's path simply does not exist here.
    """
    return f"{production_root(production)}/{check_relative_path(path)}"


def lies_in_production(production, name: str, storage=None) -> bool:
    """True when the stored file `name` is the production's own, symbolic links followed.

    Object storage has no links: there the name's prefix is the boundary. On a file system a
    link inside the production's folder could point at another production's media, so the real
    location is compared with the real location of the production's folder.
    """
    storage = storage or default_storage
    root = production_root(production)
    if not name.startswith(root + "/") or ".." in name.split("/"):
        return False
    local_root = local_path_of(root, storage)
    if local_root is None:
        return True
    real_root = Path(os.path.realpath(local_root))
    return Path(os.path.realpath(local_path_of(name, storage))).is_relative_to(real_root)


def sequence_pattern(path):
    """For an image-sequence path, (printf pattern, frame regex); None for a single file.

    "plates/a/frame.%04d.exr" and "plates/a/frame.####.exr" both give "plates/a/frame.%04d.exr";
    the regex matches the basenames of that sequence's frames and captures the frame number.
    """
    folder, base = posixpath.split(path)
    printf = list(_PRINTF_FRAME.finditer(base))
    hashes = list(_HASH_FRAME.finditer(base))
    if len(printf) + len(hashes) == 0:
        return None
    if len(printf) + len(hashes) > 1 or "%" in _PRINTF_FRAME.sub("", base):
        raise ValidationError({"path": "A sequence pattern holds exactly one frame number, as %04d or ####."})
    match = printf[0] if printf else hashes[0]
    digits = (int(match.group(1)) if match.group(1) else 0) if printf else len(match.group(0))
    prefix, suffix = base[:match.start()], base[match.end():]
    pattern_base = f"{prefix}%0{digits}d{suffix}" if digits else f"{prefix}%d{suffix}"
    number = rf"(\d{{{digits},}})" if digits else r"(\d+)"
    regex = re.compile(rf"^{re.escape(prefix)}{number}{re.escape(suffix)}$")
    return posixpath.join(folder, pattern_base), regex


def sequence_frames(pattern_path, regex, storage=None):
    """[(frame number, stored name)] of a sequence's frames, in frame order."""
    storage = storage or default_storage
    folder = posixpath.dirname(pattern_path)
    try:
        _, files = storage.listdir(folder)
    except (FileNotFoundError, NotADirectoryError):
        return []
    frames = []
    for base in files:
        match = regex.match(base)
        if match:
            frames.append((int(match.group(1)), posixpath.join(folder, base)))
    return sorted(frames)
