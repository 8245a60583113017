"""ASC MHL v2: a package's hash manifest, as facilities and archives check it.

A package folder gets `ascmhl/`, holding one generation file `0001_<folder>_<date>Z.mhl` (schema
`urn:ASC:MHL:v2.0`: every file's size, modification time and xxh64, md5 and sha1 hashes) and the
chain file `ascmhl_chain.xml` (`urn:ASC:MHL:DIRECTORY:v2.0`), which names each generation with
its C4 id, so an altered manifest is found as surely as an altered file.

Nothing here touches the database or storage: callers pass local folders.
"""
import hashlib
import os
import socket
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from xml.etree import ElementTree as ET

import xxhash

MHL_NAMESPACE = "urn:ASC:MHL:v2.0"
CHAIN_NAMESPACE = "urn:ASC:MHL:DIRECTORY:v2.0"
MHL_FOLDER = "ascmhl"
CHAIN_FILE = "ascmhl_chain.xml"
HASH_FORMATS = ("xxh64", "md5", "sha1")
CHUNK = 4 * 1024 * 1024
_BASE58 = "123456789ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz"


def c4_id(path: Path) -> str:
    """The C4 id (SMPTE ST 2114) of a file: "c4" and the SHA-512 in base 58, 90 characters."""
    digest = hashlib.sha512()
    with open(path, "rb") as stream:
        for chunk in iter(lambda: stream.read(CHUNK), b""):
            digest.update(chunk)
    number = int.from_bytes(digest.digest(), "big")
    text = ""
    while number:
        number, remainder = divmod(number, 58)
        text = _BASE58[remainder] + text
    return "c4" + text.rjust(88, "1")


def file_hashes(path: Path) -> dict[str, str]:
    """xxh64, md5 and sha1 of a file, in one read."""
    digests = {"xxh64": xxhash.xxh64(), "md5": hashlib.md5(usedforsecurity=False),
               "sha1": hashlib.sha1(usedforsecurity=False)}
    with open(path, "rb") as stream:
        for chunk in iter(lambda: stream.read(CHUNK), b""):
            for digest in digests.values():
                digest.update(chunk)
    return {name: digest.hexdigest() for name, digest in digests.items()}


def _listed_files(folder: Path) -> list[str]:
    """Every file of the package but the manifest itself, as POSIX paths relative to the folder."""
    names = []
    for root, directories, files in os.walk(folder):
        directories[:] = sorted(d for d in directories if not (Path(root) == folder and d == MHL_FOLDER))
        for name in sorted(files):
            names.append((Path(root) / name).relative_to(folder).as_posix())
    return sorted(names)


