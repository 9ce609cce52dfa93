"""What a page does with hundreds of histograms: ``percentiles`` gives, for each q, what
``percentile`` gives (the nearest-rank bucket, also with empty, missing and negative counts), and
``add`` sums counts in place."""

import itertools
import random

from crucible.histogram import LogScaleHistogram

HISTOGRAM = LogScaleHistogram(floor_ms=1.0, doublings=22, sql_prefix="test")


def test_percentiles_agree_with_percentile_on_every_kind_of_counts():
    rng = random.Random(16)
    qs = (0.0, 0.01, 0.5, 0.95, 0.99, 1.0)
    cases = [[], None, [0] * HISTOGRAM.buckets, [None] * 3]
    for n in range(2000):
        counts = [rng.choice((0, 0, 0, 1, 7, rng.randint(0, 10**6))) for _ in range(HISTOGRAM.buckets)]
        if n % 5 == 0:
            counts[rng.randrange(len(counts))] = -rng.randint(1, 50)  # a deletion taken away too much
        if n % 7 == 0:
            counts = [None if rng.random() < 0.3 else c for c in counts]
        cases.append(tuple(counts) if n % 3 == 0 else counts)
    for counts in cases:
        found = HISTOGRAM.percentiles(counts, qs=qs)
        assert found == {f"p{round(q * 100)}": HISTOGRAM.percentile(counts, q) for q in qs}, counts


def test_add_sums_counts_in_place_from_any_sequence():
    into = [1] * HISTOGRAM.buckets
    same = HISTOGRAM.add(into, list(range(HISTOGRAM.buckets)))
    assert same is into and into == [1 + i for i in range(HISTOGRAM.buckets)]
    HISTOGRAM.add(into, iter([str(1)] * HISTOGRAM.buckets))  # any other sequence converted
    assert into == [2 + i for i in range(HISTOGRAM.buckets)] and all(type(v) is int for v in into)
    HISTOGRAM.add(into, (1,) * HISTOGRAM.buckets)  # a tuple of ints as it is (sums kept across requests)
    assert into == [3 + i for i in range(HISTOGRAM.buckets)]
    assert HISTOGRAM.copy((1,) * 3) == [1, 1, 1] and HISTOGRAM.copy(iter(["2"])) == [2]


def test_a_percentile_apart_is_the_percentile_of_the_whole_less_the_part():
    # The fleet without one agent (observability's slow_agent rule), for random fleets, empty and
    # one-agent fleets and an agent with every run of the fleet.
    rng = random.Random(16)
    for _ in range(300):
        agents = [
            [rng.choice((0, 0, 0, rng.randint(1, 40))) for _ in range(HISTOGRAM.buckets)]
            for _ in range(rng.randint(1, 6))
        ]
        whole = HISTOGRAM.empty()
        for hist in agents:
            HISTOGRAM.add(whole, hist)
        running = list(itertools.accumulate(whole))
        for hist in agents:
            rest = [w - h for w, h in zip(whole, hist, strict=True)]
            for q in (0.5, 0.95, 0.99):
                assert HISTOGRAM.percentile_apart(running, hist, q) == HISTOGRAM.percentile(rest, q)
