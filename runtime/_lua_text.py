"""How text crosses between Lua and Python.

Lua strings are bytes; Python strings are Unicode. A procedure can build bytes that are not
UTF-8 (`"\\xff"`, a lone surrogate `"\\u{D800}"`), and Python can hold strings that UTF-8 cannot
encode (a lone surrogate from JSON). lupa decodes and encodes with a codec named by the
runtime; this one replaces what does not convert with U+FFFD instead of raising, so such a
value reaches the other side as visible replacement characters and never as an exception in
the middle of a call.
"""

from __future__ import annotations

import codecs

CODEC = "tide-lua-utf8"
_REPLACEMENT = "\ufffd".encode()
_ERRORS = "tide-lua-replace"


def _replace_unencodable(error: UnicodeError) -> tuple[bytes, int]:
    if not isinstance(error, UnicodeEncodeError):
        raise error
    return _REPLACEMENT, error.end


def _encode(text: str, errors: str = "strict") -> tuple[bytes, int]:
    return codecs.utf_8_encode(text, _ERRORS)


def _decode(data: bytes, errors: str = "strict") -> tuple[str, int]:
    return codecs.utf_8_decode(data, "replace", True)


def _search(name: str) -> codecs.CodecInfo | None:
    if name.replace("_", "-") != CODEC:
        return None
    return codecs.CodecInfo(_encode, _decode, name=CODEC)  # type: ignore[arg-type]


codecs.register_error(_ERRORS, _replace_unencodable)
codecs.register(_search)
