"""Regressions found by running the codemod over real Flax code.

Each snippet below is written for this file; it reproduces the shape of code that
was migrated wrongly (or refused needlessly) by an earlier version:

1. a copy put in a list built with ``+``/``*`` and edited afterwards (MUT);
2. a FrozenDict that is printed or formatted (REPR): reported, or kept when the
   text is compared;
3. a FrozenDict attribute a dict lacks or implements differently (METHOD);
4. the decode-cache idiom (P17) through a re-unpacked intermediate name.
"""

from __future__ import annotations

import textwrap

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from migration import transform_source
from migration._facts import FROZEN_DIFFERENT_ATTRIBUTES, FROZEN_ONLY_ATTRIBUTES


def migrate(source: str, **options):
    result = transform_source(textwrap.dedent(source).lstrip(), **options)
    assert result.error is None
    again = transform_source(result.code, **options)
    assert again.code == result.code, "the output is not a fixed point"
    return result


def reported(result) -> list[str]:
    return [f"{r.pattern}@{r.line}" for r in result.refusals]


def run(code: str, name: str):
    namespace: dict = {}
    exec(compile(code, "<migrated>", "exec"), namespace)
    return namespace[name]


# --- 1. a copy inside a list made with + or * ---

SEQUENCE_FORMS = [
    ("out = rest + [unfreeze(state['params'])]", "out[-1]"),
    ("out = [unfreeze(state['params'])] + rest", "out[0]"),
    ("out = (unfreeze(state['params']),) + tuple(rest)", "out[0]"),
    ("out = rest + [unfreeze(state)['params']]", "out[-1]"),
    ("out = [unfreeze(state['params'])] * 2", "out[1]"),
    ("out = 2 * [unfreeze(state['params'])]", "out[0]"),
    ("out = (rest + [unfreeze(state['params'])])[-1:]", "out[0]"),
    ("out = [unfreeze(state['params']), 0][:1]", "out[0]"),
    ("extra = [unfreeze(state['params'])]\n        out = rest + extra", "out[-1]"),
    ("out = list(rest) + [unfreeze(state['params'])] + []", "out[-1]"),
]


@pytest.mark.parametrize("build, element", SEQUENCE_FORMS)
def test_copy_in_a_concatenated_list_is_kept_when_edited(build, element):
    source = f"""
    from flax.core import unfreeze

    def with_extra(state, rest):
        {build}
        {element}["bias"] = 0.0
        return out
    """
    result = migrate(source)
    assert "unfreeze(" in result.code
    assert [r.pattern for r in result.refusals] == ["P02/MUT"]
    # The migrated function, run on plain dicts, leaves the caller's tree alone.
    state = {"params": {"bias": 1.0, "kernel": 2.0}}
    run(result.code, "with_extra")(state, [])
    assert state == {"params": {"bias": 1.0, "kernel": 2.0}}


def test_issue_example_exactly():
    source = """
    from flax.core import unfreeze
    def with_extra(state, rest):
        out = rest + [unfreeze(state["params"])]
        out[-1]["bias"] = 0.0
        return out
    """
    result = migrate(source)
    assert result.code == textwrap.dedent(source).lstrip()
    assert reported(result) == ["P02/MUT@3"]
    assert 'out[-1]["bias"] = ...' in result.refusals[0].reason


def test_sequence_ops_that_only_read_still_drop_the_copy():
    result = migrate(
        """
        from flax.core import unfreeze

        def count(state, rest):
            return len(rest + [unfreeze(state["params"])])

        def scaled(params):
            tbl = unfreeze(params)
            return tbl["w"] * 2 + tbl["b"]
        """
    )
    assert (
        result.code
        == textwrap.dedent(
            """
        def count(state, rest):
            return len(rest + [state["params"]])

        def scaled(params):
            tbl = params
            return tbl["w"] * 2 + tbl["b"]
        """
        ).lstrip()
    )
    assert result.rewrites == {"P01": 1, "P02": 2}
    assert result.refusals == ()


