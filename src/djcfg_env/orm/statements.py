"""Which SQL a read-only alias may run: an allowlist of statements that cannot write.

The read-only guard (:mod:`djcfg_env.orm.readonly`) asks :func:`refusal` about
every statement sent through a read-only alias's connection. The text is cut
into tokens by a small lexer that knows comments (``--``, ``/* */``, MySQL's
``#``), string literals (``'...'``, ``E'...'``, ``$tag$...$tag$``), quoted
identifiers (``"..."``, ```...```, SQLite's ``[...]``) and MySQL's executable
comments (``/*! ... */`` and ``/*M! ... */``, whose content is SQL), and split
into statements at every ``;`` outside them. Each statement is then judged by
what it *is*, never by what it merely mentions in a literal or an identifier:

* allowed: ``SELECT``/``WITH``/``VALUES``/``TABLE`` reads, ``SHOW``,
  ``EXPLAIN``/``DESCRIBE`` of a read, ``BEGIN``/``START TRANSACTION`` (not
  ``READ WRITE``, not SQLite's ``IMMEDIATE``/``EXCLUSIVE``), ``COMMIT``,
  ``ROLLBACK [TO SAVEPOINT]``, ``SAVEPOINT``, ``RELEASE``, ``SET`` of a session
  parameter that has nothing to do with the read-only state, ``RESET`` of such
  a parameter, SQLite ``PRAGMA`` reads and pragmas that set no data
  (``PRAGMA foreign_keys = OFF``), ``DECLARE ... CURSOR FOR <read>``,
  ``FETCH``/``MOVE``/``CLOSE``, ``LISTEN``/``UNLISTEN``, ``DEALLOCATE``,
  ``COPY ... TO STDOUT``;
* refused: everything else, including anything the lexer cannot read to the
  end (an unterminated literal or comment), and inside an allowed statement:
  a data-modifying word (``INSERT``, ``UPDATE``, ``DELETE``, ``MERGE``,
  ``REPLACE``, e.g. in a ``WITH`` part), ``INTO`` (``SELECT ... INTO``), a row
  lock (``FOR UPDATE``, ``FOR [NO KEY|KEY] SHARE``, ``LOCK IN SHARE MODE``),
  and a call of a built-in function that changes something (``nextval``,
  ``setval``, ``set_config``, advisory locks, large objects, ``dblink``, ...),
  by a bare or a quoted name.

A plain ``SELECT`` as Django compiles it (no literal, comment, ``;`` or
suspicious word) is let through by a fast path without lexing.

SQL dialects read some text differently (a backslash in a string, ``#``,
nested comments, ``$tag$`` quotes), so a statement is lexed once per way the
connection's database may read it, and refused if any reading finds a
refusal: text cannot hide a write from the guard by leaning on one dialect's
quoting rules.

A refusal names the statement kind (keywords, and for ``SET``/``PRAGMA`` the
parameter name), never a literal: a literal may hold a secret.
"""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass

__all__ = ["Refusal", "refusal", "writes"]


@dataclass(frozen=True)
class Refusal:
    """Why a statement may not run on a read-only alias.

    :attr:`operation` completes "Refused to ..." (``run an INSERT statement``,
    ``call nextval()``, ``lock rows with SELECT ... FOR UPDATE``); :attr:`table`
    is the table the statement names first after its writing keyword, if any;
    :attr:`preposition` joins the two (``for`` or ``of``).
    """

    operation: str
    table: str | None = None
    preposition: str = "for"


@dataclass(frozen=True)
class _Dialect:
    backslash_escapes: bool  # \' is a quote inside '...' and "..." (MySQL; old PostgreSQL strings)
    hash_comments: bool  # '# ...' is a comment (MySQL)
    dash_needs_space: bool  # '--' starts a comment only before a space or a control character (MySQL)
    nested_comments: bool  # /* /* */ */ (PostgreSQL)
    dollar_quotes: bool  # $tag$ ... $tag$ (PostgreSQL)
    bracket_identifiers: bool  # [name] (SQLite)
    executable_comments: bool  # /*! ... */ and /*M! ... */ hold SQL (MySQL/MariaDB)


