"""Model families srconvert can build from hyperparameters (and, later, detect
from weights-only files). One module per family; `FAMILIES` orders them."""

from __future__ import annotations

from converter.architectures import rdn, rrdn

FAMILIES = {rdn.NAME: rdn, rrdn.NAME: rrdn}
