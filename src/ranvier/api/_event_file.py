"""TensorBoard event files written without TensorFlow: CRC32C, protobuf encoding, TFRecord framing.

An event file is a sequence of TFRecords, each holding one serialised
``tensorflow.Event`` protocol buffer. A record is framed as

    uint64 length | uint32 masked_crc32c(length) | data | uint32 masked_crc32c(data)

(little-endian). The first event carries ``file_version = "brain.Event:2"``;
the others a ``Summary`` of scalar (``simple_value``) or histogram
(``HistogramProto``) values, which TensorBoard's scalar and histogram plugins
read. Only the few message fields these need are encoded here:

    Event          { double wall_time = 1; int64 step = 2; string file_version = 3; Summary summary = 5; }
    Summary        { repeated Value value = 1; }
    Summary.Value  { string tag = 1; float simple_value = 2; HistogramProto histo = 5; }
    HistogramProto { double min = 1; double max = 2; double num = 3; double sum = 4;
                     double sum_squares = 5; repeated double bucket_limit = 6 [packed];
                     repeated double bucket = 7 [packed]; }
"""

import itertools
import os
import struct
import time

import numpy as np

__all__ = ["crc32c", "masked_crc32c", "frame_record", "histogram_proto", "EventFileWriter"]

_CRC32C_POLY = 0x82F63B78  # Castagnoli, bit-reversed


def _crc32c_table():
    table = []
    for byte in range(256):
        crc = byte
        for _ in range(8):
            crc = (crc >> 1) ^ _CRC32C_POLY if crc & 1 else crc >> 1
        table.append(crc)
    return tuple(table)


_CRC32C_TABLE = _crc32c_table()


def crc32c(data):
    """The CRC32C (Castagnoli) checksum of ``data`` (bytes-like), as an unsigned 32-bit int."""
    crc = 0xFFFFFFFF
    table = _CRC32C_TABLE
    for byte in bytes(data):
        crc = table[(crc ^ byte) & 0xFF] ^ (crc >> 8)
    return crc ^ 0xFFFFFFFF


def masked_crc32c(data):
    """TFRecord's masked CRC32C: rotated right by 15 bits plus a constant (a CRC of CRCs stays strong)."""
    crc = crc32c(data)
    return (((crc >> 15) | (crc << 17)) + 0xA282EAD8) & 0xFFFFFFFF


def frame_record(data):
    """``data`` (bytes) framed as one TFRecord: length, its masked CRC, data, its masked CRC."""
    length = struct.pack("<Q", len(data))
    return length + struct.pack("<I", masked_crc32c(length)) + data + struct.pack("<I", masked_crc32c(data))


# --------------------------------------------------------------- protobuf
def _varint(value):
    value &= 0xFFFFFFFFFFFFFFFF  # a negative int64 is its 64-bit two's complement (10 bytes)
    out = bytearray()
    while value > 0x7F:
        out.append((value & 0x7F) | 0x80)
        value >>= 7
    out.append(value)
    return bytes(out)


def _key(field, wire_type):
    return _varint(field << 3 | wire_type)


def _int64_field(field, value):
    return _key(field, 0) + _varint(int(value))


def _double_field(field, value):
    return _key(field, 1) + struct.pack("<d", value)


def _float_field(field, value):
    return _key(field, 5) + struct.pack("<f", value)


def _bytes_field(field, data):
    return _key(field, 2) + _varint(len(data)) + data


def _packed_doubles_field(field, values):
    return _bytes_field(field, np.asarray(values, dtype="<f8").tobytes())


def _event(wall_time, step, file_version=None, summary=None):
    out = _double_field(1, wall_time) + _int64_field(2, step)
    if file_version is not None:
        out += _bytes_field(3, file_version.encode())
    if summary is not None:
        out += _bytes_field(5, summary)
    return out


def _summary_value(tag, simple_value=None, histo=None):
    out = _bytes_field(1, tag.encode())
    if simple_value is not None:
        out += _float_field(2, simple_value)
    if histo is not None:
        out += _bytes_field(5, histo)
    return _bytes_field(1, out)  # one repeated ``Summary.value`` entry


def histogram_proto(values, bins=30):
    """A serialised ``HistogramProto`` of the finite entries of ``values``, ``bins`` equal-width buckets.

    ``tf.summary.histogram`` (what Keras writes) uses 30 equal-width buckets
    too. Bucket ``i`` counts the values in ``[limit[i-1], limit[i])``, the
    last one includes the maximum; all values equal make one bucket.

    Parameters
    ----------
    values : array_like of real numbers, any shape
    bins : int, default 30

    Returns
    -------
    bytes or None
        None when ``values`` has no finite entry (a histogram of nothing
        cannot be drawn).
    """
    values = np.asarray(values, dtype=np.float64).ravel()
    values = values[np.isfinite(values)]
    if values.size == 0:
        return None
    low, high = float(values.min()), float(values.max())
    if low == high:
        limits, counts = np.array([high]), np.array([values.size], dtype=np.float64)
    else:
        counts, edges = np.histogram(values, bins=bins, range=(low, high))
        limits = edges[1:]
    return (
        _double_field(1, low)
        + _double_field(2, high)
        + _double_field(3, float(values.size))
        + _double_field(4, float(values.sum()))
        + _double_field(5, float(np.dot(values, values)))
        + _packed_doubles_field(6, limits)
        + _packed_doubles_field(7, counts)
    )


# ----------------------------------------------------------------- writer
_file_counter = itertools.count()


class EventFileWriter:
    """Appends events to a new ``events.out.tfevents.<time>.<host>.<pid>.<n>.v2`` file in ``logdir``.

    Each record goes to the file in one ``write`` call and the version record
    is flushed at once, so a process killed at any point leaves a file whose
    flushed records all read back (TensorBoard's reader stops at a truncated
    last record). ``flush`` pushes buffered records to the operating system.

    Parameters
    ----------
    logdir : str
        Created if missing.
    """

    def __init__(self, logdir):
        import socket  # only when a file is written: importing ranvier stays light

        os.makedirs(logdir, exist_ok=True)
        host = socket.gethostname().replace(os.sep, "_") or "localhost"
        while True:
            # The counter (as in TensorFlow's names) tells apart two writers of one process and second.
            name = f"events.out.tfevents.{int(time.time()):010d}.{host}.{os.getpid()}.{next(_file_counter)}.v2"
            self.path = os.path.join(logdir, name)
            try:
                self._file = open(self.path, "xb")
                break
            except FileExistsError:
                continue
        self._write(_event(time.time(), 0, file_version="brain.Event:2"))
        self.flush()

    def _write(self, event):
        self._file.write(frame_record(event))

    def add_scalar(self, tag, value, step):
        """One scalar (stored as float32, as TensorBoard's ``simple_value``) at ``step``."""
        self._write(_event(time.time(), step, summary=_summary_value(tag, simple_value=float(value))))

    def add_histogram(self, tag, values, step, bins=30):
        """A histogram of ``values`` at ``step``; nothing when ``values`` has no finite entry."""
        histo = histogram_proto(values, bins)
        if histo is not None:
            self._write(_event(time.time(), step, summary=_summary_value(tag, histo=histo)))

    def flush(self):
        self._file.flush()

    def close(self):
        if not self._file.closed:
            self._file.close()

    @property
    def closed(self):
        return self._file.closed
