"""melon: recommenders kept up to date on a live stream of interactions
(MeLON, Kim et al., AAAI 2022, and its baselines), over libmelon.

    import melon
    rec = melon.Recommender(model="bpr", strategy="default", seed=1)
    rec.fit(past_users, past_items)            # pre-train
    ranks = rec.partial_fit(users, items)      # evaluate, then update
    ids, scores = rec.recommend(user, N=10)
"""
from ._lib import MelonError, NotApplicableError, UnknownUserError, library_path
from .recommender import RANK_NONE, RANK_PENDING, Recommender
from .run import results_frame, run

__version__ = "0.1.0"
__all__ = ["Recommender", "run", "results_frame", "MelonError",
           "NotApplicableError", "UnknownUserError", "RANK_PENDING", "RANK_NONE", "library_path"]