def test_source_written_through_a_concatenated_list_keeps_the_copy():
    # The other direction: the copy's *source* is put in a list and edited later.
    result = migrate(
        """
        from flax.core import unfreeze

        def snapshot(state, history):
            before = unfreeze(state["params"])
            history = history + [state["params"]]
            history[-1]["bias"] = 0.0
            return before
        """
    )
    assert "unfreeze(" in result.code
    assert [r.pattern for r in result.refusals] == ["P02/MUT"]


# --- 2. printed FrozenDicts (REPR) ---

PRINTED = [
    ('logging.info("config: %s", freeze(cfg))', "logging.info", "P04"),
    ("print(FrozenDict(cfg))", "print", "P05"),
    ("text = repr(FrozenDict(cfg))", "repr", "P05"),
    ("text = str(freeze(cfg))", "str", "P04"),
    ('text = f"cfg={freeze(cfg)}"', "an f-string", "P04"),
    ('text = f"cfg={freeze(cfg)!r}"', "an f-string", "P04"),
    ('text = "cfg=%s" % freeze(cfg)', "`%`", "P04"),
    ('text = "cfg=%s %s" % (1, freeze(cfg))', "`%`", "P04"),
    ('text = "cfg={}".format(freeze(cfg))', '`"cfg={}".format`', "P04"),
    ('log.warning("cfg %s", freeze(cfg))', "log.warning", "P04"),
    ("pprint.pprint(freeze(cfg))", "pprint.pprint", "P04"),
    ("frozen = freeze(cfg)\n        print(frozen)", "print", "P04"),
    ("text = freeze(cfg).__repr__()", "__repr__", "P04"),
]


@pytest.mark.parametrize("line, shown_by, pattern", PRINTED)
def test_printed_frozen_dict_is_rewritten_and_reported(line, shown_by, pattern):
    source = f"""
    import logging
    import pprint

    from flax.core import FrozenDict, freeze

    def show(cfg, log):
        {line}
    """
    result = migrate(source)
    assert "freeze(" not in result.code and "FrozenDict(" not in result.code
    assert result.rewrites.get(pattern) == 1
    (refusal,) = result.refusals
    assert refusal.pattern == f"{pattern}/REPR"
    assert refusal.line == 7
    assert refusal.reason.startswith("rewrote it, but ")
    assert shown_by.strip("`") in refusal.reason
    assert "update golden logs and doctests" in refusal.reason


def test_printing_inside_a_local_helper_is_reported():
    result = migrate(
        """
        from flax.core import freeze

        def show(tree):
            print("tree:", tree)

        def run(cfg):
            show(freeze(cfg))
        """
    )
    assert "show(cfg)" in result.code
    assert reported(result) == ["P04/REPR@7"]
    assert "it is passed to `show`, where it is printed by `print`" in (
        result.refusals[0].reason
    )


def test_pretty_repr_and_printed_freeze_are_reported_alike():
    # Both kinds of changed text are reports under the same trap: the rewrite is
    # made (a dict is what is printed from now on), the output text changes.
    result = migrate(
        """
        import flax

        def log_all(log, tree):
            log.info("%s", tree.pretty_repr())
            log.info("%s", flax.core.freeze(tree))
        """
    )
    assert (
        result.code
        == textwrap.dedent(
            """
        import flax

        def log_all(log, tree):
            log.info("%s", flax.core.pretty_repr(tree))
            log.info("%s", tree)
        """
        ).lstrip()
    )
    assert reported(result) == ["P13/REPR@4", "P04/REPR@5"]


COMPARED = [
    'assert repr(FrozenDict(cfg)) == "FrozenDict({})"',
    "assert str(freeze(cfg)) == expected",
    'assert "FrozenDict" in repr(freeze(cfg))',
    "self.assertEqual(repr(freeze(cfg)), expected)",
    "text = repr(freeze(cfg))\n            assert text.strip() == expected",
    'assert f"{freeze(cfg)}".splitlines()[0] == expected',
    'self.assertMultiLineEqual("%s" % freeze(cfg), expected)',
]


