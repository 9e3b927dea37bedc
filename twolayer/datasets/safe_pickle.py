"""Reading untrusted pickles (the CIFAR-10 batches) without running code or unbounded work.

Two guards, both before anything is built:

- :func:`check_structure` walks the opcodes (no object is created) and refuses a
  pickle whose objects would be nested too deeply, or whose shared references
  (memo lookups) would make a structure exponentially larger than the file:
  a list of two references to a list of two references ... is a few hundred bytes
  and 2**k elements to whoever traverses it (NumPy, ``hash``, ``repr``).
- :class:`RestrictedUnpickler` builds numpy arrays and nothing else: any other
  Python global is refused, so a tampered file cannot run code.

    obj = load_pickle(path)   # UnsafePickleError, or ValueError for a corrupt file
"""

from __future__ import annotations

import io
import pickle
import pickletools
import struct
from pathlib import Path
from typing import Any, Literal

import numpy as np

#: Deepest nesting accepted (a CIFAR-10 batch needs about 5: dict, array, its state, dtype).
MAX_DEPTH = 32
#: Objects a pickle may expand to, per opcode in it: a file without shared containers
#: expands to about one object per opcode; each shared small object adds a few.
EXPANSION_PER_OPCODE = 16


class UnsafePickleError(ValueError):
    """A data file asked for a Python global outside the allow-list, or for unbounded work."""


class _Node:
    """What the structure check knows of one object: its size if fully expanded, its depth."""

    __slots__ = ("size", "depth", "shared")

    def __init__(self, size: int, depth: int, shared: bool = False) -> None:
        self.size, self.depth, self.shared = size, depth, shared


# Every object pushed by an opcode without inputs that cannot change later (ints,
# strings, globals, ...): one node, marked shared so that nothing may grow it.
_LEAF = _Node(1, 0, shared=True)

# How each opcode's argument is laid out: >= 0 is a fixed number of bytes.
_LINE, _TWO_LINES, _LEN1, _LEN4, _LEN4U, _LEN8U = -1, -6, -2, -3, -4, -5
_UINT4 = struct.Struct("<I")
_LENGTHS = {_LEN4: struct.Struct("<i"), _LEN4U: _UINT4, _LEN8U: struct.Struct("<Q")}
_MUTATORS = frozenset({"APPEND", "APPENDS", "SETITEM", "SETITEMS", "ADDITEMS", "BUILD"})
_ACTIONS = {
    "MARK": "mark", "PUT": "put", "BINPUT": "put", "LONG_BINPUT": "put", "MEMOIZE": "memoize",
    "GET": "get", "BINGET": "get", "LONG_BINGET": "get", "DUP": "dup", "STOP": "stop",
    "EMPTY_LIST": "new", "EMPTY_DICT": "new", "EMPTY_SET": "new",
}  # fmt: skip


def _opcode_table() -> dict[int, tuple]:
    """Opcode byte -> (action, argument layout, inputs below a mark, takes a mark, outputs)."""
    table = {}
    for op in pickletools.opcodes:
        if op.arg is None:
            layout = 0
        elif op.arg.n == pickletools.UP_TO_NEWLINE:
            layout = _TWO_LINES if op.arg.name == "stringnl_noescape_pair" else _LINE
        else:
            layout = op.arg.n
        before = op.stack_before
        marked = pickletools.markobject in before
        below = before.index(pickletools.markobject) if marked else len(before)
        action = _ACTIONS.get(op.name)
        if action is None:
            if op.name in _MUTATORS:
                action = "grow"
            else:
                action = "leaf" if not before and op.stack_after else "build"
        table[ord(op.code)] = (action, layout, below, marked, len(op.stack_after))
    return table


_OPCODES = _opcode_table()


