"""One thread team per ranvier call: BLAS held at one thread, GEMMs split by OpenMP.

Inside fit / evaluate / large predict, scipy's BLAS (the one the core calls)
runs single-threaded and ``ranvier.core._blas`` splits each large GEMM into
row blocks over an OpenMP ``prange``. Every thread then belongs to one OpenMP
team: OpenBLAS's own workers no longer spin against OpenMP's on a 2-core
machine, and no multi-threaded BLAS call ever runs inside a parallel region.
Outside the scope (small predict, direct ``layer.call``) kernels run serial
(``config.kernel_threads()`` is 1) and BLAS keeps its own threads, so the two
pools never meet.

``train_on_batch`` enters the scope at every step, right after kernels that
have evicted the interpreter's working set from the caches, where every line
of Python runs cold: entering threadpoolctl's ``limit()`` cost ~45 us there
(9 us back to back). The scope makes only the library calls (read each
library's thread count, set 1, set it back) without building ``limit()``'s
``info()`` dictionaries: ~15 us in W3's loop.

Scopes from many Python threads (a service calling ``predict`` from a thread
pool): BLAS's thread count is process-wide, so it is held by a count of open
scopes under a lock: the first scope to open (in any thread) sets BLAS to one
thread, the last to close restores it. OpenBLAS's count is set through the
library itself, not through threadpoolctl's "controlling thread" arbitration,
which ignored the restore whenever the last scope closed on another thread than
the first opened (BLAS then stayed at one thread for good). The kernel thread
count and the core's GEMM split are per Python thread, so concurrent calls
split their work exactly as each would alone.

Fork: libgomp has no fork handling; a child forked by a thread whose OpenMP
team exists waits forever at its first parallel region. Before every
``os.fork`` (``multiprocessing``'s fork start method, joblib's multiprocessing
backend) the forking thread's idle team is stopped (``_openmp.release_threads``),
so the child and the parent each start a new one when they next need it (a few
hundred microseconds once). Where that is impossible the child runs every
kernel serial instead. The child also drops the scopes of threads it did not
inherit (and gives BLAS its thread count back if no scope of its own is open).

Every thread setting (``rv.set_num_threads``, determinism, the scope's kernel
thread count) lives in one ``ThreadSettings`` object, ``settings``, read and
written through ``config``'s functions and this scope only.
"""

import contextlib
import os
import threading
import time

__all__ = ["ThreadSettings", "settings", "compute_scope", "in_compute_scope", "openmp_environment", "wait_policy"]

_WAIT_VARIABLES = ("OMP_WAIT_POLICY", "GOMP_SPINCOUNT")
# What openmp_environment chose: "PASSIVE", or None (the user's variables or OpenMP's default).
wait_policy = None


def _default_threads():
    env = os.environ.get("OMP_NUM_THREADS", "").split(",")[0].strip()
    if env.isdigit() and int(env) > 0:
        return int(env)
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not Linux
        return os.cpu_count() or 1


def _cpus():
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not Linux
        return os.cpu_count() or 1


def _running_here():
    """Threads of this process running now (NumPy's BLAS threads may still be spinning)."""
    count = 0
    for task in os.listdir("/proc/self/task"):
        try:
            with open(f"/proc/self/task/{task}/stat") as fh:
                count += fh.read().rsplit(")", 1)[1].split()[0] == "R"
        except OSError:  # the thread has just ended
            continue
    return max(count, 1)


def _busy_elsewhere():
    """How many tasks of other processes keep CPUs busy right now (0 when not measurable).

    Read from the kernel's count of running tasks, three times 2 ms apart, keeping
    the least: one reading can be a passing spike. (The load average lags by minutes:
    a neighbour started a minute ago barely shows in it, and a ranvier run that just
    ended still does.) On an idle machine the first reading decides, with no wait.
    """
    try:
        least = None
        for reading in range(3):
            if reading:
                time.sleep(0.002)
            with open("/proc/loadavg") as fh:
                running = int(fh.read().split()[3].split("/")[0]) - _running_here()
            least = running if least is None else min(least, running)
            if least < 1:
                break
        return max(0, least)
    except (AttributeError, OSError, ValueError, IndexError):  # not Linux
        return 0


@contextlib.contextmanager
def openmp_environment():
    """Wrap the first import of the core: OpenMP reads its wait policy once, when it loads.

    OpenMP's default keeps idle team threads spinning ~3 ms (libgomp) between parallel
    regions: fastest on an idle machine, ruinous on a busy one (W1 beside one busy
    process on 2 CPUs: 113 ms median steps, against 7 ms waiting passively). Unless
    the user set ``OMP_WAIT_POLICY`` or ``GOMP_SPINCOUNT``, waiting is made passive when
    other processes already keep the CPUs busy. The variable is set only while the
    core loads, so child processes inherit the user's environment, not this choice.
    """
    global wait_policy
    cpus = _default_threads() if "OMP_NUM_THREADS" not in os.environ else None
    others = _busy_elsewhere()
    if cpus is not None and others >= cpus:
        # Every CPU already has a task: each thread of ours would share one, and a team
        # waits for its slowest member (W1 p90 beside 2 busy processes on 2 CPUs: 4.4x idle).
        settings.num_threads = max(1, cpus - others + 1)
    chosen = not any(var in os.environ for var in _WAIT_VARIABLES) and others >= max(1.0, _cpus() / 2)
    if chosen:
        os.environ["OMP_WAIT_POLICY"] = wait_policy = "PASSIVE"
    try:
        yield
    finally:
        if chosen:
            del os.environ["OMP_WAIT_POLICY"]