@pytest.mark.parametrize("line", COMPARED)
def test_compared_text_keeps_the_frozen_dict(line):
    source = f"""
    from flax.core import FrozenDict, freeze

    class ReprTest:
        def test_repr(self, cfg, expected):
            {line}
    """
    result = migrate(source)
    assert result.code == textwrap.dedent(source).lstrip()
    assert result.rewrites == {}
    (refusal,) = result.refusals
    assert refusal.pattern.endswith("/REPR") and refusal.line == 5
    assert "keep the FrozenDict" in refusal.reason


def test_golden_text_in_the_same_code_keeps_printed_frozen_dicts():
    # A doctest, or output captured and compared with a literal.
    source = '''
    from flax.core import freeze

    def describe(cfg):
        """Prints the config.

        >>> describe({"lr": 0.1})
        FrozenDict({
            lr: 0.1,
        })
        """
        print(freeze(cfg))

    def test_output(capsys):
        print(freeze({"lr": 0.1}))
        assert capsys.readouterr().out == "FrozenDict({\\n    lr: 0.1,\\n})\\n"

    def elsewhere(cfg):
        print(freeze(cfg))
    '''
    result = migrate(source)
    assert reported(result) == ["P04/REPR@11", "P04a/REPR@14", "P04/REPR@18"]
    kept = [r for r in result.refusals if "keep the FrozenDict" in r.reason]
    assert [r.line for r in kept] == [11, 14]
    assert "print(freeze(cfg))\n\ndef test_output" in result.code
    assert result.code.endswith("def elsewhere(cfg):\n    print(cfg)\n")


def test_golden_text_matches_what_flax_prints():
    # The golden marks the codemod looks for are what FrozenDict really prints.
    from flax.core import FrozenDict

    frozen = FrozenDict({"lr": 0.1})
    assert repr(frozen).startswith("FrozenDict({")
    assert repr(frozen.keys()).startswith("frozen_dict_keys(")
    assert repr(frozen) != repr({"lr": 0.1})


def test_a_part_of_the_value_printed_is_not_reported():
    result = migrate(
        """
        from flax.core import freeze

        def show(cfg):
            frozen = freeze(cfg)
            print(frozen["lr"], len(frozen))
            return frozen
        """
    )
    assert result.rewrites == {"P01": 1, "P04": 1}
    assert result.refusals == ()


# --- 3. FrozenDict-only attributes ---


def test_attribute_tables_match_flax():
    from flax.core import FrozenDict

    only = set(dir(FrozenDict)) - set(dir(dict))
    handled_by_families = {"pretty_repr", "unfreeze"}
    assert only - handled_by_families <= (
        FROZEN_ONLY_ATTRIBUTES | FROZEN_DIFFERENT_ATTRIBUTES
    )
    assert FROZEN_ONLY_ATTRIBUTES <= only
    frozen, plain = FrozenDict({"a": 1}), {"a": 1}

    def reduce_differs():
        with pytest.raises(TypeError, match="pickle"):
            plain.__reduce__()
        return frozen.__reduce__()[0] is FrozenDict

    # Each "different" attribute really differs between the two types, and the
    # table lists exactly the attributes shown to differ here.
    differs = {
        "__reduce__": reduce_differs,
        "__reduce_ex__": lambda: plain.__reduce_ex__(2) != frozen.__reduce_ex__(2),
        "__hash__": lambda: (
            plain.__hash__ is None and isinstance(frozen.__hash__(), int)
        ),
        "__class__": lambda: plain.__class__ is not frozen.__class__,
        "__getstate__": lambda: plain.__getstate__() != frozen.__getstate__(),
        "__module__": lambda: not hasattr(plain, "__module__") and frozen.__module__,
    }
    assert set(differs) == FROZEN_DIFFERENT_ATTRIBUTES
    for name, check in differs.items():
        assert check(), name


ATTRIBUTE_USES = [
    "state = frozen.__reduce__()",
    "state = frozen.__reduce_ex__(2)",
    "children, keys = frozen.tree_flatten_with_keys()",
    "inner = frozen._dict",
    "same = type(frozen).tree_unflatten(keys, values) if False else frozen._hash",
    "key = frozen.__hash__()",
    "cls = frozen.__class__",
    "again = frozen.__class__(frozen)",
]


