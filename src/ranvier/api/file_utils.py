"""Downloading into a cache with checksums, and safe archive extraction (``keras.utils.get_file``).

Files land in ``<cache_dir>/<cache_subdir>``; ``cache_dir`` defaults to
``$RANVIER_HOME`` or ``~/.ranvier`` (so data sets go to ``~/.ranvier/datasets``).
A download is written to a temporary file next to its target, hashed while it
streams, and renamed into place only when complete and matching the expected
hash: an interrupted or corrupted download never leaves a file that looks cached.
"""

import hashlib
import os
import shutil
import tarfile
import tempfile
import urllib.parse
import warnings
import zipfile

from .callbacks import Progbar

__all__ = ["get_file", "ranvier_home", "hash_file", "validate_file"]


def _urlopen(url):
    """The one place a download opens the network (tests replace it).

    urllib.request brings http.client and ssl, ~30 ms of ``import ranvier``: only a download pays it.
    """
    import urllib.request

    return urllib.request.urlopen(url)


_CHUNK = 1 << 16


def ranvier_home():
    """The cache root: ``$RANVIER_HOME`` if set, else ``~/.ranvier``."""
    return os.path.expanduser(os.environ.get("RANVIER_HOME") or os.path.join("~", ".ranvier"))


def _hasher(algorithm, file_hash=None):
    """hashlib object for "sha256", "md5" or "auto" (sha256 for a 64-character hash, else md5, as Keras)."""
    if algorithm not in ("auto", "sha256", "md5"):
        raise ValueError(f"get_file: hash_algorithm must be 'auto', 'sha256' or 'md5', got {algorithm!r}")
    if algorithm == "sha256" or (algorithm == "auto" and file_hash is not None and len(file_hash) == 64):
        return hashlib.sha256()
    return hashlib.md5()


def hash_file(fpath, algorithm="sha256", chunk_size=_CHUNK):
    """Hex digest of the file at ``fpath`` ("sha256" or "md5"), read in chunks."""
    hasher = _hasher(algorithm) if isinstance(algorithm, str) else algorithm
    with open(fpath, "rb") as f:
        for chunk in iter(lambda: f.read(chunk_size), b""):
            hasher.update(chunk)
    return hasher.hexdigest()


def validate_file(fpath, file_hash, algorithm="auto"):
    """True if the file's hash equals ``file_hash`` (algorithm as in :func:`get_file`)."""
    return hash_file(fpath, _hasher(algorithm, file_hash)) == str(file_hash).lower()


def _cache_dir(cache_dir, cache_subdir):
    """``cache_dir/cache_subdir``, created; a temporary-directory fallback if it cannot be written (as Keras)."""
    base = ranvier_home() if cache_dir is None else os.path.expanduser(os.fspath(cache_dir))
    datadir = os.path.join(base, cache_subdir)
    try:
        os.makedirs(datadir, exist_ok=True)
        if os.access(datadir, os.W_OK):
            return datadir
    except OSError:
        pass
    datadir = os.path.join(tempfile.gettempdir(), ".ranvier", cache_subdir)
    os.makedirs(datadir, exist_ok=True)
    return datadir


def _file_name(fname, origin):
    if fname is None or fname == "":
        fname = os.path.basename(urllib.parse.urlsplit(origin).path)
        if not fname or fname in (os.curdir, os.pardir) or os.path.splitdrive(fname)[0]:
            raise ValueError(f"get_file: cannot take a file name from origin={origin!r}; pass fname")
        return fname
    fname = os.fspath(fname)
    if os.sep in fname or (os.altsep and os.altsep in fname) or fname in (os.curdir, os.pardir):
        raise ValueError(
            f"get_file: fname must be a file name, not a path (use cache_dir to choose the folder), got {fname!r}"
        )
    return fname


