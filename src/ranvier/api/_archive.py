"""Bounded reading of zip archives and of the ``.npy`` arrays inside them.

A model file may come from someone else, so every size is checked before
anything is inflated or allocated:

- the end record of a zip gives the size of its central directory, checked
  before ``zipfile`` parses it (a directory of a million entries would cost
  hundreds of megabytes of ``ZipInfo`` objects);
- a member's declared size is checked against what the caller can accept
  before it is inflated, and reading stops there whatever the compressed
  stream holds (``ZipExtFile.read()`` with no size would inflate the whole
  stream: a 10 MB zip bomb became 4.2 GB);
- an array's ``.npy`` header, read from the member's first bytes, must give
  the expected shape and a dtype of the expected kind before the array is
  allocated, and the array must end the member (so the CRC is always checked).

Every failure is an :class:`InvalidModelFileError` naming the file, the
member and the reason (:func:`reading` converts whatever the standard library
or NumPy raised, keeping it as the cause).
"""

import contextlib
import io
import math
import struct
import zipfile

import numpy as np

__all__ = ["InvalidModelFileError", "reading", "open_zip", "read_member", "npz_size_bound", "read_arrays"]

# The zip end records (APPNOTE 4.3.16, 4.3.15, 4.3.14), as zipfile reads them.
_END = struct.Struct("<4s4H2LH")
_END64_LOCATOR = struct.Struct("<4sLQL")
_END64 = struct.Struct("<4sQ2H2L4Q")
_MAX_COMMENT = 1 << 16  # zipfile's search window
# A central directory entry: 46 fixed bytes, then the name, extra field and comment. ranvier
# writes names of a few characters and zip64 extras; 1 KiB each is ample for any writer.
_MAX_ENTRY_BYTES = 1024
# A .npy header: magic, length, then a dict of about 100 bytes (numpy pads it to 64 bytes).
_MAX_NPY_HEADER = 4096
# What a member of an .npz costs beyond its array: the .npy header, the local header and the
# directory entry (names and zip64 extras), a data descriptor.
_NPZ_MEMBER_OVERHEAD = _MAX_NPY_HEADER + 2 * _MAX_ENTRY_BYTES
_MAX_ITEMSIZE = 8
_READ_CHUNK = 1 << 20
_MAX_REASON = 1000


class InvalidModelFileError(ValueError):
    """A model or weights file that cannot be loaded.

    Every failure to load a file is one (a ``ValueError``, as before); ``__cause__``
    holds the error the reading raised, when there was one.

    Attributes
    ----------
    path : str
        The file (``"<bytes>"`` for bytes, a pickled model).
    member : str or None
        The part of the file at fault: ``"config.json"``, ``"weights.npz:w00003"``,
        ``"optimizer.npz"``...; None for the archive as a whole.
    reason : str
    """

    def __init__(self, path, member, reason):
        super().__init__(path, member, reason)
        self.path, self.member, self.reason = path, member, reason

    def __str__(self):
        where = self.path if self.member is None else f"{self.path}: {self.member}"
        return f"{where}: {self.reason}"


@contextlib.contextmanager
def reading(path, member):
    """Turn any error raised in the block into an :class:`InvalidModelFileError` naming ``member``.

    Whatever a hostile file makes the standard library, NumPy or a layer's
    constructor raise (``zlib.error``, ``EOFError``, ``KeyError``, ``TypeError``,
    ``RecursionError``, ``MemoryError``...) is a failure to load that file; the
    original error is kept as ``__cause__``.
    """
    try:
        yield
    except InvalidModelFileError:
        raise
    except Exception as exc:
        raise InvalidModelFileError(path, member, _reason(exc)) from exc


def _reason(exc):
    text = str(exc) if isinstance(exc, ValueError) else f"{type(exc).__name__}: {exc}".rstrip(": ")
    # Errors may quote a whole (hostile, huge) config; their end often says what to do.
    return text if len(text) <= _MAX_REASON else f"{text[: _MAX_REASON - 300]} ... {text[-300:]}"


def _directory(fh):
    """``(entries, directory bytes)`` from the end records of the zip ``fh``, found as zipfile finds them."""
    fh.seek(0, 2)
    size = fh.tell()
    tail_size = min(size, _END.size + _MAX_COMMENT)
    fh.seek(size - tail_size)
    tail = fh.read(tail_size)
    at = len(tail) - _END.size
    if at < 0 or tail[at : at + 4] != b"PK\x05\x06" or tail[-2:] != b"\0\0":
        at = tail.rfind(b"PK\x05\x06")
    if at < 0 or at + _END.size > len(tail):
        raise ValueError("not a zip archive (no end of central directory record)")
    entries, directory_size = _END.unpack_from(tail, at)[4:6]
    # A zip64 end record, when its locator precedes the end record, overrides both counts.
    end = size - tail_size + at
    if end >= _END64_LOCATOR.size + _END64.size:
        fh.seek(end - _END64_LOCATOR.size - _END64.size)
        records = fh.read(_END64.size + _END64_LOCATOR.size)
        if records[_END64.size : _END64.size + 4] == b"PK\x06\x07" and records[:4] == b"PK\x06\x06":
            entries, directory_size = _END64.unpack_from(records)[7:9]
    return entries, directory_size


