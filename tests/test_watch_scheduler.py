"""The schedule of a source: interval, exponential backoff with jitter, Retry-After, pausing."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest

from tidings.errors import ConfigError
from tidings.watch.scheduler import Outcome, Policy, backoff_seconds, format_every, next_poll, parse_every

NOW = datetime(2026, 3, 2, 8, 0, tzinfo=timezone.utc)
POLICY = Policy(backoff_base=60.0, backoff_max=3600.0, backoff_jitter=0.25, max_errors_in_row=5,
                max_retry_after=7200.0)


@pytest.mark.parametrize("text,seconds", [("15m", 900), ("90s", 90), ("1h", 3600), ("2d", 172800), ("45", 45),
                                          ("1.5h", 5400), (300, 300)])
def test_parse_every(text, seconds):
    assert parse_every(text) == seconds


@pytest.mark.parametrize("text", ["soon", "-5m", "0", "15 minutes"])
def test_parse_every_rejects_bad_values(text):
    with pytest.raises(ConfigError) as caught:
        parse_every(text)
    assert "--every" in str(caught.value)


def test_format_every_round_trips():
    assert [format_every(parse_every(t)) for t in ("15m", "1h", "90s", "1d")] == ["15m", "1h", "90s", "1d"]


def test_success_keeps_the_interval_and_resets_errors():
    after = next_poll(every=900, errors_in_row=3, outcome=Outcome(ok=True), now=NOW, policy=POLICY)
    assert after.due == NOW + timedelta(seconds=900) and after.errors_in_row == 0 and not after.paused


def test_backoff_doubles_up_to_the_cap_and_never_below_the_interval():
    middle = lambda: 0.5  # noqa: E731 - no jitter at the middle of the range
    waits = [backoff_seconds(n, 30, POLICY, middle) for n in range(1, 9)]
    assert waits == [60, 120, 240, 480, 960, 1920, 3600, 3600]
    assert backoff_seconds(1, 900, POLICY, middle) == 900  # a 15-minute source never polls faster on error


def test_jitter_stays_within_its_band_and_varies():
    import random

    rng = random.Random(7)
    waits = [backoff_seconds(3, 30, POLICY, rng.random) for _ in range(200)]
    assert min(waits) >= 240 * 0.75 and max(waits) <= 240 * 1.25
    assert len({round(w) for w in waits}) > 50


def test_retry_after_is_honoured_and_capped():
    busy = next_poll(every=900, errors_in_row=0, outcome=Outcome(ok=False, retry_after=5000), now=NOW,
                     policy=POLICY, rand=lambda: 0.5)
    assert busy.due == NOW + timedelta(seconds=5000) and busy.errors_in_row == 1
    capped = next_poll(every=900, errors_in_row=0, outcome=Outcome(ok=False, retry_after=10 ** 7), now=NOW,
                       policy=POLICY, rand=lambda: 0.5)
    assert capped.due == NOW + timedelta(seconds=7200)


def test_pause_after_max_errors_in_row():
    errors, paused = 0, False
    for _ in range(5):
        after = next_poll(every=60, errors_in_row=errors, outcome=Outcome(ok=False), now=NOW, policy=POLICY,
                          rand=lambda: 0.5)
        errors, paused = after.errors_in_row, after.paused
    assert errors == 5 and paused
    never = Policy(max_errors_in_row=0)
    assert not next_poll(every=60, errors_in_row=100, outcome=Outcome(ok=False), now=NOW, policy=never).paused
