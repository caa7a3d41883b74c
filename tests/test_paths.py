"""Paths and patterns: parsing, formatting, escaping and matching."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

import variables as vs
from variables._paths import Pattern, closest, is_pattern

keys = st.text(alphabet="ab/\\*_0", min_size=1, max_size=6)


def test_parse_path_forms():
    assert vs.parse_path("params/Dense_0/kernel") == ("params", "Dense_0", "kernel")
    assert vs.parse_path(("a", 0)) == ("a", 0)
    assert vs.parse_path(["a", 1]) == ("a", 1)
    assert vs.parse_path(3) == (3,)
    assert vs.parse_path("") == ()
    assert vs.parse_path("/a/b/") == ("a", "b")
    assert vs.parse_path("a.b", sep=".") == ("a", "b")


def test_parse_path_rejects_other_types():
    with pytest.raises(TypeError, match="a path must be a string"):
        vs.parse_path(1.5)


def test_escape_rule_examples():
    assert vs.format_path(("a/b", "c")) == "a\\/b/c"
    assert vs.parse_path("a\\/b/c") == ("a/b", "c")
    assert vs.format_path(("x\\y",)) == "x\\\\y"
    assert vs.format_path(("a.b", "c"), sep=".") == "a\\.b.c"


@given(st.lists(keys, min_size=1, max_size=5))
def test_format_parse_round_trip(path):
    path = tuple(path)
    assert vs.parse_path(vs.format_path(path)) == path
    assert vs.parse_path(vs.format_path(path, sep="."), sep=".") == path


@pytest.mark.parametrize(
    "pattern, path, expected",
    [
        ("params/*/kernel", "params/Dense_0/kernel", True),
        ("params/*/kernel", "params/a/b/kernel", False),
        ("params/**/kernel", "params/kernel", True),
        ("params/**/kernel", "params/a/b/kernel", True),
        ("params/**", "params", True),
        ("**", "anything/at/all", True),
        ("**/bias", "x/bias", True),
        ("**/bias", "x/bias/y", False),
        ("Dense_*", "Dense_12", True),
        ("layer_[0-3]", "layer_4", False),
        ("layer_?", "layer_7", True),
        ("layers/0/w", ("layers", 0, "w"), True),
        ("a/**/b/**/c", "a/x/b/y/z/c", True),
        ("a/**/b/**/c", "a/c", False),
    ],
)
def test_match_table(pattern, path, expected):
    assert vs.match(pattern, path) is expected


def test_is_pattern():
    assert is_pattern("a/*/b") and is_pattern("a/**") and is_pattern("x[0-1]")
    assert not is_pattern("a/b/c") and not is_pattern(("a", 0))


def test_pattern_literal_keys_prunes():
    p = Pattern.compile("params/encoder/**")
    assert p.literal_keys(p.start) == ["params"]
    s = p.step(p.start, "params")
    assert p.literal_keys(s) == ["encoder"]
    assert p.step(s, "decoder") == frozenset()
    assert p.literal_keys(p.step(s, "encoder")) is None


@given(st.lists(st.sampled_from(["a", "b", "c"]), max_size=6))
def test_double_star_matches_everything_below(path):
    assert vs.match("**", tuple(path))
    assert vs.match("a/**", ("a",) + tuple(path))
    assert vs.match(("**", "c"), tuple(path)) == (len(path) > 0 and path[-1] == "c")


def test_closest():
    assert closest("kernal", ["kernel", "bias"]) == ["kernel"]
    assert closest("zzz", ["kernel", "bias"]) == []


def test_pattern_repr_and_compile_cache():
    assert repr(Pattern.compile("a/*")) == "Pattern('a/*')"
    assert Pattern.compile("a/*") is Pattern.compile("a/*")
    assert Pattern.compile(["a", "*"]).matches(("a", "b"))
