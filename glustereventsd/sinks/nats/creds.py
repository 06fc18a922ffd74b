"""NATS credential files: what an NKey seed file and a ``.creds`` file must hold, checked without quoting them.

Shared by the daemon (before it hands a file to nats-py, which loops forever on a ``.creds``
file without a JWT block) and the CLI (before it copies a file to every node). Imports
nothing heavy: the per-node CLI commands use it too.
"""

from __future__ import annotations

CREDS_JWT = "-----BEGIN NATS USER JWT-----"
CREDS_SEED = "-----BEGIN USER NKEY SEED-----"
MAX_FILE_BYTES = 64 * 1024


def seed_problem(text: str) -> str:
    """Why ``text`` is not a usable NKey *user* seed ("" when it is); never quotes the seed."""
    import nkeys

    seed = text.strip()
    if not seed:
        return "the file is empty"
    if not seed.startswith("SU"):
        if seed.startswith("S") and len(seed) > 1 and seed[1] in "AONPC":
            return "it holds an NKey seed that is not a user seed (user seeds start with SU)"
        return "it holds no NKey seed (a user seed is one line starting with SU)"
    if "\n" in seed:
        return "it holds more than the seed (an NKey seed file is the seed alone, on one line)"
    try:
        nkeys.from_seed(bytearray(seed.encode("ascii")))
    except (nkeys.NkeysError, ValueError, UnicodeEncodeError):
        return "the NKey seed does not decode (a damaged or truncated file?)"
    return ""


def _line_after(lines: list[str], marker: str) -> str:
    for index, line in enumerate(lines):
        if marker in line:
            return lines[index + 1].strip() if index + 1 < len(lines) else ""
    return ""


def creds_problem(text: str) -> str:
    """Why ``text`` is not a usable ``.creds`` file ("" when it is); never quotes its content."""
    if CREDS_JWT not in text:
        return f"no {CREDS_JWT} block found (a .creds file holds a user JWT and an NKey seed)"
    lines = text.splitlines()
    if _line_after(lines, CREDS_JWT).count(".") != 2:
        return "the line after the JWT header is not a JWT"
    if CREDS_SEED not in text:
        return f"no {CREDS_SEED} block found"
    problem = seed_problem(_line_after(lines, CREDS_SEED))
    return f"its seed block: {problem}" if problem else ""


def text_problem(data: bytes, check_text: str) -> str:
    """Why the bytes of a credential file are unusable ("" when fine); ``check_text``: "seed" or "creds"."""
    if len(data) > MAX_FILE_BYTES:
        return f"it is larger than {MAX_FILE_BYTES} bytes"
    try:
        text = data.decode("ascii")
    except UnicodeDecodeError:
        return "it is not ASCII text"
    return seed_problem(text) if check_text == "seed" else creds_problem(text)