@pytest.mark.parametrize("use", ATTRIBUTE_USES)
@pytest.mark.parametrize(
    "make, pattern",
    [("FrozenDict(cfg)", "P05"), ("freeze(cfg)", "P04"), ("nn.FrozenDict(cfg)", "P05")],
)
def test_frozen_only_attribute_keeps_the_frozen_dict(use, make, pattern):
    source = f"""
    import flax.linen as nn
    from flax.core import FrozenDict, freeze

    def snapshot(cfg, keys, values):
        frozen = {make}
        {use}
        return frozen
    """
    result = migrate(source)
    assert result.code == textwrap.dedent(source).lstrip()
    (refusal,) = result.refusals
    assert (refusal.pattern, refusal.line) == (f"{pattern}/METHOD", 5)
    assert "which a dict lacks or implements differently" in refusal.reason
    assert "keep the FrozenDict" in refusal.reason


def test_frozen_only_attribute_on_a_subtree_and_through_a_helper():
    result = migrate(
        """
        from flax.core import freeze

        def flat(tree):
            return tree.tree_flatten_with_keys()

        def run(cfg):
            a = freeze(cfg)["encoder"]._dict
            b = flat(freeze(cfg))
            return a, b
        """
    )
    assert result.rewrites == {}
    assert reported(result) == ["P04/METHOD@7", "P04/METHOD@8"]
    assert "it is passed to `flat`, where `tree.tree_flatten_with_keys`" in (
        result.refusals[1].reason
    )


def test_attributes_a_dict_shares_still_rewrite():
    result = migrate(
        """
        from flax.core import FrozenDict

        def names(cfg):
            frozen = FrozenDict(cfg)
            return sorted(frozen.keys()), frozen.get("lr"), len(frozen.items())
        """
    )
    assert "frozen = dict(cfg)" in result.code
    assert result.refusals == ()


def test_reduce_on_the_rewritten_dict_would_raise():
    # What the METHOD refusal prevents: the "after" of the old rewrite fails.
    from flax.core import FrozenDict

    before = (
        "def f(cfg):\n    frozen = FrozenDict(cfg)\n    return frozen.__reduce__()\n"
    )
    old_after = before.replace("FrozenDict(cfg)", "dict(cfg)")
    assert run("from flax.core import FrozenDict\n" + before, "f")({"a": 1})[0] is (
        FrozenDict
    )
    with pytest.raises(TypeError, match="pickle"):
        run(old_after, "f")({"a": 1})
    assert transform_source("from flax.core import FrozenDict\n" + before).code == (
        "from flax.core import FrozenDict\n" + before
    )


# --- 4. the decode cache through a re-unpacked name (P17) ---


def test_issue_example_cache_through_an_intermediate_name():
    result = migrate(
        """
        from flax.core import unfreeze

        def decode(model, variables, x):
            outputs = model.apply(variables, x, mutable=["cache"])
            outputs, past = outputs
            outputs["past_key_values"] = unfreeze(past["cache"])
            return outputs
        """
    )
    assert (
        result.code
        == textwrap.dedent(
            """
        def decode(model, variables, x):
            outputs = model.apply(variables, x, mutable=["cache"])
            outputs, past = outputs
            outputs["past_key_values"] = past["cache"]
            return outputs
        """
        ).lstrip()
    )
    assert result.rewrites == {"P01": 1, "P17": 1}
    assert result.refusals == ()


def test_cache_in_two_branches_of_a_generated_model_call():
    # The shape of generated `__call__` methods: one apply, two ways to return.
    result = migrate(
        """
        from flax.core import unfreeze

        class Wrapper:
            def __call__(self, variables, ids, past, return_dict):
                mutable = ["cache"] if past is not None else False
                outputs = self.module.apply(variables, ids, mutable=mutable)
                if past is not None and return_dict:
                    outputs, past = outputs
                    outputs["past_key_values"] = unfreeze(past["cache"])
                    return outputs
                elif past is not None and not return_dict:
                    outputs, past = outputs
                    outputs = outputs[:1] + (unfreeze(past["cache"]),) + outputs[1:]
                return outputs
        """
    )
    assert "unfreeze" not in result.code
    assert 'outputs["past_key_values"] = past["cache"]' in result.code
    assert '(past["cache"],)' in result.code
    assert result.rewrites == {"P01": 1, "P17": 2}
    assert result.refusals == ()


