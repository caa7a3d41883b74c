"""The rewrite families, one ``VisitorBasedCodemodCommand`` per file.

``FAMILIES`` is the order the pipeline consults them in for each node (inner nodes
are always left before outer ones, so ``freeze(x).unfreeze()`` first loses its
``freeze`` and then its ``unfreeze``). ``RemoveAliasesCommand`` runs after them,
once every use of an alias has been seen.
"""

from migration.commands.drop_freeze import DropFreezeCommand as DropFreezeCommand
from migration.commands.drop_unfreeze import DropUnfreezeCommand as DropUnfreezeCommand
from migration.commands.remove_aliases import (
    RemoveAliasesCommand as RemoveAliasesCommand,
)
from migration.commands.replace_annotations import (
    ReplaceAnnotationsCommand as ReplaceAnnotationsCommand,
)
from migration.commands.replace_frozen_dict_call import (
    ReplaceFrozenDictCallCommand as ReplaceFrozenDictCallCommand,
)
from migration.commands.replace_isinstance import (
    ReplaceIsinstanceCommand as ReplaceIsinstanceCommand,
)
from migration.commands.report_flag import ReportFlagCommand as ReportFlagCommand
from migration.commands.rewrite_copy import RewriteCopyCommand as RewriteCopyCommand
from migration.commands.rewrite_pop import RewritePopCommand as RewritePopCommand
from migration.commands.rewrite_pretty_repr import (
    RewritePrettyReprCommand as RewritePrettyReprCommand,
)

FAMILIES = (
    DropFreezeCommand,
    ReplaceFrozenDictCallCommand,
    DropUnfreezeCommand,
    RewriteCopyCommand,
    RewritePopCommand,
    ReplaceIsinstanceCommand,
    ReplaceAnnotationsCommand,
    RewritePrettyReprCommand,
    ReportFlagCommand,
)