_POSTGRESQL = _Dialect(False, False, False, True, True, False, False)
#: PostgreSQL with standard_conforming_strings=off.
_POSTGRESQL_ESCAPES = _Dialect(True, False, False, True, True, False, False)
_MYSQL = _Dialect(True, True, True, False, False, False, True)
_MYSQL_NO_ESCAPES = _Dialect(False, True, True, False, False, False, True)  # sql_mode NO_BACKSLASH_ESCAPES
_SQLITE = _Dialect(False, False, False, False, False, True, False)

#: vendor -> every way its server may read a text (the unknown vendor: all of them).
_READINGS: dict[str | None, tuple[_Dialect, ...]] = {
    "postgresql": (_POSTGRESQL, _POSTGRESQL_ESCAPES),
    "mysql": (_MYSQL, _MYSQL_NO_ESCAPES),
    "sqlite": (_SQLITE,),
    None: (_POSTGRESQL, _POSTGRESQL_ESCAPES, _MYSQL, _MYSQL_NO_ESCAPES, _SQLITE),
}

# Token kinds.
_WORD = "word"  # a bare keyword or identifier, upper-cased
_IDENT = "ident"  # a quoted identifier (its name)
_STRING = "string"  # a string literal (its text, for judging only: never shown)
_OTHER = "other"  # numbers, operators, placeholders, punctuation

Token = tuple[str, str]
#: Marks a quoted name written with Unicode escapes (``U&"..."``): its real spelling is unknown.
_UNICODE_ESCAPED = "\x00U&"


class _Unreadable(Exception):
    """The lexer cannot read the text to its end (an unterminated literal or comment)."""


@functools.lru_cache(maxsize=8)
def _token_pattern(dialect: _Dialect) -> re.Pattern[str]:
    escape = r"\\." if dialect.backslash_escapes else r"(?!)"
    parts = [
        r"(?P<space>\s+)",
        r"(?P<dashes>--(?=[\s\x00-\x1f]|$)[^\n]*)" if dialect.dash_needs_space else r"(?P<dashes>--[^\n]*)",
    ]
    if dialect.hash_comments:
        parts.append(r"(?P<hash>\#[^\n]*)")
    parts += [
        r"(?P<block>/\*)",
        rf"(?P<string>(?:[NnBbXx]|[Uu]&)?'(?:[^'\\]|{escape}|'')*')"
        if dialect.backslash_escapes
        else r"(?P<string>(?:[NnBbXx]|[Uu]&)?'(?:[^']|'')*')",
        rf'(?P<dquoted>(?:[Uu]&)?"(?:[^"\\]|{escape}|"")*")'
        if dialect.backslash_escapes
        else r'(?P<dquoted>(?:[Uu]&)?"(?:[^"]|"")*")',
        r"(?P<backtick>`(?:[^`]|``)*`)",
    ]
    if dialect.bracket_identifiers:
        parts.append(r"(?P<bracket>\[[^\]]*\])")
    if dialect.dollar_quotes:  # PostgreSQL: $tag$ ... $tag$, and E'...' (backslash escapes, always)
        parts.append(r"(?P<dollar>\$(?P<tag>[^\W\d]\w*)?\$)")
        parts.insert(3, r"(?P<estring>[Ee]'(?:[^'\\]|\\.|'')*')")
    parts += [
        r"(?P<word>[^\W\d]\w*(?:\$\w*)*)",
        r"(?P<number>(?:\d+\.?\d*|\.\d+)(?:[Ee][+-]?\d+)?)",
        r"(?P<param>%\((?:[^)]*)\)s|%s|\$\d+|\?\d*|:[A-Za-z_]\w*)",
        r"(?P<quote>['\"`\[])" if dialect.bracket_identifiers else r"(?P<quote>['\"`])",  # never closed
        r"(?P<other>.)",
    ]
    return re.compile("|".join(parts), re.DOTALL)