@pytest.mark.parametrize(
    "apply",
    [
        'module.apply(variables, x, mutable=["cache"])',
        'self.module.apply(variables, x, mutable=["cache"])',
        "model.apply(variables, x, mutable=True)",
        'model.apply(variables, x, mutable=["cache"], rngs=rngs)',
    ],
)
def test_cache_through_intermediate_with_other_apply_spellings(apply):
    result = migrate(
        f"""
        from flax.core import unfreeze

        def step(self, module, model, variables, x, rngs):
            result = {apply}
            logits, state = result
            return logits, unfreeze(state["cache"])
        """
    )
    assert "unfreeze" not in result.code
    assert result.rewrites == {"P01": 1, "P17": 1}


def test_other_collections_of_a_fresh_apply_are_owned_too():
    result = migrate(
        """
        from flax.core import unfreeze

        def step(model, variables, x):
            result = model.apply(variables, x, mutable=True)
            y, state = result
            new = unfreeze(state["params"])
            new["head"] = 0.0
            return y, new
        """
    )
    assert 'new = state["params"]' in result.code
    assert result.rewrites == {"P01": 1, "P02": 1}


UNSAFE_CACHE = {
    # The tuple is read again: it holds the cache the copy now aliases.
    "tuple read later": """
        outputs = model.apply(variables, x, mutable=["cache"])
        out, past = outputs
        out["pkv"] = unfreeze(past["cache"])
        log.append(outputs)
        return out
    """,
    "tuple aliased before": """
        outputs = model.apply(variables, x, mutable=["cache"])
        keep = outputs
        outputs, past = outputs
        outputs["pkv"] = unfreeze(past["cache"])
        keep[1]["cache"]["k"] = 0
        return outputs
    """,
    "tuple returned when not rebound": """
        outputs = model.apply(variables, x, mutable=["cache"])
        if flag:
            out, past = outputs
            out["pkv"] = unfreeze(past["cache"])
        return outputs
    """,
    "maybe another value": """
        outputs = model.apply(variables, x, mutable=["cache"])
        if flag:
            outputs = log
        outputs, past = outputs
        outputs["pkv"] = unfreeze(past["cache"])
        return outputs
    """,
    "maybe not assigned (try)": """
        outputs = log
        try:
            outputs = model.apply(variables, x, mutable=["cache"])
        except ValueError:
            pass
        outputs, past = outputs
        outputs["pkv"] = unfreeze(past["cache"])
        return outputs
    """,
    "in a loop": """
        outputs = model.apply(variables, x, mutable=["cache"])
        for _ in range(2):
            outputs, past = outputs
            outputs["pkv"] = unfreeze(past["cache"])
        return outputs
    """,
    "cache written later": """
        outputs = model.apply(variables, x, mutable=["cache"])
        outputs, past = outputs
        outputs["pkv"] = unfreeze(past["cache"])
        past["cache"]["k"] = 0
        return outputs
    """,
    "read by a closure": """
        outputs = model.apply(variables, x, mutable=["cache"])
        peek = lambda: outputs[1]
        out, past = outputs
        out["pkv"] = unfreeze(past["cache"])
        return out, peek
    """,
    "not a fresh value": """
        outputs = log[0]
        outputs, past = outputs
        outputs["pkv"] = unfreeze(past["cache"])
        return outputs
    """,
    "bound by a walrus before the read": """
        outputs = model.apply(variables, x, mutable=["cache"])
        outputs, past = outputs
        out = [(past := log[0]), unfreeze(past["cache"])]
        out[1]["k"] = 0
        return outputs
    """,
    "the cache is re-read in the same statement": """
        outputs = model.apply(variables, x, mutable=["cache"])
        outputs, past = outputs
        outputs["pkv"] = (unfreeze(past["cache"]), past)
        return outputs
    """,
    "read in a finally after the return": """
        outputs = model.apply(variables, x, mutable=["cache"])
        try:
            outputs, past = outputs
            out = unfreeze(past["cache"])
            out["k"] = 0
            return out
        finally:
            log.append(past)
    """,
    "read after a suppressed error": """
        outputs = model.apply(variables, x, mutable=["cache"])
        with flag:
            outputs, past = outputs
            out = unfreeze(past["cache"])
            out["k"] = 0
            return out
        return past
    """,
    "rebound by a nested function": """
        outputs = model.apply(variables, x, mutable=["cache"])
        outputs, past = outputs
        def swap():
            nonlocal past
            past = log[0]
        swap()
        outputs["pkv"] = unfreeze(past["cache"])
        return outputs
    """,
    "read in a later branch that returns": """
        outputs = model.apply(variables, x, mutable=["cache"])
        outputs, past = outputs
        outputs["pkv"] = unfreeze(past["cache"])
        if flag:
            log.append(past)
            return outputs
        return outputs
    """,
    "aliased in an earlier branch that does not return": """
        outputs = model.apply(variables, x, mutable=["cache"])
        if flag:
            log = outputs
        outputs, past = outputs
        outputs["pkv"] = unfreeze(past["cache"])
        log[1]["cache"]["k"] = 0
        return outputs
    """,
    "bound in an earlier branch that does not return": """
        outputs = model.apply(variables, x, mutable=["cache"])
        if flag:
            outputs = log
        else:
            log.append(0)
        outputs, past = outputs
        outputs["pkv"] = unfreeze(past["cache"])
        return outputs
    """,
    "global name": """
        global outputs
        outputs = model.apply(variables, x, mutable=["cache"])
        outputs, past = outputs
        outputs["pkv"] = unfreeze(past["cache"])
        return outputs
    """,
}


