"""Badge images that carry their credential (Open Badges 3.0 §5.3, "baking").

PNG: one ``iTXt`` chunk with keyword ``openbadgecredential``, uncompressed, holding the
compact JWS; SVG: an ``<openbadges:credential verify="…"/>`` element in the namespace
``https://purl.imsglobal.org/ob/v3p0``. Extraction checks every PNG chunk's CRC, so a damaged or
edited image says so instead of yielding half a token; the signature inside is checked apart.

The pictures are drawn here (no file to ship): a disc in the level's colour, the machine and the
level in words, the fablab's name.
"""

from __future__ import annotations

import io
import struct
import zlib
from xml.etree import ElementTree
from xml.sax.saxutils import escape, quoteattr

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
KEYWORD = b"openbadgecredential"
SVG_NS = "https://purl.imsglobal.org/ob/v3p0"
MAX_IMAGE_BYTES = 4 * 1024 * 1024
"""Largest image the verification page reads (a badge is a few KiB)."""

COLOURS = {"autonomous": ("#1f7a4d", "#e8f5ee"), "mentor": ("#8a5a00", "#fff4d6")}


class BadImage(ValueError):
    """Not a PNG or SVG, damaged, or carrying no credential; ``code`` names which."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code


# --- PNG -------------------------------------------------------------------------------------


def _chunks(data: bytes) -> list[tuple[bytes, bytes]]:
    if not data.startswith(PNG_SIGNATURE):
        raise BadImage("not_png", "not a PNG image")
    out, pos = [], len(PNG_SIGNATURE)
    while pos < len(data):
        if pos + 8 > len(data):
            raise BadImage("damaged", "the PNG ends in the middle of a chunk")
        (length,) = struct.unpack(">I", data[pos : pos + 4])
        kind = data[pos + 4 : pos + 8]
        body = data[pos + 8 : pos + 8 + length]
        crc = data[pos + 8 + length : pos + 12 + length]
        if len(body) != length or len(crc) != 4:
            raise BadImage("damaged", "the PNG ends in the middle of a chunk")
        if struct.unpack(">I", crc)[0] != zlib.crc32(kind + body) & 0xFFFFFFFF:
            raise BadImage(
                "damaged",
                f"chunk {kind.decode('latin-1')} fails its CRC: the image was changed or damaged",
            )
        out.append((kind, body))
        pos += 12 + length
        if kind == b"IEND":
            break
    if not out or out[0][0] != b"IHDR" or out[-1][0] != b"IEND":
        raise BadImage("damaged", "the PNG has no IHDR or no IEND chunk")
    return out


def _chunk(kind: bytes, body: bytes) -> bytes:
    return (
        struct.pack(">I", len(body))
        + kind
        + body
        + struct.pack(">I", zlib.crc32(kind + body) & 0xFFFFFFFF)
    )


def _credential_text(body: bytes) -> str | None:
    """The text of an ``openbadgecredential`` iTXt chunk (None: another keyword)."""
    keyword, sep, rest = body.partition(b"\0")
    if keyword != KEYWORD or not sep or len(rest) < 2:
        return None
    compressed, _method, rest = rest[0], rest[1], rest[2:]
    _lang, _, rest = rest.partition(b"\0")
    _translated, _, text = rest.partition(b"\0")
    if compressed:
        text = zlib.decompressobj().decompress(text, MAX_IMAGE_BYTES)
    return text.decode("utf-8")


def bake_png(png: bytes, token: str) -> bytes:
    """The image with the credential in one iTXt chunk right after IHDR (any earlier one is
    replaced: a chunk with this keyword must appear once)."""
    chunks = [(k, b) for k, b in _chunks(png) if not (k == b"iTXt" and _credential_text(b))]
    itxt = KEYWORD + b"\0" + b"\0\0" + b"\0" + b"\0" + token.encode("utf-8")
    chunks.insert(1, (b"iTXt", itxt))
    return PNG_SIGNATURE + b"".join(_chunk(k, b) for k, b in chunks)


def extract_png(png: bytes) -> str:
    for kind, body in _chunks(png):
        if kind == b"iTXt":
            try:
                text = _credential_text(body)
            except (UnicodeDecodeError, zlib.error):
                raise BadImage("damaged", "the credential chunk is not UTF-8 text") from None
            if text is not None:
                return text
    raise BadImage("no_credential", "this PNG carries no Open Badges credential")


# --- SVG -------------------------------------------------------------------------------------


def extract_svg(svg: bytes) -> str:
    """The ``verify`` attribute of the first ``openbadges:credential`` element. Documents with
    a DOCTYPE are refused (no entity tricks on a public page)."""
    if b"<!DOCTYPE" in svg.upper() or b"<!ENTITY" in svg.upper():
        raise BadImage("damaged", "an SVG badge has no DOCTYPE")
    try:
        root = ElementTree.fromstring(svg)
    except ElementTree.ParseError as e:
        raise BadImage("damaged", f"the SVG is not well-formed XML ({e})") from None
    for el in root.iter(f"{{{SVG_NS}}}credential"):
        token = el.get("verify") or (el.text or "").strip()
        if token:
            return token
    raise BadImage("no_credential", "this SVG carries no Open Badges credential")


def extract(data: bytes) -> str:
    """The credential in a PNG or an SVG badge."""
    if len(data) > MAX_IMAGE_BYTES:
        raise BadImage("too_large", "the image is larger than 4 MiB")
    if data.startswith(PNG_SIGNATURE):
        return extract_png(data)
    if data.lstrip()[:5] in (b"<?xml", b"<svg ", b"<svg\n") or b"<svg" in data[:512]:
        return extract_svg(data)
    raise BadImage("not_image", "neither a PNG nor an SVG image")


# --- drawing ---------------------------------------------------------------------------------


def svg(title: str, level_word: str, issuer_name: str, level: str, token: str = "") -> bytes:
    """The badge as SVG; with ``token``, baked."""
    ink, paper = COLOURS.get(level, COLOURS["autonomous"])
    baked = f"  <openbadges:credential verify={quoteattr(token)}/>\n" if token else ""
    return (
        '<?xml version="1.0" encoding="UTF-8"?>\n'
        f'<svg xmlns="http://www.w3.org/2000/svg" xmlns:openbadges="{SVG_NS}" '
        'width="400" height="400" viewBox="0 0 400 400" role="img" '
        f"aria-label={quoteattr(f'{title} — {issuer_name}')}>\n"
        f"{baked}"
        f'  <circle cx="200" cy="200" r="190" fill="{paper}" stroke="{ink}" stroke-width="16"/>\n'
        f'  <text x="200" y="170" text-anchor="middle" font-family="sans-serif" '
        f'font-size="34" font-weight="bold" fill="{ink}">{escape(title)}</text>\n'
        f'  <text x="200" y="230" text-anchor="middle" font-family="sans-serif" '
        f'font-size="44" fill="{ink}">{escape(level_word)}</text>\n'
        f'  <text x="200" y="300" text-anchor="middle" font-family="sans-serif" '
        f'font-size="20" fill="#333">{escape(issuer_name)}</text>\n'
        "</svg>\n"
    ).encode()


def png(title: str, level_word: str, issuer_name: str, level: str) -> bytes:
    """The same badge as a 400×400 PNG (Pillow, with its bundled font)."""
    from PIL import Image, ImageDraw, ImageFont

    ink, paper = COLOURS.get(level, COLOURS["autonomous"])
    image = Image.new("RGBA", (400, 400), (255, 255, 255, 0))
    draw = ImageDraw.Draw(image)
    draw.ellipse((10, 10, 390, 390), fill=paper, outline=ink, width=16)
    for text, y, size in ((title, 160, 32), (level_word, 225, 44), (issuer_name, 295, 20)):
        font = ImageFont.load_default(size=size)
        while draw.textlength(text, font=font) > 330 and size > 10:
            size -= 2
            font = ImageFont.load_default(size=size)
        draw.text((200, y), text, fill=ink if y < 290 else "#333333", font=font, anchor="mm")
    out = io.BytesIO()
    image.save(out, format="PNG", optimize=True)
    return out.getvalue()
