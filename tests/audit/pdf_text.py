"""Reading a report back as a person's PDF reader would: the text of every page, in order."""
from pypdf import PdfReader


def pdf_pages(path):
    return [page.extract_text() for page in PdfReader(path).pages]


def pdf_text(path):
    return "\n".join(pdf_pages(path))