def _download(origin, target, file_hash, algorithm):
    """Stream ``origin`` into ``target`` atomically, checking ``file_hash`` (if given) before the rename."""
    print(f"Downloading data from {origin}")
    fd, part = tempfile.mkstemp(dir=os.path.dirname(target), prefix=f".{os.path.basename(target)}.", suffix=".part")
    hasher = _hasher(algorithm, file_hash)
    try:
        with os.fdopen(fd, "wb") as out:
            try:
                response = _urlopen(origin)
            except OSError as exc:  # urllib's URLError is an OSError
                reason = getattr(exc, "reason", None) or exc
                raise OSError(
                    f"get_file: could not download {origin} ({reason}). To work offline, download "
                    f"it yourself and save it as {target}"
                ) from exc
            with response:
                total = _content_length(response)
                bar = Progbar(total)
                done = 0
                for chunk in iter(lambda: response.read(_CHUNK), b""):
                    out.write(chunk)
                    hasher.update(chunk)
                    done += len(chunk)
                    bar.update(done, finalize=False)
                bar.update(done, finalize=True)
        if total is not None and done != total:
            raise OSError(
                f"get_file: the download of {origin} stopped after {done} of {total} bytes; call again to retry"
            )
        received = hasher.hexdigest()
        if file_hash is not None and received != str(file_hash).lower():
            raise ValueError(
                f"get_file: the file downloaded from {origin} does not have the expected "
                f"{hasher.name} hash (corrupted, or not the expected file): expected "
                f"{file_hash}, received {received}; the download was deleted"
            )
        os.replace(part, target)
    except BaseException:
        if os.path.exists(part):
            os.remove(part)
        raise


def _content_length(response):
    length = getattr(response, "length", None)
    if length is None:
        header = getattr(response, "headers", {}).get("Content-Length")
        length = int(header) if header and header.strip().isdigit() else None
    return length


def _inside(base, name):
    """The resolved path of ``name`` joined to ``base`` if it stays inside ``base``, else None."""
    path = os.path.realpath(os.path.join(base, name))
    try:
        return path if os.path.commonpath([path, base]) == base else None
    except ValueError:  # different drives
        return None


def _safe_tar_members(archive, base):
    """The members that stay inside ``base``: no absolute or ``..`` paths, links only to inside, no devices."""
    for member in archive:
        dest = _inside(base, member.name)
        if dest is None or not (member.isreg() or member.isdir() or member.issym() or member.islnk()):
            safe = False
        elif member.issym():
            safe = _inside(base, os.path.join(os.path.dirname(dest), member.linkname)) is not None
        elif member.islnk():  # a hard link's target is named from the archive root
            safe = _inside(base, member.linkname) is not None
        else:
            safe = True
        if safe:
            yield member
        else:
            warnings.warn(
                f"get_file: skipped the archive member {member.name!r}: it would be written or "
                "point outside the extraction folder",
                stacklevel=4,
            )


def _safe_zip_members(archive, base):
    for info in archive.infolist():
        if _inside(base, info.filename) is not None:
            yield info
        else:
            warnings.warn(
                f"get_file: skipped the archive member {info.filename!r}: it would be written "
                "outside the extraction folder",
                stacklevel=4,
            )


def _archive_opener(path, archive_format):
    """(open function, kind) for the first format of ``archive_format`` that ``path`` is, else None."""
    if archive_format is None:
        return None
    formats = (
        ["tar", "zip"]
        if archive_format == "auto"
        else ([archive_format] if isinstance(archive_format, str) else list(archive_format))
    )
    for kind in formats:
        if kind == "tar" and tarfile.is_tarfile(path):
            return tarfile.open
        if kind == "zip" and zipfile.is_zipfile(path):
            return zipfile.ZipFile
        if kind not in ("tar", "zip"):
            raise ValueError(
                f"get_file: archive_format must be 'auto', 'tar', 'zip', None or a list of "
                f"'tar'/'zip', got {archive_format!r}"
            )
    return None


def extract_archive(file_path, path=".", archive_format="auto"):
    """Extract a tar (plain, gz, bz2, xz) or zip archive into ``path``; False if it is none of those.

    Members that would land outside ``path`` (absolute names, ``..``, links to
    outside, device files) are skipped with a warning. The archive is extracted
    into a temporary folder next to ``path`` and renamed into place, so ``path``
    is either the old or the complete new content.
    """
    opener = _archive_opener(file_path, archive_format)
    if opener is None:
        return False
    path = os.path.abspath(path)
    parent = os.path.dirname(path)
    os.makedirs(parent, exist_ok=True)
    staging = tempfile.mkdtemp(dir=parent, prefix=f".{os.path.basename(path)}.")
    try:
        base = os.path.realpath(staging)
        with opener(file_path) as archive:
            if isinstance(archive, zipfile.ZipFile):
                archive.extractall(staging, members=list(_safe_zip_members(archive, base)))
            else:
                members = list(_safe_tar_members(archive, base))
                # The "data" filter (Python >= 3.11.4) is a second guard behind the member filter.
                kwargs = {"filter": "data"} if hasattr(tarfile, "data_filter") else {}
                archive.extractall(staging, members=members, **kwargs)
        if os.path.isdir(path):
            shutil.rmtree(path)
        elif os.path.exists(path):
            os.remove(path)
        os.replace(staging, path)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    return True


