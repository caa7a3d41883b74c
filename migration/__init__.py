"""A LibCST codemod that ports Flax code off ``FrozenDict``.

Run it as ``python -m migration PATH...`` (or ``variables-migrate``), or call
``transform_source`` / ``migrate_paths``. The design is described in
``migration/README.md``; every rewrite and refusal in ``docs/migration.md``. This
package never imports the ``variables`` runtime library (it only writes code that
does, with ``--use-variables``).
"""

from migration._api import MigrationResult as MigrationResult
from migration._api import Refusal as Refusal
from migration._api import migrate_paths as migrate_paths
from migration._api import transform_source as transform_source

__all__ = ["MigrationResult", "Refusal", "migrate_paths", "transform_source"]
