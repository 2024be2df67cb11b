"""What a report file is, told by its first bytes, never by its name.

A school uploads PDFs, or photos of a paper report (JPEG, PNG). A file named ``.pdf`` that
is a Word document, or an ``.exe`` renamed, is refused: parents open what we serve.
"""

PDF = "application/pdf"
JPEG = "image/jpeg"
PNG = "image/png"

#: The extension a stored file gets for each type (the name it was uploaded with aside).
EXTENSIONS = {PDF: ".pdf", JPEG: ".jpg", PNG: ".png"}

#: How many first bytes sniff() needs.
HEAD_BYTES = 1024


def sniff(head: bytes) -> str | None:
    """The content type of a file starting with ``head`` (its first HEAD_BYTES), or None.

    PDF readers accept the ``%PDF-`` header anywhere in the first kilobyte (some scanners
    write a few bytes before it); JPEG and PNG start with their signature.
    """
    if head.startswith(b"\xff\xd8\xff"):
        return JPEG
    if head.startswith(b"\x89PNG\r\n\x1a\n"):
        return PNG
    if b"%PDF-" in head[:HEAD_BYTES]:
        return PDF
    return None