@pytest.mark.parametrize("body", UNSAFE_CACHE.values(), ids=list(UNSAFE_CACHE))
def test_cache_copy_stays_where_the_value_may_be_seen_elsewhere(body):
    source = (
        "from flax.core import unfreeze\n\n\n"
        "def step(model, variables, x, log, flag):\n"
    )
    source += textwrap.indent(textwrap.dedent(body).strip("\n"), "    ") + "\n"
    result = transform_source(source)
    assert result.error is None
    assert 'unfreeze(past["cache"])' in result.code
    assert "P17" not in result.rewrites
    assert [r.pattern for r in result.refusals] == ["P02/MUT"]


def test_fresh_cache_of_real_flax_apply_is_not_shared():
    # Why dropping the copy is safe: `apply` hands back new containers for the
    # mutable collections, so nobody else holds `past["cache"]`.
    import flax.linen as nn
    import jax
    import jax.numpy as jnp

    class Counter(nn.Module):
        @nn.compact
        def __call__(self, x):
            seen = self.variable("cache", "seen", lambda: jnp.zeros(()))
            seen.value = seen.value + 1
            return nn.Dense(2)(x)

    model = Counter()
    variables = model.init(jax.random.key(0), jnp.ones(2))
    seen = float(variables["cache"]["seen"])
    source = migrate(
        """
        from flax.core import unfreeze

        def decode(model, variables, x):
            outputs = model.apply(variables, x, mutable=["cache"])
            logits, past = outputs
            out = {"logits": logits}
            out["past_key_values"] = unfreeze(past["cache"])
            out["past_key_values"]["seen"] = -1.0
            return out
        """
    ).code
    assert "unfreeze" not in source
    out = run(source, "decode")(model, variables, jnp.ones(2))
    assert out["past_key_values"]["seen"] == -1.0
    assert float(variables["cache"]["seen"]) == seen
    assert out["past_key_values"] is not variables["cache"]


