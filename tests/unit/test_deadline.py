"""The deadline a check polls."""
import threading

import pytest

from mlqa.deadline import Cancelled, Deadline


def test_deadline_basics():
    d = Deadline(60)
    assert 0 < d.remaining() <= 60 and not d.cancelled
    d.check()
    d.cancel("stop")
    assert d.cancelled and d.remaining() == 0.0 and d.limit(5) == 0.0
    with pytest.raises(Cancelled, match="stop"):
        d.sleep(10)
    never = Deadline.never()
    assert never.remaining() == float("inf") and never.limit(3) == 3 and not never.cancelled
    past = Deadline(0.0)
    with pytest.raises(Cancelled):
        past.check()


def test_sleep_wakes_at_once_when_cancelled_from_another_thread():
    d = Deadline(600)
    threading.Timer(0.1, d.cancel, args=("asked to stop",)).start()
    with pytest.raises(Cancelled, match="asked to stop"):
        d.sleep(600)  # (the test would take ten minutes if it did not wake)


def test_the_first_reason_is_kept():
    d = Deadline(None)
    d.cancel("timed out after 3s")
    d.cancel("interrupted")
    assert d.reason == "timed out after 3s"
