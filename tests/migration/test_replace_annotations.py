"""ReplaceAnnotationsCommand: FrozenDict in annotations and aliases (P07, P08)."""

from _codemod_case import MigrationCodemodTest

from migration.commands import ReplaceAnnotationsCommand


class TestReplaceAnnotations(MigrationCodemodTest):
    TRANSFORM = ReplaceAnnotationsCommand

    def test_outputs_become_dict_inputs_mapping(self):
        self.check(
            """
            from typing import Any
            import flax
            from flax.core import FrozenDict

            def init_weights(self, key, shape) -> FrozenDict:
                ...

            def restore(params: FrozenDict[str, Any]) -> FrozenDict[str, Any]:
                local: FrozenDict = params
                return local
            """,
            """
            from typing import Any
            import flax
            from collections.abc import Mapping

            def init_weights(self, key, shape) -> dict[str, Any]:
                ...

            def restore(params: Mapping[str, Any]) -> dict[str, Any]:
                local: dict[str, Any] = params
                return local
            """,
            rewrites={"P07": 4},
        )

    def test_unions_and_optionals(self):
        self.check(
            """
            from typing import Any, Dict, Optional, Union
            import flax

            def f(
                params: Union[Dict, flax.core.FrozenDict],
                other: Optional[flax.core.FrozenDict] = None,
                third: dict | flax.core.FrozenDict | None = None,
            ) -> flax.core.frozen_dict.FrozenDict[str, Any]:
                ...
            """,
            """
            from typing import Any, Dict, Optional, Union
            from collections.abc import Mapping

            def f(
                params: Dict,
                other: Optional[Mapping[str, Any]] = None,
                third: dict | None = None,
            ) -> dict[str, Any]:
                ...
            """,
            rewrites={"P07": 4},
        )

    def test_frozen_variable_dict(self):
        self.check(
            """
            import flax
            from flax.core.scope import FrozenVariableDict

            def apply(v: FrozenVariableDict) -> flax.core.scope.FrozenVariableDict:
                return v
            """,
            """
            import flax
            from flax.core.scope import VariableDict

            def apply(v: VariableDict) -> flax.core.scope.VariableDict:
                return v
            """,
        )

    def test_type_alias(self):
        self.check(
            """
            from typing import Any
            import flax

            Params = flax.core.FrozenDict[str, Any]
            """,
            """
            from typing import Any

            Params = dict[str, Any]
            """,
            rewrites={"P08": 1},
        )

    def test_fields_without_and_with_frozen_defaults(self):
        self.check(
            """
            from typing import Any
            import flax.linen as nn
            from flax.core import FrozenDict, freeze

            class Block(nn.Module):
                cfg: FrozenDict
                extra: FrozenDict[str, Any] = freeze({})
            """,
            """
            from typing import Any
            import flax.linen as nn
            from flax.core import FrozenDict, freeze
            from collections.abc import Mapping

            class Block(nn.Module):
                cfg: Mapping[str, Any]
                extra: FrozenDict[str, Any] = freeze({})
            """,
            rewrites={"P07": 1},
        )

    def test_static_jit_argument_keeps_its_annotation(self):
        self.unchanged(
            """
            import functools
            from typing import Optional
            import jax
            from flax.core import FrozenDict

            @functools.partial(jax.jit, static_argnames=("cfg",))
            def step(x, cfg: Optional[FrozenDict] = None):
                return x
            """,
            refused=["P07/HASH@7"],
        )

    def test_string_annotations_and_look_alikes_are_left(self):
        self.unchanged(
            """
            import flax

            class FrozenDict(dict):
                pass

            def f(a: "FrozenDict", b: FrozenDict) -> FrozenDict:
                return a
            """
        )