def open_zip(fh, max_members):
    """``zipfile.ZipFile(fh)`` once its end record shows at most ``max_members`` entries.

    Raises
    ------
    ValueError
        For a larger central directory (zipfile would parse all of it), or no end record.
    """
    entries, directory_size = _directory(fh)
    if entries > max_members or directory_size > max_members * _MAX_ENTRY_BYTES:
        raise ValueError(
            f"the archive's directory lists {entries} members in {directory_size} bytes, "
            f"more than the {max_members} members this file can hold"
        )
    fh.seek(0)
    return zipfile.ZipFile(fh)


def read_member(zf, name, max_size, why):
    """The bytes of member ``name`` of ``zf``, refused before inflating if it declares over ``max_size``.

    ``why`` says where ``max_size`` comes from, for the error.
    """
    info = zf.getinfo(name)
    if info.file_size > max_size:
        raise ValueError(f"declares {info.file_size} bytes uncompressed, more than {max_size} ({why})")
    with zf.open(info) as fh:
        data = _read_exactly(fh, info.file_size)
        if fh.read(1):
            raise ValueError(f"holds more than the {info.file_size} bytes it declares")
    return bytes(data)  # bytes: io.BytesIO shares it instead of copying


def _read_exactly(fh, nbytes):
    # In bounded reads (one read() of a deflated member inflates as much as its stream holds at
    # once), into a buffer that grows with the data: a member declaring more than it holds
    # costs what it holds, not what it declares.
    buf = bytearray()
    while len(buf) < nbytes:
        chunk = fh.read(min(_READ_CHUNK, nbytes - len(buf)))
        if not chunk:
            raise ValueError(f"is truncated: {len(buf)} of {nbytes} bytes")
        buf += chunk
    return buf


def npz_size_bound(specs):
    """The most bytes an ``.npz`` of arrays of ``specs`` (name -> (shape, dtype)) can take."""
    return sum(math.prod(shape) * _MAX_ITEMSIZE + _NPZ_MEMBER_OVERHEAD for shape, _ in specs.values()) + 1024


def read_arrays(fh, specs, path, label):
    """``{name: array}`` from the ``.npz`` in ``fh``, which must hold exactly the arrays of ``specs``.

    Parameters
    ----------
    fh : binary file, seekable
    specs : dict[str, (tuple, numpy.dtype)]
        Name -> expected shape and dtype. An array must have that shape and a dtype of the
        same kind (float for float, integer for integer), at most 8 bytes an item.
    path : str
    label : str or None
        The ``.npz`` in messages (``"weights.npz"``); its members are ``label:name``.
    """
    with reading(path, label):
        zf = open_zip(fh, max(len(specs), 1))
    with zf:
        names = zf.namelist()
        expected = {f"{key}.npy" for key in specs}
        if sorted(names) != sorted(expected):
            missing, extra = sorted(expected - set(names)), sorted(set(names) - expected)
            raise InvalidModelFileError(
                path,
                label,
                f"holds {len(names)} arrays where {len(specs)} are expected "
                f"(missing {missing[:5]}, unexpected {extra[:5]})",
            )
        return {
            key: _read_array(zf, f"{key}.npy", shape, dtype, path, key if label is None else f"{label}:{key}")
            for key, (shape, dtype) in specs.items()
        }


def _read_array(zf, name, shape, dtype, path, member):
    with reading(path, member), zf.open(name) as fh:
        file_shape, fortran_order, file_dtype = _npy_header(fh)
        dtype = np.dtype(dtype)
        if file_shape != tuple(shape):
            raise ValueError(f"has shape {file_shape}, expected {tuple(shape)}")
        if not _same_kind(file_dtype, dtype) or file_dtype.itemsize > _MAX_ITEMSIZE:
            raise ValueError(f"has dtype {file_dtype}, expected {dtype}")
        data = _read_exactly(fh, math.prod(file_shape) * file_dtype.itemsize)
        if fh.read(1):
            raise ValueError("holds bytes after its array")
    return np.frombuffer(data, file_dtype).reshape(file_shape, order="F" if fortran_order else "C")


def _npy_header(fh):
    """``(shape, fortran_order, dtype)`` from a ``.npy`` header of at most ``_MAX_NPY_HEADER`` bytes."""
    magic = fh.read(8)
    if len(magic) != 8 or magic[:6] != b"\x93NUMPY" or magic[6:] not in (b"\x01\x00", b"\x02\x00"):
        raise ValueError(f"is not a .npy array of format version 1 or 2 (starts {magic!r})")
    size_field = fh.read(2 if magic[6] == 1 else 4)
    size = int.from_bytes(size_field, "little")
    if size > _MAX_NPY_HEADER:
        raise ValueError(f"has a .npy header of {size} bytes, more than {_MAX_NPY_HEADER}")
    header = io.BytesIO(size_field + _read_exactly(fh, size))
    if magic[6] == 1:
        return np.lib.format.read_array_header_1_0(header)
    return np.lib.format.read_array_header_2_0(header)


def _same_kind(file_dtype, dtype):
    kinds = ("iu", "f", "b")
    plain = file_dtype.fields is None and file_dtype.subdtype is None and not file_dtype.hasobject
    return plain and any(file_dtype.kind in group and dtype.kind in group for group in kinds)
