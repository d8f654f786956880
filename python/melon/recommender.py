"""melon.Recommender: a live session of libmelon (include/melon/melon.h)
with numpy arrays in and out."""
import math
import os

import numpy as np

from . import _lib
from ._ids import IdArray, c_times, events
from ._lib import ffi, lib, new_err, check

RANK_PENDING = _lib.RANK_PENDING
RANK_NONE = _lib.RANK_NONE


def _setting_text(name, value):
    if not isinstance(name, str) or not name:
        raise TypeError(f"setting name {name!r}: expected a keyword")
    if isinstance(value, bool):
        text = "1" if value else "0"
    elif isinstance(value, (list, tuple)):
        text = ",".join(str(v) for v in value)
    elif isinstance(value, float):
        text = repr(value)
    else:
        text = str(value)
    return f"{name.replace('_', '-')}={text}"


def _create(settings):
    texts = [s.encode("utf-8") for s in settings]
    keep = [ffi.new("char[]", t) for t in texts]
    arr = ffi.new("const char *[]", keep) if keep else ffi.NULL
    out = ffi.new("melon_session **")
    err = new_err()
    check(lib.melon_create(out, arr, len(keep), err), err)
    return out[0]


class Recommender:
    """A recommender kept up to date on a stream of interactions.

    Recommender(model="bpr", strategy="melon", **settings): every option of
    `melon run` that shapes the model, the strategy or the batches is a
    keyword, with underscores for dashes (batch_size=256, lr=0.01,
    dense_adam=True, layers=[64, 64]); an unknown keyword or a bad value
    raises MelonError with the library's message.

    Events reach the model in batches of batch_size. partial_fit returns
    one rank per event; events of a batch that is not full yet have rank
    RANK_PENDING (0) until a later partial_fit or flush() runs their batch,
    which then writes their ranks into the arrays returned before.

    One thread at a time may call a Recommender's methods.
    """

    def __init__(self, model="bpr", strategy="melon", **settings):
        self._settings = [_setting_text("model", model),
                          _setting_text("strategy", strategy)]
        self._settings += [_setting_text(k, v) for k, v in settings.items()]
        self._s = ffi.NULL
        self._s = _create(self._settings)
        self._declared = []          # item arrays declared so far
        self._item_ints = None       # items named by integers (None: unknown)
        self._pending = []           # (array, index) of events not ranked yet

    # ---- life -----------------------------------------------------------
    def close(self):
        """Frees the session (also done when the object is collected)."""
        if self._s != ffi.NULL:
            lib.melon_free(self._s)
            self._s = ffi.NULL

    def __del__(self):
        try:
            self.close()
        except Exception:
            pass

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def _session(self):
        if self._s == ffi.NULL:
            raise _lib.MelonError("the recommender is closed")
        return self._s

    # ---- settings and state ---------------------------------------------
    def get_setting(self, name):
        """A setting's value as text (name with dashes or underscores)."""
        buf = ffi.new("char[]", 4096)
        err = new_err()
        check(lib.melon_get_setting(self._session(),
                                    name.replace("_", "-").encode(), buf, 4096,
                                    err), err)
        return ffi.string(buf).decode()

    @property
    def stats(self):
        """Counts and running metrics of the session, as a dict."""
        st = ffi.new("melon_stats *")
        err = new_err()
        check(lib.melon_get_stats(self._session(), st, err), err)
        return {f: getattr(st, f) for f in (
            "users", "items", "pretrain_events", "observed", "pending",
            "batches", "evaluated", "hr10", "ndcg10", "last_loss")} | {
            "pretrained": bool(st.pretrained),
            "model_is_popularity": bool(st.model_is_popularity)}

    def _note_items(self, ids):
        if self._item_ints is None and ids.n:
            self._item_ints = ids.kind == "int"

    # ---- items, pre-training, the stream --------------------------------
    def declare_items(self, items):
        """Gives the items rows now, in this order (the catalogue), so
        negatives are drawn from all of them from the start."""
        ids = IdArray(items, "items")
        err = new_err()
        if ids.kind == "int":
            check(lib.melon_declare_item_ids(self._session(), ids.c_ints(),
                                             ids.n, err), err)
        else:
            names, lens = ids.c_names()
            check(lib.melon_declare_items(self._session(), names, lens, ids.n,
                                          err), err)
        self._declared.append(items)
        self._note_items(ids)

    def fit(self, users, items, times=None, epochs=None):
        """Pre-trains on past events (in time order): batches of batch_size,
        `epochs` passes (default: the epochs setting). Once, before the
        stream."""
        u, i, t, n = events(users, items, times)
        target = self
        if epochs is not None and str(int(epochs)) != self.get_setting("epochs"):
            target = self._fresh_with(_setting_text("epochs", int(epochs)))
        err = new_err()
        s = target._session()
        if u.kind == "int":
            rc = lib.melon_pretrain_ids(s, u.c_ints(), i.c_ints(), c_times(t), n, err)
        else:
            un, ul = u.c_names()
            iname, il = i.c_names()
            rc = lib.melon_pretrain_names(s, un, ul, iname, il, c_times(t), n, err)
        check(rc, err)      # on failure a fresh session is dropped unused
        if target is not self:
            self.close()
            self._s, target._s = target._s, ffi.NULL
            self._settings = target._settings
        self._note_items(i)
        return self

    def _fresh_with(self, setting):
        """A session like this one (settings, declared items) with one
        setting more; only before pre-training and the stream."""
        st = self.stats
        if st["pretrained"] or st["observed"]:
            raise _lib.MelonError("fit: the session is already trained or "
                                  "streaming; epochs can change only before")
        fresh = Recommender.__new__(Recommender)
        fresh._s = ffi.NULL
        fresh._s = _create(self._settings + [setting])
        fresh._settings = self._settings + [setting]
        fresh._declared, fresh._item_ints, fresh._pending = [], None, []
        for items in self._declared:
            fresh.declare_items(items)
        return fresh

    def partial_fit(self, users, items, times=None):
        """Streams events: each full batch is ranked (evaluate, then
        update). Returns an int32 array of one rank per event: 1 .. the
        number of negatives + 1, RANK_NONE (-1) when not evaluated, or
        RANK_PENDING (0) while its batch is not full (filled in later)."""
        u, i, t, n = events(users, items, times)
        s = self._session()
        ranks = np.zeros(n, dtype=np.int32)
        earlier = self._pending
        late = np.zeros(len(earlier), dtype=np.int32)
        callback = None
        if earlier and n:
            st = self.stats
            first = st["observed"] - st["pending"]

            def on_rank(ctx, seq, rank):
                k = seq - first
                if 0 <= k < len(late):
                    late[k] = rank
            callback = ffi.callback("melon_rank_fn", on_rank)
            lib.melon_on_rank(s, callback, ffi.NULL)
        err = new_err()
        out = ffi.cast("int32_t *", ffi.from_buffer(ranks))
        try:
            if u.kind == "int":
                rc = lib.melon_observe_ids(s, u.c_ints(), i.c_ints(), c_times(t),
                                           n, out, err)
            else:
                un, ul = u.c_names()
                iname, il = i.c_names()
                rc = lib.melon_observe_names(s, un, ul, iname, il, c_times(t),
                                             n, out, err)
        finally:
            if callback is not None:
                lib.melon_on_rank(s, ffi.NULL, ffi.NULL)
        check(rc, err)
        self._note_items(i)
        queue = earlier + [(ranks, k) for k in range(n)]
        pending = self.stats["pending"]
        for k, (arr, at) in enumerate(earlier):
            if late[k] != RANK_PENDING:
                arr[at] = late[k]
        self._pending = queue[len(queue) - pending:] if pending else []
        return ranks

    def flush(self):
        """Runs the pending events as one short batch; returns their ranks
        (and writes them into the arrays partial_fit returned)."""
        n = len(self._pending)
        ranks = np.zeros(max(n, self.stats["pending"]), dtype=np.int32)
        err = new_err()
        check(lib.melon_flush(self._session(),
                              ffi.cast("int32_t *", ffi.from_buffer(ranks)), err),
              err)
        for (arr, at), r in zip(self._pending, ranks):
            arr[at] = r
        self._pending = []
        return ranks

    # ---- recommendations ------------------------------------------------
    def recommend(self, user, N=10, filter_already_liked_items=True,
                  popular=False, strict=False):
        """(ids, scores) of the N best items for a user, best first; for an
        array of users, (ids, scores) of shape (len(users), N), rows
        padded with -1 or "" and NaN when fewer items exist. Items the user
        interacted with are left out unless filter_already_liked_items is
        False. A user without a row (or popular=True) gets the most popular
        items, scored by their counts; with strict=True such a user raises
        UnknownUserError instead."""
        if not isinstance(N, (int, np.integer)) or N < 1:
            raise ValueError(f"N {N!r}: expected a positive integer")
        flags = (0 if filter_already_liked_items else _lib.INCLUDE_SEEN) | \
                (_lib.POPULAR if popular else 0)
        if isinstance(user, (str, bytes, int, np.integer)) and not isinstance(user, bool):
            if isinstance(user, bytes):
                user = user.decode("utf-8")
            ids, scores = self._recommend_checked(IdArray([user], "user"),
                                                  int(N), flags, strict)
            keep = ~np.isnan(scores[0])
            return ids[0][keep], scores[0][keep]
        return self._recommend_checked(IdArray(user, "users"), int(N), flags,
                                       strict)

    def _recommend_checked(self, users, k, flags, strict):
        ids, scores, popular = self._recommend_batch(users, k, flags)
        if strict:
            names = users.as_names().bytes
            if self.stats["model_is_popularity"]:
                unknown = [r for r in range(users.n)
                           if self._history_size(names[r]) == 0]
            else:
                unknown = np.flatnonzero(popular).tolist()
            if unknown:
                raise _lib.UnknownUserError(
                    f"user '{names[unknown[0]].decode()}' has not been seen "
                    f"({len(unknown)} of the {users.n} users asked for)")
        return ids, scores

    def _history_size(self, name):
        total = ffi.new("size_t *")
        err = new_err()
        check(lib.melon_user_items(self._session(), name, ffi.NULL, 0, total,
                                   err), err)
        return total[0]

    def _recommend_batch(self, users, k, flags):
        s = self._session()
        n = users.n
        scores = np.full((n, k), np.nan, dtype=np.float32)
        counts = np.zeros(n, dtype=np.int32)
        popular = np.zeros(n, dtype=np.uint8)
        c_scores = ffi.cast("float *", ffi.from_buffer(scores))
        c_counts = ffi.cast("int32_t *", ffi.from_buffer(counts))
        c_popular = ffi.cast("uint8_t *", ffi.from_buffer(popular))
        err = new_err()
        if users.kind == "int" and self._item_ints is not False:
            items = np.full((n, k), -1, dtype=np.int64)
            rc = lib.melon_recommend_batch_ids(
                s, users.c_ints(), n, k, flags,
                ffi.cast("int64_t *", ffi.from_buffer(items)), c_scores,
                c_counts, c_popular, err)
            if rc == 0:
                self._item_ints = True
                scores[np.arange(k)[None, :] >= counts[:, None]] = np.nan
                return items, scores, popular
            if self._item_ints:
                check(rc, err)
            users = users.as_names()   # items named by text: the text form
        names = ffi.new("const char *[]", n * k)
        un, ul = users.c_names()
        check(lib.melon_recommend_batch(s, un, ul, n, k, flags, names, c_scores,
                                        c_counts, c_popular, err), err)
        text = [[ffi.string(names[r * k + j]).decode("utf-8")
                 for j in range(counts[r])] + [""] * (k - counts[r])
                for r in range(n)]
        out = np.array(text, dtype=str).reshape(n, k)
        if self._item_ints:
            out = np.where(out == "", "-1", out).astype(np.int64)
        scores[np.arange(k)[None, :] >= counts[:, None]] = np.nan
        return out, scores, popular

    def user_items(self, user, cap=None):
        """The user's items, oldest first (at most the cap most recent)."""
        s = self._session()
        name = IdArray([user], "user").as_names().bytes[0]
        if cap is None:
            cap = self._history_size(name)
        total = ffi.new("size_t *")
        err = new_err()
        buf = ffi.new("const char *[]", max(cap, 1))
        check(lib.melon_user_items(s, name, buf, cap, total, err), err)
        got = min(cap, total[0])
        text = [ffi.string(buf[j]).decode("utf-8") for j in range(got)]
        if self._item_ints:
            return np.array(text, dtype=np.int64) if text else np.zeros(0, np.int64)
        return np.array(text, dtype=str)

    # ---- checkpoints ----------------------------------------------------
    def save(self, path):
        """Writes a checkpoint of the whole session (atomically)."""
        err = new_err()
        check(lib.melon_save(self._session(), os.fsencode(path), err), err)

    @classmethod
    def load(cls, path):
        """A recommender from a checkpoint; it continues exactly as the
        saved one would have."""
        out = ffi.new("melon_session **")
        err = new_err()
        check(lib.melon_open(out, os.fsencode(path), err), err)
        self = cls.__new__(cls)
        self._s = out[0]
        self._settings = [f"{name}={self.get_setting(name)}"
                          for name in ("model", "strategy")]
        self._declared, self._item_ints, self._pending = [], None, []
        if self.stats["pending"]:
            self._pending = [(np.zeros(self.stats["pending"], np.int32), k)
                             for k in range(self.stats["pending"])]
        return self

    def __repr__(self):
        if self._s == ffi.NULL:
            return "<melon.Recommender closed>"
        st = self.stats
        hr = "n/a" if math.isnan(st["hr10"]) else f"{st['hr10']:.4f}"
        return (f"<melon.Recommender {self.get_setting('model')}/"
                f"{self.get_setting('strategy')}: {st['users']} users, "
                f"{st['items']} items, {st['observed']} events streamed, "
                f"HR@10 {hr}>")