def check_structure(data: bytes, path: Path) -> None:
    """Raise UnsafePickleError unless ``data`` builds objects of bounded size and depth.

    One pass over the opcodes, linear in ``len(data)``; nothing is built. A
    container grown after something took a reference to it is refused (the size
    recorded for that reference would be wrong); no pickler writes one. Raises
    ValueError for bytes that are not a well-formed pickle.
    """
    stack: list[_Node] = []
    marks: list[int] = []
    memo: dict[int, _Node] = {}
    ops, pos, end = 0, 0, len(data)

    def refuse(why: str) -> UnsafePickleError:
        return UnsafePickleError(
            f"{path} {why}, which no CIFAR-10 file does; refused before loading it. "
            "Replace the file with one from the official tarball"
        )

    try:
        while True:
            action, layout, below, marked, outputs = _OPCODES[data[pos]]
            ops += 1
            start = pos = pos + 1
            if layout >= 0:
                pos += layout
            elif layout == _LINE:
                pos = data.index(b"\n", pos) + 1
            elif layout == _TWO_LINES:
                pos = data.index(b"\n", data.index(b"\n", pos) + 1) + 1
            elif layout == _LEN1:
                pos += 1 + data[pos]
            else:
                length = _LENGTHS[layout]
                size = length.unpack_from(data, pos)[0]
                if size < 0:
                    raise ValueError("negative length")
                pos += length.size + size
            if pos > end:
                raise ValueError("truncated")
            if action == "leaf":
                stack.append(_LEAF)
            elif action == "new":
                stack.append(_Node(1, 0))
            elif action == "mark":
                marks.append(len(stack))
            elif action in ("put", "get"):
                if layout == 1:
                    key = data[start]
                elif layout == 4:
                    key = _UINT4.unpack_from(data, start)[0]
                else:
                    key = int(data[start:pos])
                if action == "put":
                    memo[key] = stack[-1]
                else:
                    stack.append(memo[key])
            elif action == "memoize":
                memo[len(memo)] = stack[-1]
            elif action == "dup":
                stack.append(stack[-1])
            elif action == "stop":
                return
            else:
                parts: list[_Node] = []
                if marked:
                    first = marks.pop()
                    parts = stack[first:]
                    del stack[first:]
                if below:
                    if len(stack) < below:
                        raise IndexError("stack underflow")
                    parts = stack[-below:] + parts
                    del stack[-below:]
                if not outputs:
                    continue
                if action == "grow":
                    node, parts = parts[0], parts[1:]
                    for part in parts:
                        part.shared = True
                    if node.shared:
                        raise refuse("changes an object after sharing it")
                    node.size += sum(p.size for p in parts)
                    node.depth = max(node.depth, 1 + max((p.depth for p in parts), default=0))
                else:
                    for part in parts:
                        part.shared = True
                    node = _Node(
                        1 + sum(p.size for p in parts),
                        1 + max((p.depth for p in parts), default=-1),
                    )
                if node.depth > MAX_DEPTH:
                    raise refuse(f"nests objects more than {MAX_DEPTH} levels deep")
                if node.size > EXPANSION_PER_OPCODE * ops + 1024:
                    raise refuse(
                        f"reuses objects so that one of them expands to {node.size} parts "
                        f"from {ops} opcodes"
                    )
                stack.append(node)
    except (ValueError, IndexError, KeyError) as exc:  # bad opcode, short read, underflow
        if isinstance(exc, UnsafePickleError):
            raise
        raise ValueError(f"{path} is truncated or corrupt (not a well-formed pickle)") from None


def _frombuffer(
    buf: bytes, dtype: np.dtype, shape: tuple, order: Literal["C", "F", "A"]
) -> np.ndarray:
    # What numpy's own _frombuffer does for arrays pickled with protocol 5.
    return np.frombuffer(buf, dtype=dtype).reshape(shape, order=order)


# numpy.(_)core.multiarray._reconstruct, taken from an array so no private module is imported.
_reconstruct = np.empty(0).__reduce__()[0]

# The globals a pickled uint8 array needs: numpy names from numpy 1.x and 2.x, and the
# ``bytes`` that Python 3 uses to pickle empty bytes at protocol <= 2.
_ALLOWED_GLOBALS: dict[tuple[str, str], Any] = {
    ("numpy.core.multiarray", "_reconstruct"): _reconstruct,
    ("numpy._core.multiarray", "_reconstruct"): _reconstruct,
    ("numpy.core.numeric", "_frombuffer"): _frombuffer,
    ("numpy._core.numeric", "_frombuffer"): _frombuffer,
    ("numpy", "ndarray"): np.ndarray,
    ("numpy", "dtype"): np.dtype,
    ("__builtin__", "bytes"): bytes,
    ("builtins", "bytes"): bytes,
}


class RestrictedUnpickler(pickle.Unpickler):
    """Unpickle a CIFAR-10 batch, refusing every global that is not a numpy array part."""

    def __init__(self, file: Any, path: Path) -> None:
        super().__init__(file, encoding="bytes")  # Python 2 str -> bytes, never guessed text
        self._path = path

    def find_class(self, module: str, name: str) -> Any:
        if (module, name) == ("_codecs", "encode"):
            return self._latin1_encode
        if (module, name) in _ALLOWED_GLOBALS:
            return _ALLOWED_GLOBALS[module, name]
        raise UnsafePickleError(
            f"{self._path} asks to load the Python global {module}.{name}, which no "
            "CIFAR-10 file contains; refused, nothing in it was run. Replace the file "
            "with one from the official tarball"
        )

    def _latin1_encode(self, text: str, encoding: str) -> bytes:
        # Python 3 pickles bytes at protocol <= 2 as _codecs.encode(text, "latin1"); any
        # other codec (zlib, rot13, ...) is not something a data file needs.
        if encoding not in ("latin1", "latin-1"):
            raise UnsafePickleError(
                f"{self._path} asks for _codecs.encode(..., {encoding!r}); refused"
            )
        return text.encode("latin1")


def load_pickle(path: Path) -> Any:
    """The object pickled in ``path``, built only from numpy arrays and plain data.

    Raises UnsafePickleError for a file that asks for code or unbounded work, and
    ValueError (naming the file) for one that is truncated or corrupt.
    """
    data = Path(path).read_bytes()
    check_structure(data, path)
    try:
        return RestrictedUnpickler(io.BytesIO(data), path).load()
    except UnsafePickleError:
        raise
    except Exception as exc:  # a damaged pickle can fail in many ways; all mean "corrupt"
        raise ValueError(f"{path} is truncated or corrupt ({type(exc).__name__}: {exc})") from exc
