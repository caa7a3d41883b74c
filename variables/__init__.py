"""variables: a dict-based variable store for JAX and Flax.

Parameters stay plain nested dicts; every edit is one safe, functional line::

    import variables as vs
    params = vs.at(params)["params"]["Dense_0"]["kernel"].multiply(0.5)
"""

__version__ = "0.1.0"

# --- errors ---
from ._errors import DraftError as DraftError
from ._errors import FrozenInstanceError as FrozenInstanceError
from ._errors import LoadError as LoadError
from ._errors import MergeConflictError as MergeConflictError
from ._errors import PathError as PathError
from ._errors import SaveError as SaveError
from ._errors import StructureError as StructureError
from ._errors import VariablesError as VariablesError

# --- paths and trees (_paths, _tree) ---
from ._paths import Pattern as Pattern
from ._paths import format_path as format_path
from ._paths import match as match
from ._paths import parse_path as parse_path
from ._tree import flatten as flatten
from ._tree import get as get
from ._tree import unflatten as unflatten

# --- editing (_at) ---
from ._at import At as At
from ._at import at as at

# --- copying and freezing (_freeze) ---
from ._freeze import clone_pytree as clone_pytree
from ._freeze import freeze as freeze
from ._freeze import unfreeze as unfreeze

# --- drafts (_draft) ---

# --- dataclasses (_dataclass) ---

# --- selection and optax (_select) ---

# --- flax.linen layer (_flax) ---

# --- checkpoints (_checkpoint) ---

# --- surgery (_surgery) ---
