"""libmelon through cffi in ABI mode: the declarations read from
include/melon/melon.h, and the library's location."""
import os
import re

import cffi

_HERE = os.path.dirname(os.path.abspath(__file__))


def header_path():
    """$MELON_HEADER, else the checkout's include/melon/melon.h, else the
    system's."""
    candidates = [os.environ.get("MELON_HEADER", ""),
                  os.path.join(_HERE, "..", "..", "include", "melon", "melon.h"),
                  "/usr/local/include/melon/melon.h", "/usr/include/melon/melon.h"]
    for path in filter(None, candidates):
        if os.path.exists(path):
            return os.path.normpath(path)
    raise ImportError("melon: include/melon/melon.h not found; set MELON_HEADER")


def declarations(text):
    """The header as cffi reads it: comments, guards and the C++ block
    removed, integer #defines kept."""
    text = re.sub(r"/\*.*?\*/", "", text, flags=re.S)
    out, cplusplus = [], False
    for line in text.splitlines():
        s = line.strip()
        if s.startswith("#"):
            if s.startswith("#ifdef __cplusplus"):
                cplusplus = True
            elif s.startswith("#endif"):
                cplusplus = False
            m = re.match(r"#define\s+(\w+)\s+\(?(-?\d+)\)?$", s)
            if m and not cplusplus:
                out.append(f"#define {m.group(1)} {m.group(2)}")
        elif not cplusplus:
            out.append(line)
    return "\n".join(out)


ffi = cffi.FFI()
with open(header_path(), encoding="utf-8") as _f:
    ffi.cdef(declarations(_f.read()))


def library_path():
    """$MELON_LIBRARY, else the checkout's build/libmelon.so, else the
    system's libmelon.so."""
    env = os.environ.get("MELON_LIBRARY")
    if env:
        return env
    built = os.path.join(_HERE, "..", "..", "build", "libmelon.so")
    if os.path.exists(built):
        return os.path.normpath(built)
    return "libmelon.so"


def _open():
    path = library_path()
    try:
        return ffi.dlopen(path)
    except OSError as e:
        raise ImportError(
            f"melon: cannot load the library {path} ({e}); build it with "
            "`make` in the melon checkout or set MELON_LIBRARY") from None


lib = _open()

RANK_PENDING = lib.MELON_RANK_PENDING
RANK_NONE = lib.MELON_RANK_NONE
INCLUDE_SEEN = lib.MELON_INCLUDE_SEEN
POPULAR = lib.MELON_POPULAR
NOT_APPLICABLE = lib.MELON_NOT_APPLICABLE


class MelonError(Exception):
    """A call of libmelon failed; the message is the library's."""


class NotApplicableError(MelonError):
    """The strategy does not apply to the model (e.g. sml with ncf)."""


class UnknownUserError(MelonError, KeyError):
    """recommend(..., strict=True) for a user the session has not seen."""

    def __str__(self):
        return self.args[0] if self.args else ""


def new_err():
    return ffi.new("melon_err *")


def check(status, err):
    if status == 0:
        return
    msg = ffi.string(err.msg).decode("utf-8", "replace")
    if status == NOT_APPLICABLE:
        raise NotApplicableError(msg)
    raise MelonError(msg)
