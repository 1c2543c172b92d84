"""Soak, short version: every page rerun 6 times in this process; memory settles instead of growing with
each rerun. The full figures (1,000 reruns per page): python -m tests.reliability.soak."""

from tests.reliability.soak import soak


def test_reruns_of_every_page_do_not_grow_memory_without_bound(writable_app_store):
    store = writable_app_store(120, 8)
    figures = soak(store, 6)
    assert figures["errors"] == []
    assert figures["runs"] == figures["pages"] * 6
    # after the first pages have filled the caches, the rest may not keep adding memory per rerun
    later = figures["rss samples MB"][len(figures["rss samples MB"]) // 2:]
    assert max(later) - min(later) < 150, figures["rss samples MB"]
