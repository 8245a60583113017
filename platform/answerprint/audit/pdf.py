"""A streaming PDF/A-2b writer with embedded Unicode fonts, for reports that may run to thousands of pages.

Why not reportlab, fpdf2 or WeasyPrint: all three build the whole document in memory and write it
at the end (reportlab's canvas and fpdf2 keep every page until `save`/`output`; WeasyPrint lays out
the whole HTML first). An audit report of 100,000 events is some 6,000 pages: hundreds of
megabytes and minutes of layout before the first byte reaches the browser. A report needs text,
rules and tables, which is a small part of PDF, so this module writes the objects itself as each
page is finished (ISO 32000-1 §7.5) and leans on maintained libraries for the parts that are hard:

- fontTools reads the TrueType fonts (cmap, advance widths, metrics) and subsets them at the end,
  so each font is embedded once, holding only the glyphs the report used (pages name glyphs by
  their id in the whole font; a CIDToGIDMap maps those to the subset's);
- text is written as glyph ids (Type0 / CIDFontType2, Identity-H) with a ToUnicode map, so any
  script the fonts cover prints and copies back out as the same characters. Each character takes
  the first font in `settings.AUDIT_REPORT_FONTS` that has it (Latin, Greek and Cyrillic from
  DejaVu Sans, Devanagari from Lohit, CJK from Droid Sans Fallback: Debian packages the set-up
  installs), so a signer named in any of them gets their name, not question marks. Characters
  are placed one glyph each, without complex-script shaping: Devanagari conjuncts print as their
  parts;
- PDF/A-2b (ISO 19005-2): every font embedded, an sRGB output intent, XMP metadata that agrees
  with the document information, a file identifier, no transparency or encryption.

What depends on the end of the document (the page count in "page x of y", the digest in every
page's running header and on the cover) is drawn as a form XObject that every page refers to and
that is written last. Memory holds one page, the page object numbers and the glyphs used.
"""
from __future__ import annotations

import hashlib
import io
import logging
import zlib
from dataclasses import dataclass, field
from datetime import datetime, timezone
from functools import lru_cache
from itertools import groupby
from pathlib import Path
from xml.sax.saxutils import escape as xml_escape

from django.conf import settings
from fontTools import subset as ft_subset
from fontTools.ttLib import TTFont

PAGE_WIDTH, PAGE_HEIGHT = 595.28, 841.89  # A4 in points
MARGIN = 42.0
HEADER_Y = PAGE_HEIGHT - 26
FOOTER_Y = 22.0
BODY_TOP = PAGE_HEIGHT - MARGIN - 8
BODY_BOTTOM = MARGIN + 4
BODY_WIDTH = PAGE_WIDTH - 2 * MARGIN
logging.getLogger("fontTools").setLevel(logging.WARNING)  # subsetting narrates every table at INFO
REPLACEMENT = "?"  # for a character no configured font has: PDF/A forbids showing .notdef


class FontUnavailable(RuntimeError):
    pass


@dataclass(eq=False)
class Font:
    """One TrueType font: what layout needs at once, and the glyphs used so far (for embedding)."""

    path: Path
    cmap: dict
    advances: list  # advance width per glyph id, in font units
    units_per_em: int
    ascent: int
    descent: int
    cap_height: int
    bbox: tuple
    postscript_name: str
    used: dict = field(default_factory=dict)  # glyph id -> the text it stands for

    def width(self, gid: int) -> float:
        return self.advances[gid] * 1000.0 / self.units_per_em if gid < len(self.advances) else 0.0


