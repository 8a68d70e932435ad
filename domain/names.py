"""Display names: which are refused, and the key under which a name is unique.

Two names are the same name when their keys are equal: NFKC, case folding and the
confusables skeleton of Unicode TR39 (UTS #39), so that "Mo", "MO", its fullwidth
form and "Mo" spelt with Cyrillic letters are one name. The skeleton comes from
`disarm` (its `skeleton_key`, with TR39's digit classes: 0 as O, 1 as l), which ships
Unicode's confusables data and strips bidi controls and invisible characters on the
way; a table of our own would go stale with each Unicode release.

Refused outright, before any key is made: a name carrying a bidi control (it would
reorder the text around it on a page), and a name with nothing visible in it
(zero-width spaces, fillers) — its key would be empty.
"""

from __future__ import annotations

import disarm

from domain.errors import NameInvalid

# Unicode's explicit directional formatting characters (UAX #9, 2.1-2.7): embeddings,
# overrides, isolates and the implicit marks. Any of them in a name can flip the line.
BIDI_CONTROLS = frozenset(
    "\u061c\u200e\u200f\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069"
)
# Which keys stay equal across releases of the library (a monotonic counter): a store's
# claims were made under this one. A change means claims must be remade (README).
KEY_SCHEMA_VERSION = disarm.KEY_SCHEMA_VERSION


def check_name(name: str, field: str = "name") -> None:
    """NameInvalid when the name carries a bidi control or shows nothing."""
    found = next((c for c in name if c in BIDI_CONTROLS), None)
    if found is not None:
        raise NameInvalid(
            f"{field} contains a text-direction control (U+{ord(found):04X}), which would"
            " reorder the text around it: remove it",
            field=field,
        )
    if not name_key(name):
        raise NameInvalid(
            f"{field} has no visible character (only spaces, invisible or formatting characters)",
            field=field,
        )


def name_key(name: str) -> str:
    """The normalised form two names share when readers could take one for the other."""
    return disarm.skeleton_key(name, digit_policy="tr39")
