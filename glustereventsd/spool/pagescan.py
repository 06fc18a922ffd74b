"""Read the rows of a damaged SQLite file page by page, without SQLite, for spool recovery.

When a spool is truncated or overwritten, the b-tree pages that lead to its rows (written
last, so often at the end of the file) are lost with the rest, and SQLite cannot reach rows
that are still on disk. This module walks every page instead, as SQLite's ``.recover`` does:
each table-leaf page's cells are decoded (varints, the record format, overflow chains) and
yielded as plain tuples. It follows the file format published at sqlite.org/fileformat.html.

Pages on the free list (deleted content) are skipped when the header says where the list
is; a cell whose bytes do not decode is skipped. Which table a row came from is for the
caller to tell from its shape: nothing here knows the spool's schema.
"""

from __future__ import annotations

import os
import struct
from collections.abc import Iterator
from pathlib import Path
from typing import List, Tuple, Union

MAGIC = b"SQLite format 3\0"
TABLE_LEAF = 0x0D
PAGE_SIZES = (4096, 1024, 2048, 8192, 16384, 32768, 65536)
MAX_OVERFLOW_PAGES = 1 << 16  # a longer chain is a loop in damaged pages

Value = Union[int, float, str, bytes, None]
Row = Tuple[int, List[Value]]  # (rowid, column values)


class _Broken(Exception):
    """A cell whose bytes do not decode."""


def _varint(data: bytes, offset: int) -> tuple[int, int]:
    """(value, offset after it) of the SQLite varint at ``offset``."""
    value = 0
    for index in range(9):
        if offset + index >= len(data):
            raise _Broken("varint past the end")
        byte = data[offset + index]
        if index == 8:
            return (value << 8) | byte, offset + 9
        value = (value << 7) | (byte & 0x7F)
        if byte < 0x80:
            return value, offset + index + 1
    raise _Broken("unreachable")


def _signed(value: int) -> int:
    return value - (1 << 64) if value >= 1 << 63 else value


def decode_record(payload: bytes) -> list[Value]:
    """The column values of one record (SQLite's record format)."""
    header_size, offset = _varint(payload, 0)
    if header_size < 1 or header_size > len(payload):
        raise _Broken("bad record header size")
    types = []
    while offset < header_size:
        serial, offset = _varint(payload, offset)
        types.append(serial)
    body = header_size
    values: list[Value] = []
    for serial in types:
        if serial == 0:
            values.append(None)
        elif serial in (8, 9):
            values.append(serial - 8)
        elif 1 <= serial <= 6:
            width = (1, 2, 3, 4, 6, 8)[serial - 1]
            chunk = payload[body:body + width]
            if len(chunk) != width:
                raise _Broken("integer past the end")
            values.append(int.from_bytes(chunk, "big", signed=True))
            body += width
        elif serial == 7:
            chunk = payload[body:body + 8]
            if len(chunk) != 8:
                raise _Broken("float past the end")
            values.append(struct.unpack(">d", chunk)[0])
            body += 8
        elif serial >= 12:
            length = (serial - 12) // 2
            chunk = payload[body:body + length]
            if len(chunk) != length:
                raise _Broken("text or blob past the end")
            if serial % 2:
                try:
                    values.append(chunk.decode("utf-8"))
                except UnicodeDecodeError:
                    raise _Broken("text not UTF-8") from None
            else:
                values.append(bytes(chunk))
            body += length
        else:
            raise _Broken("reserved serial type")
    return values