def _block_end(sql: str, start: int, nested: bool) -> int:
    """The index just past the comment opened at ``start`` (``/*``)."""
    depth, i = 1, start + 2
    while depth:
        close = sql.find("*/", i)
        if close < 0:
            raise _Unreadable
        opener = sql.find("/*", i, close) if nested else -1
        if opener >= 0:
            depth, i = depth + 1, opener + 2
        else:
            depth, i = depth - 1, close + 2
    return i


_EXECUTABLE = re.compile(r"/\*M?!\d*")


def _lex(sql: str, dialect: _Dialect) -> list[list[Token]]:
    """The statements of ``sql`` as this dialect reads it, each a list of tokens."""
    pattern = _token_pattern(dialect)
    statements: list[list[Token]] = []
    current: list[Token] = []
    executable = 0  # open /*! ... */ comments: their closing */ is skipped
    i, end = 0, len(sql)
    while i < end:
        match = pattern.match(sql, i)
        assert match is not None  # (?P<other>.) matches any character
        kind, text = match.lastgroup, match.group()
        i = match.end()
        if kind in ("space", "dashes", "hash"):
            continue
        if kind == "block":
            opener = _EXECUTABLE.match(sql, match.start()) if dialect.executable_comments else None
            if opener is not None:
                executable += 1
                i = opener.end()
            else:
                i = _block_end(sql, match.start(), dialect.nested_comments)
            continue
        if kind == "other" and executable and text == "*" and sql.startswith("*/", match.start()):
            executable -= 1
            i = match.start() + 2
            continue
        if kind == "dollar":
            close = sql.find(text, i)
            if close < 0:
                raise _Unreadable
            current.append((_STRING, sql[i:close]))
            i = close + len(text)
        elif kind == "quote":
            raise _Unreadable
        elif kind in ("string", "estring"):
            current.append((_STRING, text[text.index("'") + 1 : -1]))
        elif kind == "dquoted" and text[:2].upper() == "U&":  # PostgreSQL: U&"\0073et_config"
            current.append((_IDENT, _UNICODE_ESCAPED + text[3:-1]))
        elif kind in ("dquoted", "backtick", "bracket"):
            current.append((_IDENT, text[1:-1]))
        elif kind == "word":
            current.append((_WORD, text.upper()))
        elif text == ";":
            if current:
                statements.append(current)
            current = []
        else:
            current.append((_OTHER, text))
    if executable:
        raise _Unreadable
    if current:
        statements.append(current)
    return statements


# -- judging one statement -----------------------------------------------------------------