def test_a_parameter_rebound_by_the_unpack_is_followed_only_where_it_is_certain():
    rebound = migrate(
        """
        from flax.core import unfreeze

        def step(model, variables, x, past):
            if past is not None:
                outputs = model.apply(variables, x, mutable=["cache"])
                outputs, past = outputs
                outputs["past_key_values"] = unfreeze(past["cache"])
                return outputs
            return past
        """
    )
    assert "unfreeze" not in rebound.code and rebound.rewrites["P17"] == 1
    maybe = migrate(
        """
        from flax.core import unfreeze

        def step(model, variables, x, past, flag):
            outputs = model.apply(variables, x, mutable=["cache"])
            if flag:
                outputs, past = outputs
            new = unfreeze(past["cache"])
            new["k"] = 0
            return outputs, new
        """
    )
    assert "unfreeze(past" in maybe.code
    assert reported(maybe) == ["P02/MUT@7"]


def test_cache_after_a_branch_that_returned():
    result = migrate(
        """
        from flax.core import unfreeze

        def decode(model, variables, x, return_dict, log):
            outputs = model.apply(variables, x, mutable=["cache"])
            if return_dict:
                outputs, past = outputs
                outputs["past_key_values"] = unfreeze(past["cache"])
                return outputs
            outputs, past = outputs
            log.append(outputs)
            return outputs + (unfreeze(past["cache"]),)
        """
    )
    assert "unfreeze" not in result.code
    assert result.rewrites == {"P01": 1, "P17": 2}


# --- a property: however the copy is wrapped in lists, an edit keeps it ---

WRAPS = [
    "rest + [{}]",
    "[{}] + rest",
    "({},) + tuple(rest)",
    "[{}] * 2",
    "2 * [{}]",
    "[{}, {{}}][:1]",
    "(rest + [{}])[::-1]",
    "list([{}])",
    "sorted([{}], key=id)",
    "list(reversed([{}]))",
    "list(rest) + list(({},))",
    "[*rest, {}]",
    "rest * 1 + [{}]",
    "next(iter([[{}]]))",
    "max([{}], key=len)",
    "sum([[{}]], [])",
]


@given(st.lists(st.sampled_from(WRAPS), min_size=1, max_size=3))
@settings(deadline=None)
def test_wrapped_copy_that_is_edited_keeps_unfreeze(wraps):
    expr = "unfreeze(state['params'])"
    for wrap in wraps:
        expr = (
            wrap.replace("{{}}", "{{ }}").replace("{}", expr, 1).replace("{{ }}", "{}")
        )
    source = f"""
from flax.core import unfreeze

def touch(x):
    if isinstance(x, dict):
        x["bias"] = 0.0
    elif isinstance(x, (list, tuple)):
        for item in x:
            touch(item)

def with_extra(state, rest):
    out = {expr}
    touch(out)
    return out
"""
    result = transform_source(source)
    assert result.error is None
    state = {"params": {"bias": 1.0}}
    out = run(result.code, "with_extra")(state, [])
    assert state == {"params": {"bias": 1.0}}, result.code
    assert "'bias': 0.0" in repr(out)  # the copy was edited


# --- 5. a discarded x.unfreeze() ---


def test_discarded_unfreeze_method_is_left_and_reported():
    source = """
    import flax

    def configure(hp, state):
        hp.unfreeze()
        state.params.unfreeze()
        flax.core.freeze(state.params).unfreeze()
        n = len(state.params.unfreeze())
        return hp, n
    """
    result = migrate(source)
    expected = (
        textwrap.dedent(source)
        .lstrip()
        .replace("len(state.params.unfreeze())", "len(state.params)")
    )
    assert result.code == expected
    assert reported(result) == ["P03/NEG@4", "P03/NEG@5", "P03/NEG@6"]
    assert "can be deleted" in result.refusals[0].reason
    assert "may change the object, so it stays" in result.refusals[0].reason

    # The side effect the old rewrite (`hp`) dropped is still there, for a
    # config class (defined elsewhere) with an `unfreeze` of its own.
    class HParams:
        frozen = True

        def unfreeze(self):
            self.frozen = False
            return self

    class State:
        params = {"w": 1.0}

    hp = HParams()
    with pytest.raises(AttributeError, match="unfreeze"):
        run(result.code, "configure")(hp, State())  # the dict line still raises
    assert hp.frozen is False