def _timestamp(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat(timespec="seconds")


def write_manifest(folder, *, tool: str = "answerprint", tool_version: str = "1", now: datetime | None = None) -> Path:
    """Hash every file in `folder` and write its first ASC MHL generation and chain; returns the
    generation file's path."""
    folder = Path(folder)
    now = now or datetime.now(UTC)
    stamp = _timestamp(now)
    ET.register_namespace("", MHL_NAMESPACE)
    hashlist = ET.Element(f"{{{MHL_NAMESPACE}}}hashlist", {"version": "2.0"})
    creator = ET.SubElement(hashlist, f"{{{MHL_NAMESPACE}}}creatorinfo")
    ET.SubElement(creator, f"{{{MHL_NAMESPACE}}}creationdate").text = stamp
    ET.SubElement(creator, f"{{{MHL_NAMESPACE}}}hostname").text = socket.gethostname()
    ET.SubElement(creator, f"{{{MHL_NAMESPACE}}}tool", {"version": tool_version}).text = tool
    process = ET.SubElement(hashlist, f"{{{MHL_NAMESPACE}}}processinfo")
    ET.SubElement(process, f"{{{MHL_NAMESPACE}}}process").text = "in-place"
    ignore = ET.SubElement(process, f"{{{MHL_NAMESPACE}}}ignore")
    for pattern in (MHL_FOLDER, f"{MHL_FOLDER}/"):
        ET.SubElement(ignore, f"{{{MHL_NAMESPACE}}}pattern").text = pattern
    hashes = ET.SubElement(hashlist, f"{{{MHL_NAMESPACE}}}hashes")
    for relative in _listed_files(folder):
        path = folder / relative
        info = path.stat()
        entry = ET.SubElement(hashes, f"{{{MHL_NAMESPACE}}}hash")
        ET.SubElement(entry, f"{{{MHL_NAMESPACE}}}path", {
            "size": str(info.st_size),
            "lastmodificationdate": _timestamp(datetime.fromtimestamp(info.st_mtime, UTC))}).text = relative
        for name, value in file_hashes(path).items():
            ET.SubElement(entry, f"{{{MHL_NAMESPACE}}}{name}", {"action": "original", "hashdate": stamp}).text = value
    ET.indent(hashlist)
    mhl_folder = folder / MHL_FOLDER
    mhl_folder.mkdir(exist_ok=True)
    generation = mhl_folder / f"0001_{folder.name}_{now.astimezone(UTC):%Y-%m-%d_%H%M%S}Z.mhl"
    ET.ElementTree(hashlist).write(generation, encoding="UTF-8", xml_declaration=True)

    ET.register_namespace("", CHAIN_NAMESPACE)
    chain = ET.Element(f"{{{CHAIN_NAMESPACE}}}ascmhldirectory")
    link = ET.SubElement(chain, f"{{{CHAIN_NAMESPACE}}}hashlist", {"sequencenr": "1"})
    ET.SubElement(link, f"{{{CHAIN_NAMESPACE}}}path").text = generation.name
    ET.SubElement(link, f"{{{CHAIN_NAMESPACE}}}c4").text = c4_id(generation)
    ET.indent(chain)
    ET.ElementTree(chain).write(mhl_folder / CHAIN_FILE, encoding="UTF-8", xml_declaration=True)
    return generation


@dataclass
class Verification:
    """What a check of a package against its manifest found; `ok` when nothing."""

    checked: int = 0
    problems: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems


def verify_manifest(folder) -> Verification:
    """Check the chain against each generation (C4) and every file against the latest generation:
    altered, missing and unlisted files are each named."""
    folder = Path(folder)
    result = Verification()
    chain_path = folder / MHL_FOLDER / CHAIN_FILE
    if not chain_path.is_file():
        result.problems.append(f"{MHL_FOLDER}/{CHAIN_FILE} is missing: there is no manifest to verify against.")
        return result
    links = ET.parse(chain_path).getroot().findall(f"{{{CHAIN_NAMESPACE}}}hashlist")
    if not links:
        result.problems.append(f"{MHL_FOLDER}/{CHAIN_FILE} lists no generation.")
        return result
    for link in links:
        name = link.findtext(f"{{{CHAIN_NAMESPACE}}}path", "")
        generation = folder / MHL_FOLDER / name
        if not name or "/" in name or not generation.is_file():
            result.problems.append(f"the manifest generation {name!r} named in the chain is missing.")
        elif c4_id(generation) != link.findtext(f"{{{CHAIN_NAMESPACE}}}c4", "").strip():
            result.problems.append(f"{MHL_FOLDER}/{name} was altered: its C4 id differs from the chain's.")
    if result.problems:
        return result
    latest = folder / MHL_FOLDER / links[-1].findtext(f"{{{CHAIN_NAMESPACE}}}path")
    listed = set()
    for entry in ET.parse(latest).getroot().iter(f"{{{MHL_NAMESPACE}}}hash"):
        relative = entry.findtext(f"{{{MHL_NAMESPACE}}}path", "")
        listed.add(relative)
        path = folder / relative
        if relative.startswith("/") or ".." in relative.split("/") or not path.is_file():
            result.problems.append(f"{relative} is missing.")
            continue
        expected = {name: entry.findtext(f"{{{MHL_NAMESPACE}}}{name}") for name in HASH_FORMATS}
        actual = file_hashes(path)
        result.checked += 1
        wrong = [name for name, value in expected.items() if value and value.strip().lower() != actual[name]]
        if wrong:
            result.problems.append(f"{relative} was altered ({', '.join(wrong)} differ).")
    for relative in _listed_files(folder):
        if relative not in listed:
            result.problems.append(f"{relative} is not in the manifest.")
    return result