#: Words that make a statement write wherever they stand (a CTE, EXPLAIN's statement, ...).
_DML = frozenset({"INSERT", "UPDATE", "DELETE", "MERGE", "REPLACE", "UPSERT"})
#: Of those, the ones that are also read-only functions when a "(" follows (MySQL's INSERT(), REPLACE()).
_DML_FUNCTIONS = frozenset({"INSERT", "REPLACE"})
#: Built-in functions that change something: data, sequences, settings, locks, files, other sessions.
_WRITING_FUNCTIONS = frozenset(
    {
        # PostgreSQL
        "NEXTVAL",
        "SETVAL",
        "SET_CONFIG",
        "PG_NOTIFY",
        "TXID_CURRENT",
        "PG_CURRENT_XACT_ID",
        "LO_IMPORT",
        "LO_EXPORT",
        "LO_CREATE",
        "LO_CREAT",
        "LO_UNLINK",
        "LO_PUT",
        "LO_FROM_BYTEA",
        "LO_OPEN",
        "LO_WRITE",
        "LOWRITE",
        "LO_TRUNCATE",
        "LO_TRUNCATE64",
        "DBLINK",
        "DBLINK_EXEC",
        "DBLINK_CONNECT",
        "DBLINK_CONNECT_U",
        "DBLINK_SEND_QUERY",
        "DBLINK_OPEN",
        "QUERY_TO_XML",
        "QUERY_TO_XMLSCHEMA",
        "QUERY_TO_XML_AND_XMLSCHEMA",
        "PG_TERMINATE_BACKEND",
        "PG_CANCEL_BACKEND",
        "PG_RELOAD_CONF",
        "PG_ROTATE_LOGFILE",
        "PG_SWITCH_WAL",
        "PG_CREATE_RESTORE_POINT",
        "PG_PROMOTE",
        "PG_LOGICAL_EMIT_MESSAGE",
        "PG_CREATE_PHYSICAL_REPLICATION_SLOT",
        "PG_CREATE_LOGICAL_REPLICATION_SLOT",
        "PG_DROP_REPLICATION_SLOT",
        "PG_COPY_PHYSICAL_REPLICATION_SLOT",
        "PG_COPY_LOGICAL_REPLICATION_SLOT",
        "PG_REPLICATION_SLOT_ADVANCE",
        "PG_LOGICAL_SLOT_GET_CHANGES",
        "PG_LOGICAL_SLOT_GET_BINARY_CHANGES",
        "PG_WAL_REPLAY_PAUSE",
        "PG_WAL_REPLAY_RESUME",
        "PG_STAT_RESET",
        "PG_STAT_RESET_SHARED",
        "PG_STAT_RESET_SINGLE_TABLE_COUNTERS",
        "PG_STAT_RESET_SINGLE_FUNCTION_COUNTERS",
        "PG_STAT_RESET_SLRU",
        "PG_STAT_RESET_REPLICATION_SLOT",
        "PG_STAT_STATEMENTS_RESET",
        "PG_FILE_WRITE",
        "PG_FILE_RENAME",
        "PG_FILE_UNLINK",
        "PG_FILE_SYNC",
        "PG_IMPORT_SYSTEM_COLLATIONS",
        # MySQL / MariaDB (NEXTVAL and SETVAL are above)
        "GET_LOCK",
        # SQLite
        "LOAD_EXTENSION",
        "WRITEFILE",
    }
)
#: PostgreSQL's advisory locks (session or transaction, shared or not, try or wait).
_ADVISORY_LOCK = re.compile(r"PG_(?:TRY_)?ADVISORY_(?:XACT_)?LOCK(?:_SHARED)?")
#: Session parameters that hold (or can lift) the read-only state, on every engine.
_READ_ONLY_PARAMETERS = frozenset(
    {
        "DEFAULT_TRANSACTION_READ_ONLY",
        "TRANSACTION_READ_ONLY",
        "TX_READ_ONLY",
        "READ_ONLY",
        "SUPER_READ_ONLY",
        "QUERY_ONLY",
        "SESSION_REPLICATION_ROLE",
        "AUTHORIZATION",
        "ROLE",
    }
)
#: What may follow BEGIN / START TRANSACTION (no READ WRITE, no IMMEDIATE/EXCLUSIVE: those lock).
_TRANSACTION_WORDS = frozenset(
    {
        "WORK",
        "TRANSACTION",
        "ISOLATION",
        "LEVEL",
        "SERIALIZABLE",
        "REPEATABLE",
        "READ",
        "COMMITTED",
        "UNCOMMITTED",
        "ONLY",
        "DEFERRABLE",
        "NOT",
        "WITH",
        "CONSISTENT",
        "SNAPSHOT",
        "DEFERRED",
    }
)
#: What may follow COMMIT / END / ROLLBACK / ABORT (plus a savepoint name after TO [SAVEPOINT]).
_END_WORDS = frozenset({"WORK", "TRANSACTION", "AND", "NO", "CHAIN", "RELEASE"})
#: SQLite pragmas that act even without a value.
_ACTING_PRAGMAS = frozenset({"OPTIMIZE", "INCREMENTAL_VACUUM", "WAL_CHECKPOINT", "SHRINK_MEMORY"})
#: SQLite pragmas a read-only session may set: they change how this connection works, never data
#: (Django itself sends ``PRAGMA foreign_keys = OFF/ON`` around ``loaddata``).
_SESSION_PRAGMAS = frozenset(
    {"FOREIGN_KEYS", "DEFER_FOREIGN_KEYS", "BUSY_TIMEOUT", "CACHE_SIZE", "LEGACY_ALTER_TABLE",
     "RECURSIVE_TRIGGERS", "CASE_SENSITIVE_LIKE", "AUTOMATIC_INDEX", "REVERSE_UNORDERED_SELECTS"}
)  # fmt: skip
#: SQLite pragmas whose parenthesised argument is a question, not a new value.
_TABLE_VALUED_PRAGMAS = frozenset(
    {
        "TABLE_INFO",
        "TABLE_XINFO",
        "INDEX_INFO",
        "INDEX_XINFO",
        "INDEX_LIST",
        "FOREIGN_KEY_LIST",
        "FOREIGN_KEY_CHECK",
        "INTEGRITY_CHECK",
        "QUICK_CHECK",
        "TABLE_LIST",
    }
)
#: Words that begin a statement EXPLAIN (or DECLARE, PREPARE) may wrap.
_STATEMENT_WORDS = frozenset(
    {
        "SELECT",
        "WITH",
        "VALUES",
        "TABLE",
        "INSERT",
        "UPDATE",
        "DELETE",
        "MERGE",
        "REPLACE",
        "CREATE",
        "EXECUTE",
        "DECLARE",
        "DO",
    }
)
_READS = frozenset({"SELECT", "WITH", "VALUES", "TABLE"})
#: Where the statement's table follows, for naming it in the refusal.
_TABLE_AFTER = frozenset({"INTO", "UPDATE", "FROM", "TABLE", "ON", "TRUNCATE", "REPLACE", "JOIN"})
_SKIP_BEFORE_TABLE = frozenset(
    {
        "IF",
        "NOT",
        "EXISTS",
        "ONLY",
        "IGNORE",
        "LOW_PRIORITY",
        "QUICK",
        "TABLE",
        "INTO",
        "FROM",
        "DELAYED",
        "HIGH_PRIORITY",
        "OUTFILE",
        "DUMPFILE",
    }
)