@lru_cache(maxsize=16)
def _font_facts(path: str):
    font = TTFont(path, lazy=True, fontNumber=0)
    if "glyf" not in font:
        raise FontUnavailable(f"{path} is not a TrueType (glyf) font")
    metrics = font["hmtx"].metrics
    order = font.getGlyphOrder()
    advances = [metrics[name][0] for name in order]
    by_name = {name: gid for gid, name in enumerate(order)}
    cmap = {code: by_name[name] for code, name in font.getBestCmap().items() if name in by_name}
    head, hhea = font["head"], font["hhea"]
    os2 = font["OS/2"] if "OS/2" in font else None
    cap = getattr(os2, "sCapHeight", 0) or hhea.ascent
    name = font["name"].getDebugName(6) or Path(path).stem
    name = "".join(ch for ch in name if ch.isalnum() or ch in "-_") or "Font"
    return (cmap, advances, head.unitsPerEm, hhea.ascent, hhea.descent, cap,
            (head.xMin, head.yMin, head.xMax, head.yMax), name)


def load_font(path) -> Font:
    path = Path(path)
    if not path.is_file():
        raise FontUnavailable(f"The report font {path} is not installed (see README, 'Reports').")
    cmap, advances, upem, ascent, descent, cap, bbox, name = _font_facts(str(path))
    return Font(path, cmap, advances, upem, ascent, descent, cap, bbox, name)


def report_fonts() -> tuple[list[Path], list[Path]]:
    """(regular chain, bold chain): the configured files that exist; a missing bold falls back to regular."""
    regular = [Path(p) for p in settings.AUDIT_REPORT_FONTS]
    bold = [Path(p) for p in settings.AUDIT_REPORT_BOLD_FONTS] or regular[:1]
    if not regular or not regular[0].is_file():
        raise FontUnavailable(f"The report font {regular[0] if regular else '(none)'} is not installed: "
                              "set AUDIT_REPORT_FONTS or install the Debian fonts the set-up names.")
    bold = [p for p in bold if p.is_file()] or regular[:1]
    return [p for p in regular if p.is_file()], bold + [p for p in regular[1:] if p.is_file()]


# --- PDF syntax ----------------------------------------------------------------------------------

def pdf_string(text: str) -> bytes:
    """A literal string for dictionaries (titles, dates): UTF-16BE with a byte-order mark."""
    return b"<feff" + text.encode("utf-16-be").hex().encode("ascii") + b">"


def _pdf_date(moment: datetime) -> bytes:
    return moment.astimezone(timezone.utc).strftime("D:%Y%m%d%H%M%S+00'00'").encode("ascii")


def _num(value: float) -> bytes:
    return b"%.2f" % value


@dataclass
class Style:
    size: float = 8.5
    bold: bool = False
    grey: float = 0.0  # 0 black .. 1 white


class Placeholder:
    """Text known only when the document ends (page count, digest), drawn where asked on any page."""

    def __init__(self, name: str, style: Style, lines: int = 1):
        self.name, self.style, self.lines = name, style, lines
        self.object_number = 0


