"""The status/ cache is bounded in bytes and drops expired answers (issue 10, review)."""

from __future__ import annotations

import time

from django_tasks_temporal.api.status_cache import StatusCache


def answer(size: int) -> dict[str, str]:
    return {"return_value": "x" * size}


def test_the_cache_stays_within_its_byte_bound():
    cache = StatusCache(max_bytes=1_000_000)
    for i in range(50):
        cache.put("default", f"task-{i}", answer(256 * 1024), seconds=60)
        assert cache.size <= 1_000_000
    assert len(cache) == 3  # 3 answers of 256 KiB fit in 1 MB
    assert cache.get("default", "task-49") is not None  # the newest are kept
    assert cache.get("default", "task-0") is None


def test_expired_answers_are_dropped_as_new_ones_arrive():
    cache = StatusCache()
    for i in range(100):
        cache.put("default", f"old-{i}", answer(1000), seconds=0.05)
    time.sleep(0.1)
    cache.put("default", "new", answer(10), seconds=60)
    assert len(cache) == 1
    assert cache.size < 100


def test_an_answer_larger_than_the_bound_is_not_kept():
    cache = StatusCache(max_bytes=1000)
    cache.put("default", "huge", answer(5000), seconds=60)
    assert len(cache) == 0 and cache.size == 0


def test_forget_keeps_the_byte_count_right():
    cache = StatusCache()
    cache.put("default", "a", answer(100), seconds=60)
    cache.put("other", "b", answer(100), seconds=60)
    cache.put("default", "a", answer(300), seconds=60)  # replaced, not added
    cache.forget("default")
    assert len(cache) == 1 and cache.get("other", "b") is not None
    cache.forget("other", "b")
    assert cache.size == 0
