"""Finding a data set's file (cache, download or a path the user gives) and reading pickled arrays safely."""

import codecs
import io
import os
import pickle
import zipfile

import numpy as np

from .. import file_utils

__all__ = ["data_file", "load_npz", "load_pickle", "shuffle_split", "check_test_split"]

# The only globals a pickled ndarray (plain or dtype=object) needs; both module spellings (NumPy < 2
# and >= 2) map to the running NumPy's function. Python 3 writes bytes in protocol 2 as
# _codecs.encode(text, "latin1"), a pure function.
_RECONSTRUCT = np.empty(0).__reduce__()[0]
_ALLOWED_GLOBALS = {
    ("_codecs", "encode"): codecs.encode,
    ("numpy", "ndarray"): np.ndarray,
    ("numpy", "dtype"): np.dtype,
    ("numpy.core.multiarray", "_reconstruct"): _RECONSTRUCT,
    ("numpy._core.multiarray", "_reconstruct"): _RECONSTRUCT,
}


class _RestrictedUnpickler(pickle.Unpickler):
    """Builds builtin containers and NumPy arrays only: any other class or function is refused.

    A pickle can run any callable it names; data set files come from the
    network or from the user, so none but the array constructors is allowed.
    """

    def find_class(self, module, name):
        try:
            return _ALLOWED_GLOBALS[(module, name)]
        except KeyError:
            raise pickle.UnpicklingError(
                f"refusing to load {module}.{name} from a data set file: only NumPy "
                "arrays and builtin containers are allowed (corrupted or malicious "
                "file?)"
            ) from None


def load_pickle(fileobj, encoding="ASCII"):
    """Unpickle ``fileobj`` allowing builtin containers and NumPy arrays only (CIFAR batches)."""
    return _RestrictedUnpickler(fileobj, encoding=encoding).load()


def _read_npy(fileobj):
    """One ``.npy`` member: numeric arrays with pickling off, object arrays through the restricted unpickler."""
    version = np.lib.format.read_magic(fileobj)
    read_header = (
        np.lib.format.read_array_header_1_0 if version == (1, 0) else np.lib.format.read_array_header_2_0
    )  # 3.0 differs only in the header's text encoding
    shape, fortran_order, dtype = read_header(fileobj)
    if not dtype.hasobject:
        fileobj.seek(0)
        return np.lib.format.read_array(fileobj, allow_pickle=False)
    return load_pickle(fileobj, encoding="latin1")


def load_npz(path):
    """``{name: array}`` from an ``.npz`` file; object arrays (ragged sequences) are read without ever
    running code a pickle names, unlike ``np.load(allow_pickle=True)``."""
    arrays = {}
    with zipfile.ZipFile(path) as archive:
        for member in archive.namelist():
            if member.endswith(".npy"):
                with archive.open(member) as raw:
                    arrays[member[: -len(".npy")]] = _read_npy(io.BytesIO(raw.read()))
    return arrays


def data_file(path, origin, file_hash, cache_subdir="datasets"):
    """The local path of a data set file.

    A bare file name (the default) is looked up in the cache and downloaded
    into it if missing; a cached or downloaded file must match ``file_hash``.
    A path with a folder in it (``"./mnist.npz"``, ``"/data/mnist.npz"``,
    a ``pathlib.Path``) is the user's own copy: read as it is, never checked.
    """
    fspath = os.fspath(path)
    if isinstance(path, os.PathLike) or os.path.dirname(fspath) or os.path.isabs(fspath):
        fspath = os.path.expanduser(fspath)
        if not os.path.isfile(fspath):
            raise FileNotFoundError(
                f"path={fspath!r} is not a file. Download {origin} and save it there, or "
                "pass a bare file name to use the cache "
                f"({os.path.join(file_utils.ranvier_home(), cache_subdir)})"
            )
        return fspath
    return file_utils.get_file(fspath, origin=origin, file_hash=file_hash, cache_subdir=cache_subdir)


def shuffle_split(x, y, test_split, seed):
    """Shuffle with ``RandomState(seed)`` then cut off the last ``test_split`` fraction, as Keras' loaders."""
    rng = np.random.RandomState(seed)
    indices = np.arange(len(x))
    rng.shuffle(indices)
    x, y = x[indices], y[indices]
    cut = int(len(x) * (1 - test_split))
    return (np.array(x[:cut]), np.array(y[:cut])), (np.array(x[cut:]), np.array(y[cut:]))


def check_test_split(test_split):
    if isinstance(test_split, bool) or not isinstance(test_split, (int, float, np.floating)) or not 0 <= test_split < 1:
        raise ValueError(f"load_data: test_split must be a number in [0, 1), got {test_split!r}")