def _is_name(token: Token) -> bool:
    return token[0] in (_WORD, _IDENT)


def _table(tokens: list[Token], start: int) -> str | None:
    """The table named after the first table keyword from ``start`` (an identifier: never a literal)."""
    for i in range(start, len(tokens)):
        kind, text = tokens[i]
        if kind == _WORD and text in _TABLE_AFTER:
            j = i + 1
            while j < len(tokens) and tokens[j][0] == _WORD and tokens[j][1] in _SKIP_BEFORE_TABLE:
                j += 1
            parts: list[str] = []
            while j < len(tokens) and _is_name(tokens[j]):
                parts.append(tokens[j][1])
                if j + 2 < len(tokens) and tokens[j + 1] == (_OTHER, ".") and _is_name(tokens[j + 2]):
                    j += 2
                else:
                    break
            name = ".".join(parts).lower()
            return name if name and re.fullmatch(r"[\w.$]+", name) else None
    return None


def _article(text: str) -> str:
    return "an" if text[:1].upper() in "AEIOU" and not text.upper().startswith(("USE", "UNI")) else "a"


def _run(kind: str, tokens: list[Token] | None = None, start: int = 0) -> Refusal:
    return Refusal(f"run {_article(kind)} {kind} statement", _table(tokens, start) if tokens else None)


def _followed_by(tokens: list[Token], i: int, text: str) -> bool:
    return i + 1 < len(tokens) and tokens[i + 1] == (_OTHER, text)


