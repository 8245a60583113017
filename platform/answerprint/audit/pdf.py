"""A small streaming PDF writer: text pages in Helvetica, nothing else.

No PDF library is installed and a report needs only lines of text, so this writes PDF 1.4 by hand
(ISO 32000-1 §7.5): objects as they are finished, their byte offsets kept for the cross-reference
table, and the page tree written last, once the page count is known. Memory holds one page and
the list of page object numbers, never the document.
"""
import zlib

PAGE_WIDTH, PAGE_HEIGHT = 595, 842  # A4 in points
MARGIN = 40
FONT_SIZE = 8
LEADING = 10.5
LINES_PER_PAGE = int((PAGE_HEIGHT - 2 * MARGIN) // LEADING) - 1
# Helvetica averages about half an em per character; this keeps a line inside the margins.
CHARS_PER_LINE = 118

_CATALOG, _PAGES, _FONT, _FONT_BOLD = 1, 2, 3, 4


def _escape(text):
    """A PDF literal string in WinAnsi; characters it cannot show become '?'."""
    encoded = text.encode("cp1252", errors="replace")
    return encoded.replace(b"\\", b"\\\\").replace(b"(", b"\\(").replace(b")", b"\\)").replace(b"\r", b"")


def wrap(text, width=CHARS_PER_LINE, indent="    "):
    """Split one logical line into printed lines, breaking at spaces where it can."""
    lines = []
    for paragraph in str(text).split("\n"):
        first = True
        while True:
            limit = width if first else width - len(indent)
            if len(paragraph) <= limit:
                lines.append(paragraph if first else indent + paragraph)
                break
            cut = paragraph.rfind(" ", 0, limit)
            cut = limit if cut <= limit // 2 else cut
            lines.append(paragraph[:cut] if first else indent + paragraph[:cut])
            paragraph = paragraph[cut:].lstrip(" ")
            first = False
    return lines


class PDFWriter:
    """Feed lines with `line()`, take bytes from `take()` as they become ready, finish with `close()`."""

    def __init__(self, title=""):
        self._chunks = []
        self._offset = 0
        self._offsets = {}
        self._next_object = _FONT_BOLD + 1
        self._page_objects = []
        self._lines = []
        self._title = title
        self._emit(b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\n")
        self._object(_CATALOG, b"<< /Type /Catalog /Pages 2 0 R >>")
        self._object(_FONT, b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica /Encoding /WinAnsiEncoding >>")
        self._object(_FONT_BOLD,
                     b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica-Bold /Encoding /WinAnsiEncoding >>")

    def _emit(self, data):
        self._chunks.append(data)
        self._offset += len(data)

    def _object(self, number, body):
        self._offsets[number] = self._offset
        self._emit(b"%d 0 obj\n" % number + body + b"\nendobj\n")

    def _allocate(self):
        number = self._next_object
        self._next_object += 1
        return number

    def line(self, text="", bold=False):
        for printed in wrap(text):
            self._lines.append((printed, bold))
            if len(self._lines) >= LINES_PER_PAGE:
                self._finish_page()

    def _finish_page(self):
        page_number = len(self._page_objects) + 1
        ops = [b"BT", b"%.1f TL" % LEADING, b"%d %d Td" % (MARGIN, PAGE_HEIGHT - MARGIN)]
        current = None
        for text, bold in self._lines:
            if bold != current:
                ops.append(b"/F%d %d Tf" % (2 if bold else 1, FONT_SIZE))
                current = bold
            ops.append(b"(" + _escape(text) + b") '")
        ops += [b"ET", b"BT", b"/F1 7 Tf", b"%d %d Td" % (MARGIN, MARGIN // 2),
                b"(" + _escape(f"{self._title}  -  page {page_number}") + b") Tj", b"ET"]
        content = zlib.compress(b"\n".join(ops))
        content_number, page_object = self._allocate(), self._allocate()
        self._object(content_number, b"<< /Length %d /Filter /FlateDecode >>\nstream\n" % len(content)
                     + content + b"\nendstream")
        self._object(page_object, (
            b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 %d %d] /Contents %d 0 R "
            b"/Resources << /Font << /F1 %d 0 R /F2 %d 0 R >> >> >>"
        ) % (PAGE_WIDTH, PAGE_HEIGHT, content_number, _FONT, _FONT_BOLD))
        self._page_objects.append(page_object)
        self._lines = []

    def take(self):
        data = b"".join(self._chunks)
        self._chunks = []
        return data

    def close(self):
        if self._lines or not self._page_objects:
            self._finish_page()
        kids = b" ".join(b"%d 0 R" % number for number in self._page_objects)
        self._object(_PAGES, b"<< /Type /Pages /Kids [" + kids + b"] /Count %d >>" % len(self._page_objects))
        info = self._allocate()
        self._object(info, b"<< /Title (" + _escape(self._title) + b") /Producer (Answerprint) >>")
        xref_at = self._offset
        size = self._next_object
        rows = [b"xref\n0 %d\n" % size, b"0000000000 65535 f \n"]
        for number in range(1, size):
            rows.append(b"%010d 00000 n \n" % self._offsets[number])
        self._emit(b"".join(rows))
        self._emit(b"trailer\n<< /Size %d /Root 1 0 R /Info %d 0 R >>\nstartxref\n%d\n%%%%EOF\n"
                   % (size, info, xref_at))
        return self.take()