class PDFWriter:
    """Lay out text page by page; take the bytes ready so far with `take()`; finish with `close()`.

    `header` and `footer` are called at the start and end of every page to draw its running
    header and its "page x of y"; they may draw placeholders, filled in at `close()`.
    """

    def __init__(self, title: str, *, subject: str = "", author: str = "Answerprint", header=None):
        regular, bold = report_fonts()
        loaded = {path: load_font(path) for path in dict.fromkeys(regular + bold)}
        self._fonts = list(loaded.values())  # each embedded once, however many chains use it
        self._regular = [loaded[p] for p in regular]
        self._bold = [loaded[p] for p in bold]
        self._glyphs: dict[bool, dict] = {False: {}, True: {}}
        self._widths: dict[bool, dict] = {False: {}, True: {}}
        self._first_font_hex: dict[bool, dict] = {False: {}, True: {}}  # str.translate tables
        self._first_font_chars: dict[bool, set] = {False: set(), True: set()}
        self.title, self.subject, self.author = title, subject, author
        self.created = datetime.now(timezone.utc)
        self._chunks: list[bytes] = []
        self._offset = 0
        self._offsets: dict[int, int] = {}
        self._next_object = 1
        self._catalog, self._pages, self._resources = self._allocate(), self._allocate(), self._allocate()
        self._page_objects: list[int] = []
        self._placeholders: dict[str, Placeholder] = {}
        self._ops: list[bytes] = []
        self.header = header
        self.y = BODY_TOP
        self.page_number = 0
        self._emit(b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n")
        self.total_pages = self.placeholder("TotalPages", Style(size=7, grey=0.35))

    # --- objects ---------------------------------------------------------------------------------

    def _emit(self, data: bytes) -> None:
        self._chunks.append(data)
        self._offset += len(data)

    def _allocate(self) -> int:
        number = self._next_object
        self._next_object += 1
        return number

    def _object(self, number: int, body: bytes) -> None:
        self._offsets[number] = self._offset
        self._emit(b"%d 0 obj\n" % number + body + b"\nendobj\n")

    def _stream(self, number: int, data: bytes, extra: bytes = b"", compress: bool = True) -> None:
        if compress:
            data = zlib.compress(data, 6)
            extra += b" /Filter /FlateDecode"
        self._object(number, b"<< /Length %d%s >>\nstream\n" % (len(data), extra) + data + b"\nendstream")

    def take(self) -> bytes:
        data = b"".join(self._chunks)
        self._chunks = []
        return data

    # --- text ------------------------------------------------------------------------------------

    def _glyph(self, char: str, bold: bool) -> tuple[int, str, float]:
        """(font index, glyph id as 4 hex digits, width per 1000 em) of a character, from the first
        font of the chain that has it; remembered, with tables that let whole lines go at C speed."""
        cache = self._glyphs[bold]
        found = cache.get(char)
        if found is None:
            shown = " " if char in "\t\r\n" else char
            chain = self._bold if bold else self._regular
            font = next((f for f in chain if f.cmap.get(ord(shown))), None)
            if font is None:
                font, shown = chain[0], REPLACEMENT
            gid = font.cmap[ord(shown)]
            found = cache[char] = (self._fonts.index(font), f"{gid:04x}", font.width(gid))
            font.used.setdefault(gid, shown)
            self._widths[bold][char] = found[2]
            if font is chain[0]:
                self._first_font_hex[bold][ord(char)] = found[1]
                self._first_font_chars[bold].add(char)
        return found

    def _learn(self, text: str, bold: bool) -> set:
        chars = set(text)
        for char in chars.difference(self._glyphs[bold]):
            self._glyph(char, bold)
        return chars

    def text_width(self, text: str, style: Style) -> float:
        self._learn(text, style.bold)
        return sum(map(self._widths[style.bold].__getitem__, text)) * style.size / 1000.0

    def _show(self, text: str, x: float, y: float, style: Style) -> bytes:
        bold = style.bold
        chars = self._learn(text, bold)
        ops = [b"BT", b"%s g" % _num(style.grey), b"%s %s Td" % (_num(x), _num(y))]
        size = _num(style.size)
        if chars <= self._first_font_chars[bold]:  # the usual case: one font
            first = self._fonts.index((self._bold if bold else self._regular)[0])
            ops.append(b"/F%d %s Tf <%s> Tj" % (first, size, text.translate(self._first_font_hex[bold]).encode("ascii")))
        else:
            glyphs = self._glyphs[bold]
            for index, run in groupby(text, key=lambda char: glyphs[char][0]):
                ops.append(b"/F%d %s Tf <%s> Tj" % (index, size, "".join(glyphs[c][1] for c in run).encode("ascii")))
        ops.append(b"ET")
        return b" ".join(ops)

    def draw_text(self, text: str, x: float, y: float, style: Style) -> None:
        self._ensure_page()
        self._ops.append(self._show(text, x, y, style))

    def rule(self, x1: float, y1: float, x2: float, y2: float, grey: float = 0.6, width: float = 0.5) -> None:
        self._ensure_page()
        self._ops.append(b"%s G %s w %s %s m %s %s l S 0 G" % (
            _num(grey), _num(width), _num(x1), _num(y1), _num(x2), _num(y2)))

    def fill_rect(self, x: float, y: float, w: float, h: float, grey: float) -> None:
        self._ensure_page()
        self._ops.append(b"%s g %s %s %s %s re f 0 g" % (_num(grey), _num(x), _num(y), _num(w), _num(h)))

    def wrap(self, text: str, width: float, style: Style) -> list[str]:
        """Break text into lines no wider than `width`, at spaces where it can, else anywhere."""
        text = str(text)
        if self.text_width(text, style) <= width and "\n" not in text:
            return [text]
        limit = width * 1000.0 / style.size
        widths = self._widths[style.bold]
        space = widths[" "] if " " in widths else self.text_width(" ", Style(size=1000.0, bold=style.bold))
        lines: list[str] = []
        for paragraph in text.split("\n"):
            line, line_width = "", 0.0
            for word in paragraph.split(" "):
                word_width = sum(map(widths.__getitem__, word))
                if line and line_width + space + word_width <= limit:
                    line, line_width = f"{line} {word}", line_width + space + word_width
                    continue
                if line:
                    lines.append(line)
                line, line_width = "", 0.0
                if word_width > limit:  # a hash or a long name: cut it where it reaches the edge
                    piece, piece_width = "", 0.0
                    for char in word:
                        if piece and piece_width + widths[char] > limit:
                            lines.append(piece)
                            piece, piece_width = "", 0.0
                        piece, piece_width = piece + char, piece_width + widths[char]
                    word, word_width = piece, piece_width
                line, line_width = word, word_width
            lines.append(line)
        return lines

    # --- placeholders ----------------------------------------------------------------------------

    def placeholder(self, name: str, style: Style, lines: int = 1) -> Placeholder:
        holder = Placeholder(name, style, lines)
        holder.object_number = self._allocate()
        self._placeholders[name] = holder
        return holder

    def draw_placeholder(self, holder: Placeholder, x: float, y: float) -> None:
        self._ensure_page()
        self._ops.append(b"q 1 0 0 1 %s %s cm /%s Do Q" % (_num(x), _num(y), holder.name.encode("ascii")))

    # --- flow ------------------------------------------------------------------------------------

    def _ensure_page(self) -> None:
        if self.page_number == len(self._page_objects) and not self._ops:
            self.page_number += 1
            self.y = BODY_TOP
            if self.header:
                self.header(self)

    def need(self, height: float) -> None:
        """Start a new page unless `height` points still fit on this one."""
        self._ensure_page()
        if self.y - height < BODY_BOTTOM:
            self.new_page()

    def new_page(self) -> None:
        self._ensure_page()
        self._finish_page()
        self._ensure_page()

    def paragraph(self, text: str, style: Style = Style(), indent: float = 0.0, after: float = 2.0) -> None:
        leading = style.size * 1.3
        for line in self.wrap(text, BODY_WIDTH - indent, style):
            self.need(leading)
            self.y -= leading
            self.draw_text(line, MARGIN + indent, self.y + style.size * 0.25, style)
        self.y -= after

    def heading(self, text: str, size: float = 13.0) -> None:
        self.need(size * 3.5)
        self.y -= size * 0.6
        self.paragraph(text, Style(size=size, bold=True), after=size * 0.4)

    def table(self, columns: list[tuple[str, float]], rows, style: Style = Style(size=7.5), header: bool = True) -> None:
        """Rows of cells under a header repeated on every page; widths are fractions of the body."""
        widths = [fraction * BODY_WIDTH for _, fraction in columns]
        leading = style.size * 1.3
        head_style = Style(size=style.size, bold=True)

        def draw_header():
            if not header:
                return
            cells = [self.wrap(title, w - 4, head_style) for (title, _), w in zip(columns, widths)]
            height = max(len(c) for c in cells) * leading + 4
            self.need(height + leading * 2)
            self.fill_rect(MARGIN, self.y - height, BODY_WIDTH, height, 0.9)
            self._cells(cells, widths, leading, head_style)
            self.y -= height

        draw_header()
        for row in rows:
            cells = [self.wrap("" if value is None else str(value), w - 4, style) for value, w in zip(row, widths)]
            height = max(len(c) for c in cells) * leading + 4
            if self.y - height < BODY_BOTTOM:
                self.new_page()
                draw_header()
            self._cells(cells, widths, leading, style)
            self.y -= height
            self.rule(MARGIN, self.y, MARGIN + BODY_WIDTH, self.y, grey=0.8, width=0.3)
        self.y -= 6

    def _cells(self, cells, widths, leading, style):
        x = MARGIN
        for lines, width in zip(cells, widths):
            for i, line in enumerate(lines):
                self.draw_text(line, x + 2, self.y - 2 - leading * (i + 1) + style.size * 0.3, style)
            x += width

    def _finish_page(self) -> None:
        if self.page_number == len(self._page_objects):
            return  # nothing drawn since the last page
        footer = Style(size=7, grey=0.35)
        label = f"Page {self.page_number} of "
        self.draw_text(label, PAGE_WIDTH - MARGIN - 60, FOOTER_Y, footer)
        self.draw_placeholder(self.total_pages, PAGE_WIDTH - MARGIN - 60 + self.text_width(label, footer), FOOTER_Y)
        content, page = self._allocate(), self._allocate()
        self._stream(content, b"\n".join(self._ops))
        self._object(page, b"<< /Type /Page /Parent %d 0 R /MediaBox [0 0 %s %s] /Contents %d 0 R /Resources %d 0 R >>"
                     % (self._pages, _num(PAGE_WIDTH), _num(PAGE_HEIGHT), content, self._resources))
        self._page_objects.append(page)
        self._ops = []

    # --- the end ---------------------------------------------------------------------------------

    def close(self, fills: dict[str, str] | None = None) -> bytes:
        """Write the placeholders, fonts, page tree, metadata and cross-reference table."""
        self._ensure_page()
        self._finish_page()
        fills = {**(fills or {}), self.total_pages.name: str(len(self._page_objects))}
        for name, holder in self._placeholders.items():
            self._write_placeholder(holder, fills.get(name, ""))
        font_names = []
        for index, font in enumerate(self._fonts):
            if font.used:  # pages name their fonts in the shared resources, so an unused one is left out
                number = self._allocate()
                self._write_font(font, number)
                font_names.append(b"/F%d %d 0 R" % (index, number))
        xobjects = b" ".join(b"/%s %d 0 R" % (h.name.encode("ascii"), h.object_number)
                             for h in self._placeholders.values())
        self._object(self._resources, b"<< /Font << " + b" ".join(font_names) + b" >> /XObject << " + xobjects + b" >> >>")
        kids = b" ".join(b"%d 0 R" % n for n in self._page_objects)
        self._object(self._pages, b"<< /Type /Pages /Kids [%s] /Count %d >>" % (kids, len(self._page_objects)))
        icc, intent, metadata, info = self._allocate(), self._allocate(), self._allocate(), self._allocate()
        self._stream(icc, srgb_profile(), b" /N 3")
        self._object(intent, b"<< /Type /OutputIntent /S /GTS_PDFA1 /OutputConditionIdentifier (sRGB IEC61966-2.1) "
                             b"/Info (sRGB IEC61966-2.1) /DestOutputProfile %d 0 R >>" % icc)
        self._stream(metadata, self._xmp(), b" /Type /Metadata /Subtype /XML", compress=False)
        self._object(info, b"<< /Title %s /Author %s /Subject %s /Producer %s /CreationDate (%s) >>" % (
            pdf_string(self.title), pdf_string(self.author), pdf_string(self.subject), pdf_string("Answerprint"),
            _pdf_date(self.created)))
        self._object(self._catalog, b"<< /Type /Catalog /Pages %d 0 R /Metadata %d 0 R /OutputIntents [%d 0 R] "
                                    b"/Lang (en) >>" % (self._pages, metadata, intent))
        xref_at = self._offset
        size = self._next_object
        rows = [b"xref\n0 %d\n" % size, b"0000000000 65535 f \n"]
        rows += [b"%010d 00000 n \n" % self._offsets[n] for n in range(1, size)]
        self._emit(b"".join(rows))
        file_id = hashlib.sha256(f"{self.title}{self.created.isoformat()}{xref_at}".encode()).hexdigest()[:32].encode()
        self._emit(b"trailer\n<< /Size %d /Root %d 0 R /Info %d 0 R /ID [<%s> <%s>] >>\nstartxref\n%d\n%%%%EOF\n"
                   % (size, self._catalog, info, file_id, file_id, xref_at))
        return self.take()

    @property
    def page_count(self) -> int:
        return len(self._page_objects)

    def _write_placeholder(self, holder: Placeholder, text: str) -> None:
        """A form whose first line's baseline is at its origin, further lines below it."""
        leading = holder.style.size * 1.3
        lines = text.split("\n")[:max(holder.lines, 1)]
        ops = [self._show(line, 0, -i * leading, holder.style) for i, line in enumerate(lines)]
        self._stream(holder.object_number, b"\n".join(ops),
                     b" /Type /XObject /Subtype /Form /BBox [0 %s %s %s] /Resources %d 0 R"
                     % (_num(-leading * len(lines)), _num(BODY_WIDTH), _num(holder.style.size * 1.2), self._resources))

    def _write_font(self, font: Font, number: int) -> None:
        """Type0 font over a CIDFontType2 holding the glyphs used; CIDs are the font's own glyph ids."""
        descendant, descriptor, program, to_unicode, gid_map = (self._allocate() for _ in range(5))
        used = sorted(set(font.used) | {0})
        tag = "".join(chr(65 + b % 26) for b in hashlib.sha256(repr(used).encode()).digest()[:6])
        name = f"{tag}+{font.postscript_name}".encode("ascii")
        embedded, cid_to_gid = _subset(font.path, tuple(used))
        self._stream(program, embedded, b" /Length1 %d" % len(embedded))
        self._stream(gid_map, cid_to_gid)
        scale = 1000.0 / font.units_per_em
        bbox = b" ".join(_num(v * scale) for v in font.bbox)
        self._object(descriptor, b"<< /Type /FontDescriptor /FontName /%s /Flags 32 /FontBBox [%s] /ItalicAngle 0 "
                                 b"/Ascent %s /Descent %s /CapHeight %s /StemV 80 /FontFile2 %d 0 R >>" % (
                                     name, bbox, _num(font.ascent * scale), _num(font.descent * scale),
                                     _num(font.cap_height * scale), program))
        widths = b" ".join(b"%d [%d]" % (gid, round(font.width(gid))) for gid in used)
        self._object(descendant, b"<< /Type /Font /Subtype /CIDFontType2 /BaseFont /%s /CIDSystemInfo << /Registry "
                                 b"(Adobe) /Ordering (Identity) /Supplement 0 >> /FontDescriptor %d 0 R /DW 0 "
                                 b"/W [%s] /CIDToGIDMap %d 0 R >>" % (name, descriptor, widths, gid_map))
        self._stream(to_unicode, _to_unicode_cmap(font.used))
        self._object(number, b"<< /Type /Font /Subtype /Type0 /BaseFont /%s /Encoding /Identity-H "
                             b"/DescendantFonts [%d 0 R] /ToUnicode %d 0 R >>" % (name, descendant, to_unicode))

    def _xmp(self) -> bytes:
        created = self.created.strftime("%Y-%m-%dT%H:%M:%SZ")
        return f"""<?xpacket begin="\ufeff" id="W5M0MpCehiHzreSzNTczkc9d"?>
<x:xmpmeta xmlns:x="adobe:ns:meta/">
 <rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#">
  <rdf:Description rdf:about="" xmlns:dc="http://purl.org/dc/elements/1.1/" xmlns:xmp="http://ns.adobe.com/xap/1.0/"
    xmlns:pdf="http://ns.adobe.com/pdf/1.3/" xmlns:pdfaid="http://www.aiim.org/pdfa/ns/id/">
   <dc:format>application/pdf</dc:format>
   <dc:title><rdf:Alt><rdf:li xml:lang="x-default">{xml_escape(self.title)}</rdf:li></rdf:Alt></dc:title>
   <dc:creator><rdf:Seq><rdf:li>{xml_escape(self.author)}</rdf:li></rdf:Seq></dc:creator>
   <dc:description><rdf:Alt><rdf:li xml:lang="x-default">{xml_escape(self.subject)}</rdf:li></rdf:Alt></dc:description>
   <xmp:CreateDate>{created}</xmp:CreateDate>
   <pdf:Producer>Answerprint</pdf:Producer>
   <pdfaid:part>2</pdfaid:part>
   <pdfaid:conformance>B</pdfaid:conformance>
  </rdf:Description>
 </rdf:RDF>
</x:xmpmeta>
<?xpacket end="w"?>""".encode("utf-8")


def _subset(path: Path, gids: tuple) -> tuple[bytes, bytes]:
    """The font cut down to `gids` (renumbered, hinting dropped) and the CIDToGIDMap from the
    original glyph ids, which the pages use as CIDs, to the subset's."""
    options = ft_subset.Options()
    options.notdef_outline = True
    options.layout_features = []
    options.name_IDs = ["*"]
    options.hinting = False
    options.glyph_names = False
    options.drop_tables += ["GSUB", "GPOS", "GDEF", "kern", "DSIG", "FFTM"]
    font = TTFont(str(path), fontNumber=0, lazy=True)
    names = font.getGlyphOrder()
    wanted = {gid: names[gid] for gid in gids}
    subsetter = ft_subset.Subsetter(options)
    subsetter.populate(gids=list(gids))
    subsetter.subset(font)
    new_ids = {name: new for new, name in enumerate(font.getGlyphOrder())}
    cid_to_gid = bytearray(2 * (max(gids) + 1))
    for gid, name in wanted.items():
        cid_to_gid[2 * gid:2 * gid + 2] = new_ids[name].to_bytes(2, "big")
    out = io.BytesIO()
    font.save(out)
    return out.getvalue(), bytes(cid_to_gid)


def _to_unicode_cmap(used: dict) -> bytes:
    entries = sorted(used.items())
    lines = [b"/CIDInit /ProcSet findresource begin 12 dict begin begincmap",
             b"/CIDSystemInfo << /Registry (Adobe) /Ordering (UCS) /Supplement 0 >> def",
             b"/CMapName /Adobe-Identity-UCS def /CMapType 2 def",
             b"1 begincodespacerange <0000> <FFFF> endcodespacerange"]
    for start in range(0, len(entries), 100):
        block = entries[start:start + 100]
        lines.append(b"%d beginbfchar" % len(block))
        lines += [b"<%04x> <%s>" % (gid, text.encode("utf-16-be").hex().encode("ascii")) for gid, text in block]
        lines.append(b"endbfchar")
    lines += [b"endcmap CMapName currentdict /CMap defineresource pop end end"]
    return b"\n".join(lines)


@lru_cache(maxsize=1)
def srgb_profile() -> bytes:
    """The sRGB ICC profile of the output intent, made by Pillow's LittleCMS."""
    from PIL import ImageCms

    return ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB")).tobytes()