def _scan(tokens: list[Token]) -> Refusal | None:
    """What any statement may not contain anywhere: writes, INTO, row locks, writing functions."""
    words = [(i, text) for i, (kind, text) in enumerate(tokens) if kind == _WORD]
    for n, (i, word) in enumerate(words):  # keywords
        following = words[n + 1][1] if n + 1 < len(words) else ""
        if word == "FOR" and (following in ("UPDATE", "SHARE", "NO", "KEY")):
            return Refusal("lock rows with SELECT ... FOR UPDATE", _table(tokens, 0), "of")
        if word == "LOCK" and following == "IN":
            return Refusal("lock rows with SELECT ... LOCK IN SHARE MODE", _table(tokens, 0), "of")
        if word in _DML and not (word in _DML_FUNCTIONS and _followed_by(tokens, i, "(")):
            return _run(word, tokens, i)
        if word == "INTO":
            return _run("SELECT ... INTO", tokens, i)
        if word == "NEXT" and following == "VALUE":
            return Refusal("take the NEXT VALUE of a sequence")
    for i, (kind, text) in enumerate(tokens):  # function calls, by a bare or a quoted name
        if kind in (_WORD, _IDENT) and _followed_by(tokens, i, "("):
            if kind == _IDENT and text.startswith(_UNICODE_ESCAPED):
                return Refusal("call a function named with Unicode escapes")
            name = text.upper()
            if name in _WRITING_FUNCTIONS or _ADVISORY_LOCK.fullmatch(name):
                return Refusal(f"call {name.lower()}()")
    return None


def _inner(tokens: list[Token], start: int) -> list[Token] | None:
    """The statement wrapped from ``start`` on (EXPLAIN's, DECLARE's, PREPARE's), if one begins there."""
    for i in range(start, len(tokens)):
        if tokens[i][0] == _WORD and tokens[i][1] in _STATEMENT_WORDS:
            return tokens[i:]
    return None


_MODIFIERS = frozenset({"SESSION", "LOCAL", "GLOBAL", "PERSIST", "PERSIST_ONLY"})


def _parameter(tokens: list[Token], i: int) -> tuple[str, int]:
    """The parameter named at ``i`` (``@@session.x``, ``main.x``, ``"x"``), upper-cased, and the next index."""
    n = len(tokens)
    while i < n and tokens[i][0] == _WORD and tokens[i][1] in _MODIFIERS:
        i += 1
    while i < n and tokens[i] == (_OTHER, "@"):
        i += 1
    parts: list[str] = []
    while i < n and _is_name(tokens[i]):
        parts.append(tokens[i][1].upper())
        i += 1
        if i + 1 < n and tokens[i] == (_OTHER, ".") and _is_name(tokens[i + 1]):
            i += 1
            continue
        break
    names = [part for part in parts if part not in _MODIFIERS]
    return (names[-1] if names else ""), i


def _judge_set(tokens: list[Token]) -> Refusal | None:
    words = [text for kind, text in tokens if kind == _WORD]
    second = words[1] if len(words) > 1 else ""
    if second in ("GLOBAL", "PERSIST", "PERSIST_ONLY", "PASSWORD", "DEFAULT", "RESOURCE", "STATEMENT") or any(
        kind == _WORD and text == "GLOBAL" for kind, text in tokens
    ):
        return _run(f"SET {second}")
    if "TRANSACTION" in words or "CHARACTERISTICS" in words:
        position = words.index("TRANSACTION") if "TRANSACTION" in words else 0
        rest = words[position + 1 :]
        if "WRITE" in rest:
            return _run("SET TRANSACTION READ WRITE")
        if all(word in _TRANSACTION_WORDS for word in rest) or (rest[:1] == ["SNAPSHOT"] and len(rest) == 1):
            return None
        return _run("SET TRANSACTION")
    # SET [SESSION|LOCAL] a = 1, @@b := 2, @c = 3 (MySQL: several), SET name TO value, SET TIME ZONE ...
    i, depth = 1, 0
    expect_name = True
    while i < len(tokens):
        kind, text = tokens[i]
        if expect_name and depth == 0:
            name, i = _parameter(tokens, i)
            if name in _READ_ONLY_PARAMETERS or "READ_ONLY" in name:
                return _run(f"SET {name.lower()}")
            expect_name = False
            continue
        if kind == _OTHER and text == "(":
            depth += 1
        elif kind == _OTHER and text == ")":
            depth -= 1
        elif kind == _OTHER and text == "," and depth == 0:
            expect_name = True
        i += 1
    return None


