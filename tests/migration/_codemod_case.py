"""A ``CodemodTest`` with the checks every migration test wants.

``check(before, after, refused=[...])`` runs the family under test through
``assertCodemod`` (LibCST's own before/after comparison), then checks the refusals
(``"P04/HASH@7"``: pattern and line), that every refusal was also emitted as a
codemod warning, and that running the family again on ``after`` changes nothing.
"""

from __future__ import annotations

import libcst as cst
from libcst.codemod import CodemodContext, CodemodTest, SkipFile

from migration._base import state_of


class MigrationCodemodTest(CodemodTest):
    """Base class: set ``TRANSFORM`` to a family from ``migration.commands``."""

    def check(
        self,
        before: str,
        after: str,
        *,
        refused: list[str] | tuple[str, ...] = (),
        rewrites: dict[str, int] | None = None,
        use_variables: bool = False,
        annotate: bool = False,
        expected_warnings: list[str] | None = None,
    ) -> None:
        context = CodemodContext(filename="example.py")
        self.assertCodemod(
            before,
            after,
            context_override=context,
            expected_warnings=expected_warnings,
            use_variables=use_variables,
            annotate=annotate,
        )
        state = state_of(context)
        got = sorted(f"{r.pattern}@{r.line}" for r in state.refusals)
        self.assertEqual(sorted(refused), got)
        self.assertEqual(
            sorted(context.warnings),
            sorted(f"{r.pattern} at line {r.line}: {r.reason}" for r in state.refusals),
        )
        if rewrites is not None:
            self.assertEqual(rewrites, {k: v for k, v in state.rewrites.items() if v})
        self.assertIdempotent(after, use_variables=use_variables, annotate=annotate)

    def unchanged(self, source: str, *, refused=(), **options) -> None:
        """``source`` comes out byte-identical."""
        self.check(source, source, refused=refused, rewrites={}, **options)

    def assertIdempotent(self, code: str, **options) -> None:
        tree = cst.parse_module(self.make_fixture_data(code))
        try:
            again = self.TRANSFORM(CodemodContext(), **options).transform_module(tree)
        except SkipFile:
            return  # nothing flax left to look at
        self.assertCodeEqual(code, again.code)
