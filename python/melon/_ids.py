"""Arrays of user or item ids (integers or strings) and times, checked and
laid out as libmelon's calls take them."""
import numpy as np

from ._lib import ffi


class IdArray:
    """Ids as int64 (kind "int") or as UTF-8 bytes with pointers and
    lengths into them (kind "name"). Holds what the pointers point into."""

    def __init__(self, values, what):
        arr = values if isinstance(values, np.ndarray) else np.asarray(values)
        if arr.ndim == 0:
            arr = arr.reshape(1)
        if arr.ndim != 1:
            raise ValueError(f"{what}: expected a 1-d array of ids, got shape "
                             f"{arr.shape}")
        if arr.dtype.kind == "O":
            arr = _from_objects(arr, what)
        self.n = len(arr)
        if arr.dtype.kind in "iu":
            if arr.dtype.kind == "u" and arr.size and arr.max() > np.iinfo(np.int64).max:
                raise ValueError(f"{what}: id {arr.max()} does not fit in 64 bits")
            self.kind = "int"
            self.ints = np.ascontiguousarray(arr, dtype=np.int64)
        elif arr.dtype.kind in "US" or self.n == 0:
            self.kind = "name"
            self._names(arr)
        else:
            raise TypeError(f"{what}: ids must be integers or strings, not "
                            f"{arr.dtype}")

    def _names(self, arr):
        if arr.dtype.kind == "U":
            arr = np.char.encode(arr, "utf-8")
        elif arr.dtype.kind != "S":
            arr = arr.astype("S1")
        self.bytes = np.ascontiguousarray(arr)
        self.lens = np.ascontiguousarray(np.char.str_len(self.bytes), dtype=np.uint64)
        base = int(ffi.cast("uintptr_t", ffi.from_buffer(self.bytes))) if self.n else 0
        self.ptrs = base + np.arange(self.n, dtype=np.uint64) * np.uint64(self.bytes.itemsize)

    def as_names(self):
        """The same ids as text (an integer id is its decimal text)."""
        if self.kind == "name":
            return self
        return IdArray(self.ints.astype(str), "ids")

    def c_ints(self):
        return ffi.cast("const int64_t *", ffi.from_buffer(self.ints))

    def c_names(self):
        return (ffi.cast("const char *const *", ffi.from_buffer(self.ptrs)),
                ffi.cast("const size_t *", ffi.from_buffer(self.lens)))


def _from_objects(arr, what):
    if all(isinstance(v, (int, np.integer)) and not isinstance(v, bool) for v in arr):
        return arr.astype(np.int64)
    if all(isinstance(v, (str, bytes, int, np.integer)) and not isinstance(v, bool)
           for v in arr):
        return np.array([v.decode("utf-8") if isinstance(v, bytes) else str(v)
                         for v in arr], dtype=str)
    bad = next(v for v in arr if not isinstance(v, (str, bytes, int, np.integer))
               or isinstance(v, bool))
    raise TypeError(f"{what}: ids must be integers or strings, not "
                    f"{type(bad).__name__} ({bad!r})")


def events(users, items, times):
    """Checked users, items and times of n events: (users, items, times or
    None, n); users and items of the same kind."""
    u = IdArray(users, "users")
    i = IdArray(items, "items")
    if u.n != i.n:
        raise ValueError(f"users has {u.n} entries but items has {i.n}")
    t = None
    if times is not None:
        t = np.asarray(times)
        if t.dtype.kind == "M":
            t = t.astype("datetime64[ns]").astype(np.int64) / 1e9
        elif t.dtype.kind not in "iuf":
            raise TypeError(f"times: expected numbers (seconds) or datetime64, "
                            f"not {t.dtype}")
        t = np.ascontiguousarray(t, dtype=np.float64).reshape(-1)
        if len(t) != u.n:
            raise ValueError(f"times has {len(t)} entries but users and items "
                             f"have {u.n}")
    if u.kind != i.kind:
        u, i = u.as_names(), i.as_names()
    return u, i, t, u.n


def c_times(t):
    return ffi.NULL if t is None else ffi.cast("const double *", ffi.from_buffer(t))