class PageFile:
    """A damaged SQLite file, read one page at a time."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.size = os.path.getsize(path)
        with open(path, "rb") as handle:
            self.header = handle.read(100)
        self.valid_header = len(self.header) == 100 and self.header.startswith(MAGIC)
        self.page_size = self._page_size()
        reserved = self.header[20] if self.valid_header else 0
        self.usable = self.page_size - reserved
        if self.usable < 480:  # SQLite's own lower bound: a reserve this large is garbage
            self.usable = self.page_size
        self.pages = self.size // self.page_size
        self._handle = open(path, "rb")  # noqa: SIM115 - closed by close()

    def close(self) -> None:
        """Close the file."""
        self._handle.close()

    def _page_size(self) -> int:
        if self.valid_header:
            size = struct.unpack(">H", self.header[16:18])[0]
            size = 65536 if size == 1 else size
            if size in PAGE_SIZES:
                return size
        best, score = 4096, -1
        with open(self.path, "rb") as handle:  # garbled header: the size whose pages look like b-tree pages
            for size in PAGE_SIZES:
                found = 0
                for number in range(1, min(64, self.size // size)):
                    handle.seek(number * size)
                    found += handle.read(1) in (b"\x02", b"\x05", b"\x0a", b"\x0d")
                if found > score:
                    best, score = size, found
        return best

    def page(self, number: int) -> bytes:
        """Page ``number`` (1-based); shorter or empty past the end of the file."""
        self._handle.seek((number - 1) * self.page_size)
        return self._handle.read(self.page_size)

    def free_pages(self) -> set[int]:
        """The pages on the free list, as far as the header and trunk pages can be followed."""
        if not self.valid_header:
            return set()
        trunk, count = struct.unpack(">II", self.header[32:40])
        free: set[int] = set()
        while trunk and trunk <= self.pages and trunk not in free and len(free) <= count:
            free.add(trunk)
            data = self.page(trunk)
            if len(data) < 8:
                break
            following, leaves = struct.unpack(">II", data[:8])
            for index in range(min(leaves, (len(data) - 8) // 4)):
                free.add(struct.unpack(">I", data[8 + 4 * index:12 + 4 * index])[0])
            trunk = following
        return free

    def _payload(self, page: bytes, offset: int) -> tuple[int, bytes]:
        """(rowid, payload) of the table-leaf cell at ``offset``, following its overflow chain."""
        size, offset = _varint(page, offset)
        rowid, offset = _varint(page, offset)
        usable = self.usable
        most = usable - 35
        if size <= most:
            local = size
        else:
            least = ((usable - 12) * 32 // 255) - 23
            local = least + (size - least) % (usable - 4)
            local = local if local <= most else least
        payload = bytearray(page[offset:offset + local])
        if len(payload) != local:
            raise _Broken("cell past the end of its page")
        if local < size:
            chain = struct.unpack(">I", page[offset + local:offset + local + 4] or b"\0\0\0\0")[0]
            seen = 0
            while chain and len(payload) < size:
                if chain > self.pages or seen > MAX_OVERFLOW_PAGES:
                    raise _Broken("overflow chain leaves the file")
                data = self.page(chain)
                chain = struct.unpack(">I", data[:4])[0]
                payload += data[4:usable][:size - len(payload)]
                seen += 1
            if len(payload) != size:
                raise _Broken("overflow chain too short")
        return _signed(rowid), bytes(payload)

    def rows(self) -> Iterator[Row]:
        """Every row of every table-leaf page that decodes, page by page."""
        free = self.free_pages()
        for number in range(1, self.pages + 1):
            if number in free:
                continue
            page = self.page(number)
            start = 100 if number == 1 else 0
            if len(page) < self.page_size or page[start] != TABLE_LEAF:  # a page cut short is not trusted
                continue
            cells = struct.unpack(">H", page[start + 3:start + 5])[0]
            if start + 8 + 2 * cells > len(page):
                continue
            for index in range(cells):
                pointer = struct.unpack(">H", page[start + 8 + 2 * index:start + 10 + 2 * index])[0]
                if not start + 8 + 2 * cells <= pointer < self.usable:
                    continue
                try:
                    rowid, payload = self._payload(page, pointer)
                    yield rowid, decode_record(payload)
                except (_Broken, struct.error):
                    continue


def scan(path: Path) -> Iterator[Row]:
    """Every decodable row of the SQLite file at ``path`` (see the module docstring)."""
    pages = PageFile(path)
    try:
        yield from pages.rows()
    finally:
        pages.close()