class _ThisThread(threading.local):
    """A Python thread's own compute-scope state (class attributes are each thread's start)."""

    kernel_threads = 1  # threads its kernels (and GEMM splits) may use now
    depth = 0  # compute scopes it has open


_this_thread = _ThisThread()


def in_compute_scope():
    """Whether the calling thread is inside a ``compute_scope`` (BLAS then runs one thread)."""
    return _this_thread.depth > 0


class ThreadSettings:
    """Every thread setting ranvier has, in one place, each with one writer.

    Attributes
    ----------
    num_threads : int
        Threads a compute scope hands the kernels; written by ``config.set_num_threads``.
        Default ``OMP_NUM_THREADS`` or the CPU count.
    deterministic : bool
        GEMM splits that keep the unsplit product's rounding; written by
        ``config.enable_determinism`` / ``disable_determinism``.
    kernel_threads : int
        Threads the calling Python thread's kernels may use right now: ``num_threads``
        inside its ``compute_scope``, 1 outside it. Per thread: written only by
        ``compute_scope``, which keeps the core's GEMM split of the same thread
        (``ranvier.core._blas.set_gemm_threads``) equal to it.
    """

    __slots__ = ("num_threads", "deterministic")

    def __init__(self, num_threads):
        self.num_threads = num_threads
        self.deterministic = False

    @property
    def kernel_threads(self):
        return _this_thread.kernel_threads

    def __repr__(self):
        return (
            f"ThreadSettings(num_threads={self.num_threads}, deterministic={self.deterministic}, "
            f"kernel_threads={self.kernel_threads})"
        )


settings = ThreadSettings(_default_threads())

_BLAS = None
_CONTROLLER = None
_SETTERS = None
# Process-wide BLAS hold: scopes open in all threads, and the thread counts the
# first of them replaced. Changed under _lock only.
_lock = threading.Lock()
_open = 0
_held = None
# Whether the last fork could stop the forking thread's OpenMP team; if not, the
# child sets _serial: its kernels must never start a team again.
_released = True
_serial = False


def _blas_libraries():
    global _BLAS, _CONTROLLER, _SETTERS
    if _CONTROLLER is None:
        import threadpoolctl  # late: keeps `import ranvier` fast

        from ..core import _blas

        _blas.get_gemm_threads()  # loads scipy's BLAS, so threadpoolctl sees it
        controller = threadpoolctl.ThreadpoolController().select(user_api="blas")
        # threadpoolctl >= 3.6 lets one Python thread at a time set OpenBLAS's count
        # (the others' calls do nothing); the scope's lock already orders them.
        _SETTERS = [getattr(lib, "_real_set_num_threads", lib.set_num_threads) for lib in controller.lib_controllers]
        _BLAS, _CONTROLLER = _blas, controller
    return _CONTROLLER


def _hold_blas():
    global _held
    _held = [lib.get_num_threads() for lib in _blas_libraries().lib_controllers]
    for set_threads in _SETTERS:
        set_threads(1)


def _release_blas():
    global _held
    for lib, set_threads, n in zip(_CONTROLLER.lib_controllers, _SETTERS, _held):
        if lib.get_num_threads() == 1:  # else someone else changed it meanwhile: theirs stands
            set_threads(n)
    _held = None


def _set_split(n, deterministic):
    n = 1 if _serial else n
    _this_thread.kernel_threads = n
    _BLAS.set_gemm_threads(n, deterministic)


class compute_scope:
    """Hold BLAS at one thread and let the core split GEMMs over ``settings.num_threads``.

    A context manager: ``with compute_scope(): ...``. Scopes nest, in one thread or across
    threads; leaving one restores the calling thread's ``settings.kernel_threads`` and GEMM
    split as they were on entry, and the last one open anywhere gives BLAS its thread
    count back.
    """

    __slots__ = ("_previous",)

    def __enter__(self):
        global _open
        with _lock:
            if _open == 0:
                _hold_blas()
            _open += 1
        this = _this_thread
        this.depth += 1
        self._previous = this.kernel_threads, _BLAS.get_gemm_deterministic()
        _set_split(settings.num_threads, settings.deterministic)
        return self

    def __exit__(self, exc_type, exc, tb):
        global _open
        _set_split(*self._previous)
        _this_thread.depth -= 1
        with _lock:
            _open -= 1
            if _open == 0:
                _release_blas()
        return False


def _before_fork():
    global _released
    from ..core import _openmp

    _lock.acquire()  # no scope half-entered on another thread while the process is copied
    _released = _openmp.release_threads()


def _after_fork_in_parent():
    _lock.release()


def _after_fork_in_child():
    global _lock, _open, _serial
    _lock = threading.Lock()  # the parent's is held (by _before_fork) and belongs to it
    # Only the forking thread lives on: the scopes other threads had open are gone.
    if _open > _this_thread.depth:
        _open = _this_thread.depth
        if _open == 0:
            _release_blas()
    if not _released:
        _serial = True
        if _BLAS is not None:
            _set_split(1, _BLAS.get_gemm_deterministic())


os.register_at_fork(before=_before_fork, after_in_parent=_after_fork_in_parent, after_in_child=_after_fork_in_child)
