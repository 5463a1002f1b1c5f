"""Text of a reportlab PDF, read back without a PDF library (none is installed): inflate the
streams, read each font's ToUnicode map, decode the strings shown by Tj/TJ. Enough for the PDFs
oncology.board_report writes (TrueType subsets, literal strings); not a general PDF parser."""

from __future__ import annotations

import base64
import re
import zlib

OBJECT = re.compile(rb"(\d+) 0 obj\s*(.*?)endobj", re.S)
STREAM = re.compile(rb"^(.*?)stream\r?\n", re.S)
TOKEN = re.compile(
    rb"\((?:\\.|[^\\)])*\)|<[0-9A-Fa-f\s]*>|/[^\s/\[\]()<>]+|[A-Za-z*'\"]+|\[|\]|-?[\d.]+"
)


def _objects(pdf: bytes) -> dict[int, tuple[bytes, bytes | None]]:
    found = {}
    for number, body in OBJECT.findall(pdf):
        stream = STREAM.match(body)
        if stream is None:
            found[int(number)] = (body, None)
            continue
        head = stream.group(1)
        length = re.search(rb"/Length (\d+)", head)
        assert length is not None
        data = body[stream.end() : stream.end() + int(length.group(1))]
        if b"/ASCII85Decode" in head:
            data = base64.a85decode(data.strip(), adobe=True)
        if b"/FlateDecode" in head:
            data = zlib.decompress(data)
        found[int(number)] = (head, data)
    return found


def _cmap(data: bytes) -> dict[int, str]:
    table: dict[int, str] = {}
    for block in re.findall(rb"beginbfchar(.*?)endbfchar", data, re.S):
        for src, dst in re.findall(rb"<([0-9A-Fa-f]+)>\s*<([0-9A-Fa-f]+)>", block):
            table[int(src, 16)] = bytes.fromhex(dst.decode()).decode("utf-16-be")
    for block in re.findall(rb"beginbfrange(.*?)endbfrange", data, re.S):
        for lo, hi, dst in re.findall(
            rb"<([0-9A-Fa-f]+)>\s*<([0-9A-Fa-f]+)>\s*<([0-9A-Fa-f]+)>", block
        ):
            start = int.from_bytes(bytes.fromhex(dst.decode()), "big")
            for i, code in enumerate(range(int(lo, 16), int(hi, 16) + 1)):
                table[code] = chr(start + i)
    return table


def _literal(token: bytes) -> bytes:
    out, i, body = bytearray(), 0, token[1:-1]
    escapes = {ord("n"): 10, ord("r"): 13, ord("t"): 9, ord("b"): 8, ord("f"): 12}
    while i < len(body):
        c = body[i]
        if c != 0x5C:
            out.append(c)
            i += 1
            continue
        nxt = body[i + 1]
        if 0x30 <= nxt <= 0x37:
            octal = re.match(rb"[0-7]{1,3}", body[i + 1 : i + 4])
            assert octal is not None
            out.append(int(octal.group(), 8) & 0xFF)
            i += 1 + len(octal.group())
        else:
            out.append(escapes.get(nxt, nxt))
            i += 2
    return bytes(out)


def pdf_text(pdf: bytes) -> str:
    """Every page's shown text, a line per positioning operator."""
    objects = _objects(pdf)
    fonts: dict[bytes, dict[int, str]] = {}
    for head, _ in objects.values():
        name = re.search(rb"/Name\s*/([^\s/>]+)", head)
        to_unicode = re.search(rb"/ToUnicode\s+(\d+) 0 R", head)
        if b"/Type /Font" in head and name and to_unicode:
            data = objects[int(to_unicode.group(1))][1] or b""
            fonts[name.group(1)] = _cmap(data)
    lines: list[str] = []
    for head, data in objects.values():
        if data is None or b"BT" not in data or b"/Length1" in head:
            continue
        font: dict[int, str] = {}
        line: list[str] = []
        last_name = b""
        for token in TOKEN.findall(data):
            if token.startswith(b"/"):
                last_name = token[1:]
            elif token == b"Tf":
                font = fonts.get(last_name, {})
            elif token.startswith(b"("):
                raw = _literal(token)
                line.append(
                    "".join(font.get(b, "\ufffd") for b in raw) if font else raw.decode("latin-1")
                )
            elif token in (b"Td", b"TD", b"Tm", b"T*", b"BT", b"ET", b"'", b'"') and line:
                lines.append("".join(line))
                line = []
        if line:
            lines.append("".join(line))
    return "\n".join(lines)
