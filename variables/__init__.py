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
from ._draft import current as current
from ._draft import mutable as mutable
from ._draft import original as original
from ._draft import produce as produce
from ._draft import result as result
from ._draft import unfrozen as unfrozen
from ._errors import FieldError as FieldError

# --- dataclasses (_dataclass) ---
from ._dataclass import PyTreeNode as PyTreeNode
from ._dataclass import dataclass as dataclass
from ._dataclass import field as field
from ._errors import DataclassError as DataclassError

# --- selection and optax (_select) ---
from ._select import LeafInfo as LeafInfo
from ._select import labels as labels
from ._select import mask as mask
from ._select import merge as merge
from ._select import partition as partition
from ._select import select as select

# --- summary (_summary) ---
from ._summary import count as count
from ._summary import summary as summary

# --- flax.linen layer (_flax) ---
from ._errors import ApplyError as ApplyError
from ._flax import Model as Model
from ._flax import apply as apply
from ._flax import init as init

# --- checkpoints (_checkpoint) ---
from ._checkpoint import LoadReport as LoadReport
from ._checkpoint import checkpoint_index as checkpoint_index
from ._checkpoint import load as load
from ._checkpoint import save as save

# --- surgery (_surgery) ---
from ._errors import RenameError as RenameError
from ._errors import TransplantError as TransplantError
from ._surgery import Diff as Diff
from ._surgery import TransplantReport as TransplantReport
from ._surgery import diff as diff
from ._surgery import rename as rename
from ._surgery import transplant as transplant