def _judge_pragma(tokens: list[Token]) -> Refusal | None:
    name, i = _parameter(tokens, 1)
    rest = tokens[i:]
    if name and not rest and name not in _ACTING_PRAGMAS:
        return None  # PRAGMA name: a read
    if name in _TABLE_VALUED_PRAGMAS and rest[:1] == [(_OTHER, "(")] and rest[-1] == (_OTHER, ")"):
        return None  # PRAGMA table_info(t): a read
    if name in _SESSION_PRAGMAS and all(kind != _STRING or text.isalnum() for kind, text in rest):
        return None  # PRAGMA foreign_keys = OFF: this connection's behaviour, no data
    return _run(f"PRAGMA {name.lower()}" if name else "PRAGMA")  # PRAGMA name = value, name(value)


def _judge(tokens: list[Token]) -> Refusal | None:
    """Why this one statement may not run on a read-only alias, or None if it is a read."""
    start = 0
    while start < len(tokens) and tokens[start] == (_OTHER, "("):
        start += 1
    first_kind, first = tokens[start] if start < len(tokens) else (_OTHER, "")
    if first_kind != _WORD:
        return _run("unrecognised")
    scanned = _scan(tokens)
    words = [text for kind, text in tokens if kind == _WORD]
    if first in _READS:
        return scanned
    if start:
        return _run("unrecognised")
    if first in ("SHOW", "LISTEN", "UNLISTEN", "FETCH", "MOVE", "CLOSE", "DEALLOCATE"):
        return scanned
    if first in ("EXPLAIN", "DESCRIBE", "DESC"):
        inner = _inner(tokens, 1)
        if inner is not None:
            return _judge(inner)
        # DESCRIBE t [column], EXPLAIN t (MySQL): names only.
        if all(kind in (_IDENT, _WORD) or text == "." for kind, text in tokens[1:]):
            return scanned
        return _run(first)
    if first in ("BEGIN", "START"):
        following = words[1:]
        if first == "START" and following[:1] != ["TRANSACTION"]:
            return _run(first, tokens)
        if "WRITE" in following:
            return _run(f"{first} ... READ WRITE")
        for lock in ("IMMEDIATE", "EXCLUSIVE"):
            if lock in following:
                return _run(f"BEGIN {lock}")
        if all(kind == _WORD and text in _TRANSACTION_WORDS or text == "," for kind, text in tokens[1:]):
            return None
        return _run(first)
    if first in ("COMMIT", "END", "ROLLBACK", "ABORT"):
        rest = tokens[1:]
        to = next((n for n, (kind, text) in enumerate(rest) if kind == _WORD and text == "TO"), None)
        head, tail = (rest, []) if to is None else (rest[:to], rest[to + 1 :])
        if tail[:1] == [(_WORD, "SAVEPOINT")]:
            tail = tail[1:]
        if all(kind == _WORD and text in _END_WORDS for kind, text in head) and (
            to is None or (len(tail) == 1 and _is_name(tail[0]))
        ):
            return None
        return _run(first)
    if first == "SAVEPOINT":
        return None if len(tokens) == 2 and _is_name(tokens[1]) else _run(first)
    if first == "RELEASE":
        rest = tokens[2:] if words[1:2] == ["SAVEPOINT"] else tokens[1:]
        return None if len(rest) == 1 and _is_name(rest[0]) else _run(first)
    if first == "SET":
        return _judge_set(tokens) or scanned
    if first == "RESET":
        name, end = _parameter(tokens, 1)
        if (
            end != len(tokens)
            or not name
            or name in _READ_ONLY_PARAMETERS
            or "READ_ONLY" in name
            or name in ("ALL", "MASTER", "SLAVE", "REPLICA", "QUERY", "PERSIST", "BINARY")
        ):
            word = (
                name
                if name in ("ALL", "MASTER", "SLAVE", "REPLICA", "QUERY", "PERSIST", "BINARY")
                else name.lower()
            )
            return _run(f"RESET {word}".rstrip())
        return None
    if first == "PRAGMA":
        return _judge_pragma(tokens)
    if first == "DECLARE":
        inner = _inner(tokens, 1)
        return _judge(inner) if inner is not None and inner[0][1] in _READS else _run(first)
    if first == "COPY":
        top: list[str] = []
        depth = 0
        for kind, text in tokens[1:]:
            if text == "(" and kind == _OTHER:
                depth += 1
            elif text == ")" and kind == _OTHER:
                depth -= 1
            elif depth == 0 and kind == _WORD:
                top.append(text)
        if "FROM" not in top and "TO" in top and top[top.index("TO") + 1 : top.index("TO") + 2] == ["STDOUT"]:
            inner = _inner(tokens, 1)
            return _judge(inner) if inner is not None else scanned
        return _run("COPY ... FROM" if "FROM" in top else "COPY")
    if re.fullmatch(r"[A-Z_]+", first):
        return _run(first, tokens)
    return _run("unrecognised")