def get_file(
    fname=None,
    origin=None,
    untar=False,
    md5_hash=None,
    file_hash=None,
    cache_subdir="datasets",
    hash_algorithm="auto",
    extract=False,
    archive_format="auto",
    cache_dir=None,
    force_download=False,
):
    """Download a file from a URL unless it is already in the cache, as ``keras.utils.get_file``.

    Parameters
    ----------
    fname : str, optional
        File name in the cache (a name, not a path); the last part of ``origin``'s path if omitted.
        With ``extract``, a name without a dot is the extraction folder (the archive is saved as
        ``<fname>_archive``); a name with a dot is the archive, extracted into ``<stem>_extracted``.
    origin : str
        URL of the file.
    untar : bool, default False
        Deprecated: ``extract=True, archive_format="tar"``.
    md5_hash : str, optional
        Deprecated: ``file_hash`` with ``hash_algorithm="md5"``.
    file_hash : str, optional
        Expected sha256 or md5 hex digest. A cached file that does not match is downloaded again;
        a download that does not match is deleted and raises ValueError.
    cache_subdir : str, default "datasets"
        Folder under ``cache_dir`` (an absolute path is used as is).
    hash_algorithm : {"auto", "sha256", "md5"}
        "auto": sha256 for a 64-character hash, else md5.
    extract : bool, default False
        Extract a tar or zip archive (safely: nothing is written outside the extraction folder).
    archive_format : {"auto", "tar", "zip", None} or list
    cache_dir : str or path, optional
        Default ``$RANVIER_HOME`` or ``~/.ranvier``; a temporary folder if that cannot be written.
    force_download : bool, default False
        Download even if the file is cached.

    Returns
    -------
    str
        Path of the file, or of the extraction folder when extracting.

    Raises
    ------
    OSError
        The download failed (offline, HTTP error): the message says where to save the file by hand.
    ValueError
        The downloaded file's hash is not ``file_hash`` (expected and received hashes named).
    """
    if origin is None:
        raise ValueError("get_file: origin (the URL of the file to download) is required, got None")
    if md5_hash is not None and file_hash is None:
        file_hash, hash_algorithm = md5_hash, "md5"
    _hasher(hash_algorithm)  # validates the name before any download
    datadir = _cache_dir(cache_dir, cache_subdir)
    given_name = fname is not None and fname != ""
    fname = _file_name(fname, origin)
    extraction_dir = None
    if extract or untar:
        if given_name and "." in fname:
            target = os.path.join(datadir, fname)
            extraction_dir = os.path.join(datadir, f"{fname[: fname.find('.')]}_extracted")
        else:
            extraction_dir = os.path.join(datadir, fname)
            target = os.path.join(datadir, f"{fname}_archive")
    else:
        target = os.path.join(datadir, fname)

    download = force_download or not os.path.exists(target)
    if not download and file_hash is not None and not validate_file(target, file_hash, hash_algorithm):
        print(
            f"A local file was found at {target}, but its {_hasher(hash_algorithm, file_hash).name} hash "
            f"is not the expected {file_hash} (incomplete or outdated): downloading it again"
        )
        download = True
    if download:
        _download(origin, target, file_hash, hash_algorithm)
    if extraction_dir is None:
        return target
    # Keras extracts on every call; here only after a download or when the folder is missing.
    if download or not os.path.isdir(extraction_dir):
        if not extract_archive(target, extraction_dir, "tar" if untar else archive_format):
            warnings.warn(f"get_file: could not extract {target}: not a {archive_format} archive", stacklevel=2)
    return extraction_dir