# -- the public questions ----------------------------------------------------------------

#: A Django SELECT with nothing to look at twice needs no lexing (the common case, kept fast):
#: none of these characters (literals, comments, statement ends), and none of the words of
#: :data:`_SUSPICIOUS` (first looked for as plain substrings, which is cheap).
_PLAIN_FORBIDDEN = (";", "'", "$", "#", "\\", "--", "/*")
_SUSPICIOUS_PARTS = (
    "INTO", "FOR", "LOCK", "NEXT", "INSERT", "UPDATE", "DELETE", "MERGE", "REPLACE", "UPSERT", "SETVAL",
    "SET_CONFIG", "LO_", "LOWRITE", "DBLINK", "QUERY_TO_XML", "LOAD_EXTENSION", "WRITEFILE", "TXID_CURRENT",
    "PG_",
)  # fmt: skip
_SUSPICIOUS = re.compile(
    r"\b(?:INTO|FOR|LOCK|NEXT|INSERT|UPDATE|DELETE|MERGE|REPLACE|UPSERT|NEXTVAL|SETVAL|SET_CONFIG|GET_LOCK"
    r"|LO_\w*|LOWRITE|DBLINK\w*|QUERY_TO_XML\w*|LOAD_EXTENSION|WRITEFILE|TXID_CURRENT|PG_\w*)\b"
)


def _plain_select(sql: str) -> bool:
    """Whether ``sql`` is a SELECT the lexer would let through without a doubt (no lexing needed)."""
    head = sql.lstrip()[:7]
    if len(head) < 7 or head[:6].upper() != "SELECT" or not head[6].isspace():
        return False
    if any(part in sql for part in _PLAIN_FORBIDDEN):
        return False
    upper = sql.upper()
    return not any(part in upper for part in _SUSPICIOUS_PARTS) or _SUSPICIOUS.search(upper) is None


def refusal(sql: str, vendor: str | None = None) -> Refusal | None:
    """Why ``sql`` may not run on a read-only alias of ``vendor`` (None: any engine), else None.

    ``sql`` may hold several statements; the first refused one answers.
    """
    if _plain_select(sql):
        return None
    for dialect in _READINGS.get(vendor, _READINGS[None]):
        try:
            statements = _lex(sql, dialect)
        except _Unreadable:
            return Refusal("run a statement whose quotes or comments do not close")
        for tokens in statements:
            found = _judge(tokens)
            if found is not None:
                return found
    return None


def writes(sql: str, vendor: str | None = None) -> str | None:
    """What ``sql`` would do that a read-only alias refuses (``run an INSERT statement``), or None."""
    found = refusal(sql, vendor)
    return None if found is None else found.operation
