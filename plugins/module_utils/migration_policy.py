"""The expand-only policy for forward-only SQL migrations.

A deploy must leave the previous release working on the new schema, so that rolling the code back
never needs the database restored. A migration may therefore only add: tables, indexes, views,
NULLable or defaulted columns, seed rows and session settings. Anything that drops, renames,
narrows, rewrites or deletes is a *contract* step: it belongs in a later release whose migration
starts with the line ``-- stackguard: contract``, and it runs only when the caller says the previous
release is no longer a rollback target (``contract_allowed``).

Migrations are ``{version, name, sql}`` as the ``release_migrations`` lookup returns them. The SQL is
not parsed by a full grammar: a tokenizer that follows the MariaDB client and server (quotes with
backslash escapes and doubled quotes, ``--``/``#``/``/* */`` comments, executable comments
``/*! */`` and ``/*M! */`` counted as code, ``;`` between statements) feeds per-statement rules.
A statement the rules do not recognise is refused (fail closed).
"""

import re
from collections import namedtuple
from collections.abc import Iterable, Mapping

CONTRACT_MARKER = "-- stackguard: contract"
STATEMENT_WIDTH = 120

# The marker must be the file's first line; `--` must be followed by a space to be a comment at all.
_MARKER = re.compile(r"\ufeff?[ \t]*--[ \t]+stackguard[ \t]*:[ \t]*contract[ \t]*\r?", re.I)
# /*!NNNNN and /*M!NNNNNN open comments whose content the server executes.
_EXECUTABLE_OPEN = re.compile(r"/\*M?!\d*")

_REMEDY_DROP = "Expand first, and drop it in a later release marked `-- stackguard: contract`."
_REMEDY_RENAME = ("Add the new name alongside the old one, and remove the old one in a later release "
                  "marked `-- stackguard: contract`.")
_REMEDY_COLUMN = ("Add a new column instead, and retire the old one in a later release marked "
                  "`-- stackguard: contract`.")
_REMEDY_LATER = ("Do it in a later release marked `-- stackguard: contract`, once the previous release "
                 "is no longer a rollback target.")
_REMEDY_NOT_NULL = ("Give it a DEFAULT or let it be NULL, and tighten it in a later release marked "
                    "`-- stackguard: contract`.")
_REMEDY_DEFAULT = "Keep the default, and change it in a later release marked `-- stackguard: contract`."
_REMEDY_VIEW = ("Create a view under a new name, and retire the old one in a later release marked "
                "`-- stackguard: contract`.")
_REMEDY_UNKNOWN = "Mark the migration as a contract step (`-- stackguard: contract`) if intended."


class MigrationPolicyError(Exception):
    """Migrations break the expand-only policy; ``violations`` holds the items."""

    def __init__(self, message, violations):
        super().__init__(message)
        self.violations = violations


# kind: "contract" (allowed in a contract migration when contract_allowed) or "always" (never allowed)
Finding = namedtuple("Finding", "kind what why remedy")


def _contract(what, why, remedy):
    return Finding("contract", what, why, remedy)


def _unrecognised(what="unrecognised statement"):
    return _contract(what, "the policy cannot tell that the previous release keeps working with it, "
                           "so it fails closed", _REMEDY_UNKNOWN)


DROPS = {
    "table": _contract("drops a table", "the previous release may still read or write it", _REMEDY_DROP),
    "view": _contract("drops a view", "the previous release may still read it", _REMEDY_DROP),
    "index": _contract("drops an index", "the previous release's queries may rely on it, and a unique "
                                         "index guards its writes", _REMEDY_DROP),
    "database": _contract("drops a database", "every table in it goes, including those the previous "
                                              "release uses", _REMEDY_DROP),
    "column": _contract("drops a column", "the previous release may still read it", _REMEDY_DROP),
    "primary key": _contract("drops the primary key", "the previous release relies on it to find rows "
                                                      "and keep them unique", _REMEDY_DROP),
    "constraint": _contract("drops a constraint", "the previous release may rely on the database "
                                                  "enforcing it", _REMEDY_DROP),
    "partition": _contract("drops a partition", "the rows in it are deleted with it", _REMEDY_LATER),
}
RENAME_TABLE = _contract("renames a table", "the previous release still uses the old name", _REMEDY_RENAME)
RENAME_COLUMN = _contract("renames a column", "the previous release still uses the old name",
                          _REMEDY_RENAME)
RENAME_INDEX = _contract("renames an index", "the previous release's index hints may still name it",
                         _REMEDY_RENAME)
CHANGE_COLUMN = _contract("changes a column (CHANGE)", "it may rename it or narrow its type, and the "
                          "previous release still reads and writes it as it was", _REMEDY_COLUMN)
MODIFY_COLUMN = _contract("modifies a column (MODIFY)", "it may narrow its type or make it stricter, "
                          "and the previous release may write values it no longer accepts", _REMEDY_COLUMN)
DROP_DEFAULT = _contract("drops a column's default", "the previous release's inserts that leave the "
                         "column out would fail or store NULL", _REMEDY_DEFAULT)
SET_DEFAULT = _contract("changes a column's default", "the previous release's inserts that leave the "
                        "column out would store a different value", _REMEDY_DEFAULT)
NOT_NULL_WITHOUT_DEFAULT = _contract("adds a NOT NULL column without a DEFAULT", "the previous "
                                     "release's inserts do not set it and would fail", _REMEDY_NOT_NULL)
ADD_PRIMARY_KEY = _contract("adds a primary key", "it makes its columns NOT NULL and unique, so the "
                            "previous release's writes may fail", _REMEDY_LATER)
ADD_CHECK = _contract("adds a CHECK constraint", "the previous release may write rows it rejects",
                      _REMEDY_LATER)
ENGINE = _contract("changes the table's storage engine", "it rebuilds the table and can change what "
                   "the previous release relies on (transactions, foreign keys, locking)", _REMEDY_LATER)
CONVERT = _contract("converts the table's character set", "it rewrites every text column and can "
                    "change their types and lengths under the previous release", _REMEDY_LATER)
ALTER_IGNORE = _contract("uses ALTER IGNORE TABLE", "it silently deletes rows that clash with a new "
                         "unique key", _REMEDY_LATER)
REPLACE_TABLE = _contract("replaces a table (CREATE OR REPLACE)", "the existing table is dropped "
                          "first, with its rows", _REMEDY_LATER)
REPLACE_INDEX = _contract("replaces an index (CREATE OR REPLACE)", "the existing index is dropped "
                          "first, and the previous release's queries or writes may rely on it",
                          _REMEDY_DROP)
REDEFINE_VIEW = _contract("redefines a view", "the previous release may rely on its current columns",
                          _REMEDY_VIEW)
TRUNCATE = _contract("empties a table", "a rollback cannot bring its rows back", _REMEDY_LATER)
DELETE = _contract("deletes rows", "a rollback cannot bring them back, and the previous release may "
                   "still need them", _REMEDY_LATER)
UPDATE = _contract("rewrites existing rows", "the previous release may still write them the old way, "
                   "leaving a mix a rollback cannot undo", _REMEDY_LATER)
UPSERT = _contract("updates existing rows (INSERT ... ON DUPLICATE KEY UPDATE)", "the previous release "
                   "may still write them the old way, leaving a mix a rollback cannot undo", _REMEDY_LATER)
REPLACE_ROWS = _contract("replaces rows (REPLACE)", "it deletes existing rows that share a key with "
                         "the new ones, which a rollback cannot bring back", _REMEDY_LATER)
SET_GLOBAL = _contract("sets a global server variable", "it outlives the migration and changes the "
                       "server under the running release", "Change server settings through the stack "
                       "manifest instead.")
SCHEMA_MIGRATIONS = Finding("always", "touches schema_migrations", "only the deployer records "
                            "migrations there, and a migration that writes or alters it corrupts that "
                            "record", "Leave the table to the deployer.")


# ---------------------------------------------------------------------------------------- tokens
# A token is (kind, value, start, end): kind "word" (keywords, names, numbers, @variables),
# "string" ('...' or "..."), "ident" (`...`) or "punct" (one character); start and end index the
# statement's code text (comments replaced by a space).
Token = namedtuple("Token", "kind value start end")
_Statement = namedtuple("_Statement", "code tokens problems")


def _is_word_char(char):
    return char.isalnum() or char in "_$@"


def _scan(sql):
    """Split SQL into statements as the mariadb client and server read it."""
    statements = []
    code, tokens, problems = [], [], []
    length = [0]

    def emit(text):
        code.append(text)
        length[0] += len(text)

    def flush():
        if tokens or problems:
            statements.append(_Statement("".join(code), list(tokens), list(problems)))
        code.clear()
        tokens.clear()
        problems.clear()
        length[0] = 0

    # The client skips a UTF-8 byte order mark at the start of its input.
    i, n, executable = (1 if sql.startswith("\ufeff") else 0), len(sql), None
    while i < n:
        char, pair = sql[i], sql[i:i + 2]
        if char == ";":
            flush()
            i += 1
        elif char.isspace():
            emit(" ")
            i += 1
        elif char == "#" or (pair == "--" and (i + 2 == n or sql[i + 2].isspace() or ord(sql[i + 2]) < 32)):
            end = sql.find("\n", i)
            i = n if end < 0 else end
            emit(" ")
        elif pair == "/*":
            opening = _EXECUTABLE_OPEN.match(sql, i)
            if opening and executable is None:
                executable = i
                emit(" ")
                i = opening.end()
                continue
            end = sql.find("*/", i + 2)
            if end < 0:
                problems.append(Finding("always", "has an unterminated /* comment", "the rest of the "
                                        "file cannot be split into statements safely",
                                        "Close the comment."))
                i = n
            else:
                emit(" ")
                i = end + 2
        elif pair == "*/" and executable is not None:
            executable = None
            emit(" ")
            i += 2
        elif char in "'\"`":
            j = i + 1
            while j < n:
                if sql[j] == "\\" and char != "`":
                    j += 2
                elif sql[j] == char and sql[j + 1:j + 2] == char:
                    j += 2
                elif sql[j] == char:
                    break
                else:
                    j += 1
            if j >= n:
                problems.append(Finding("always", f"has an unterminated {char} quote", "the rest of "
                                        "the file cannot be split into statements safely",
                                        "Close the quote."))
                j = n - 1
            start = length[0]
            emit(sql[i:j + 1])
            tokens.append(Token("ident" if char == "`" else "string", sql[i:j + 1], start, length[0]))
            i = j + 1
        elif _is_word_char(char):
            j = i + 1
            while j < n and _is_word_char(sql[j]):
                j += 1
            start = length[0]
            emit(sql[i:j])
            tokens.append(Token("word", sql[i:j], start, length[0]))
            i = j
        else:
            if char == "\\":
                command = sql[i:i + 2].strip() or "\\"
                problems.append(Finding("always", f"contains the mariadb client command `{command}`",
                                        "the client runs it itself (it can run shell commands or "
                                        "other files), it is not SQL",
                                        "Remove it: migrations are plain SQL statements."))
            start = length[0]
            emit(char)
            tokens.append(Token("punct", char, start, length[0]))
            i += 1
    if executable is not None:
        if not tokens:  # a `;` inside it ended the statement: show where the comment opened
            emit(sql[executable:])
        problems.append(Finding("always", "has an unterminated /*! comment", "the rest of the file "
                                "cannot be split into statements safely", "Close the comment."))
    flush()
    return statements


def _fold(text, width=None):
    folded = " ".join(text.split())
    return folded if width is None else folded[:width]


def statements(sql):
    """The statements of ``sql`` as the server runs them: comments removed, whitespace folded."""
    return [_fold(statement.code) for statement in _scan(sql) if statement.tokens]


def is_contract(sql):
    """Whether the migration's first line is the ``-- stackguard: contract`` marker."""
    return bool(_MARKER.fullmatch(sql.split("\n", 1)[0]))


# ---------------------------------------------------------------------------------- statement rules
def _word(tokens, index):
    """The upper-cased keyword at ``index``, or None (quoted names are never keywords)."""
    if 0 <= index < len(tokens) and tokens[index].kind == "word":
        return tokens[index].value.upper()
    return None


def _is_punct(tokens, index, char):
    return 0 <= index < len(tokens) and tokens[index].kind == "punct" and tokens[index].value == char


def _depths(tokens):
    """The parenthesis depth of each token."""
    depth, result = 0, []
    for token in tokens:
        if token.kind == "punct" and token.value == ")":
            depth -= 1
        result.append(depth)
        if token.kind == "punct" and token.value == "(":
            depth += 1
    return result


def _top_words(tokens):
    """(index, KEYWORD) of the words outside parentheses."""
    return [(index, token.value.upper()) for index, (token, depth) in enumerate(zip(tokens, _depths(tokens)))
            if token.kind == "word" and depth == 0]


def _split_top(tokens, char=","):
    parts, current = [], []
    for token, depth in zip(tokens, _depths(tokens)):
        if depth == 0 and token.kind == "punct" and token.value == char:
            parts.append(current)
            current = []
        else:
            current.append(token)
    parts.append(current)
    return parts


def _has_sequence(tokens, *words):
    top = _top_words(tokens)
    for position in range(len(top) - len(words) + 1):
        window = top[position:position + len(words)]
        if ([word for _, word in window] == list(words)
                and window[-1][0] - window[0][0] == len(words) - 1):
            return True
    return False


def _name(tokens, index):
    """The index after a possibly qualified name (db.table) starting at ``index``, or None."""
    if index >= len(tokens) or tokens[index].kind not in ("word", "ident", "string"):
        return None
    index += 1
    while _is_punct(tokens, index, ".") and index + 1 < len(tokens) and tokens[index + 1].kind != "punct":
        index += 2
    return index


def _skip_if(tokens, index, *words):
    """Skip an optional keyword sequence such as IF NOT EXISTS."""
    if all(_word(tokens, index + offset) == word for offset, word in enumerate(words)):
        return index + len(words)
    return index


def _head(tokens, index):
    """Modifiers between CREATE/ALTER and the object type: ({modifier}, index of the type word)."""
    modifiers = set()
    while index < len(tokens):
        word = _word(tokens, index)
        if word == "OR" and _word(tokens, index + 1) == "REPLACE":
            modifiers.add("OR REPLACE")
            index += 2
        elif word == "ALGORITHM":
            modifiers.add(word)
            index += 1
            index += 1 if _is_punct(tokens, index, "=") else 0
            index += 1
        elif word == "DEFINER":
            modifiers.add(word)
            index += 1
            index += 1 if _is_punct(tokens, index, "=") else 0
            if _word(tokens, index) == "CURRENT_USER":
                index += 1
                if _is_punct(tokens, index, "(") and _is_punct(tokens, index + 1, ")"):
                    index += 2
            else:
                # 'user'@'host', `user`@`host`, user@host: the tokenizer keeps @ in words.
                index += 1
                while index < len(tokens) and (
                        (tokens[index - 1].kind == "word" and tokens[index - 1].value.endswith("@"))
                        or (tokens[index].kind == "word" and tokens[index].value.startswith("@"))):
                    index += 1
        elif word == "SQL" and _word(tokens, index + 1) == "SECURITY":
            modifiers.add("SQL SECURITY")
            index += 3
        elif word in ("TEMPORARY", "UNIQUE", "FULLTEXT", "SPATIAL", "ONLINE", "OFFLINE", "IGNORE",
                      "AGGREGATE"):
            modifiers.add(word)
            index += 1
        else:
            break
    return modifiers, index


def _create(tokens):
    modifiers, index = _head(tokens, 1)
    kind = _word(tokens, index)
    if kind == "TABLE" and modifiers <= {"OR REPLACE", "TEMPORARY"}:
        return [REPLACE_TABLE] if "OR REPLACE" in modifiers else []
    if kind == "INDEX" and modifiers <= {"OR REPLACE", "UNIQUE", "FULLTEXT", "SPATIAL", "ONLINE",
                                         "OFFLINE"} and len(modifiers & {"UNIQUE", "FULLTEXT", "SPATIAL"}) <= 1:
        return [REPLACE_INDEX] if "OR REPLACE" in modifiers else []
    if kind == "VIEW" and modifiers <= {"OR REPLACE", "ALGORITHM", "DEFINER", "SQL SECURITY"}:
        return [REDEFINE_VIEW] if "OR REPLACE" in modifiers else []
    return [_unrecognised()]


def _drop(tokens):
    temporary = _word(tokens, 1) == "TEMPORARY"
    index = 2 if temporary else 1
    index += 1 if _word(tokens, index) in ("ONLINE", "OFFLINE") else 0
    kind = _word(tokens, index)
    if kind in ("TABLE", "TABLES"):
        # DROP TEMPORARY TABLE never drops a real table; it only ends this session's scratch table.
        return [] if temporary else [DROPS["table"]]
    if temporary:
        return [_unrecognised()]
    if kind in ("VIEW", "VIEWS"):
        return [DROPS["view"]]
    if kind == "INDEX":
        return [DROPS["index"]]
    if kind in ("DATABASE", "SCHEMA"):
        return [DROPS["database"]]
    if kind in ("TRIGGER", "PROCEDURE", "FUNCTION", "EVENT", "SEQUENCE", "PACKAGE"):
        return [_contract(f"drops a {kind.lower()}", "the previous release may still rely on it",
                          _REMEDY_DROP)]
    return [_unrecognised()]


def _column_definition(tokens):
    """Findings for one added column: ``name type attributes...``."""
    if len(tokens) < 2 or tokens[0].kind not in ("word", "ident", "string"):
        return [_unrecognised("unrecognised column definition")]
    rest = tokens[1:]
    top = _top_words(rest)
    words = [word for _, word in top]
    not_null = defaulted = False
    if words and top[0][0] == 0 and words[0] == "SERIAL":  # BIGINT UNSIGNED NOT NULL AUTO_INCREMENT
        defaulted = True
    for position, (index, word) in enumerate(top):
        following = top[position + 1] if position + 1 < len(top) else (None, None)
        # ON DELETE SET DEFAULT / ON UPDATE SET DEFAULT is a foreign key action, not a default.
        action = [word for _, word in top[max(position - 2, 0):position]] in (["DELETE", "SET"],
                                                                             ["UPDATE", "SET"])
        if word == "NOT" and following[1] == "NULL" and following[0] == index + 1:
            not_null = True
        elif word == "PRIMARY":  # a primary key column is NOT NULL whether or not it says so
            not_null = True
        elif word == "DEFAULT" and not action:
            defaulted = True
        elif word in ("AUTO_INCREMENT", "GENERATED", "AS"):  # filled in by the server
            defaulted = True
    if not_null and not defaulted:
        return [NOT_NULL_WITHOUT_DEFAULT]
    return []


def _add(clause):
    index = 1
    word = _word(clause, index)
    if word in ("INDEX", "KEY", "UNIQUE", "FULLTEXT", "SPATIAL", "FOREIGN"):
        return []
    constraint = word == "CONSTRAINT"
    if constraint:
        index = _skip_if(clause, index + 1, "IF", "NOT", "EXISTS")
        if _word(clause, index) not in ("FOREIGN", "UNIQUE", "PRIMARY", "CHECK"):
            index += 1  # the constraint's name
        word = _word(clause, index)
        if word in ("FOREIGN", "UNIQUE"):
            return []
    if word == "PRIMARY":
        return [ADD_PRIMARY_KEY]
    if word == "CHECK":
        return [ADD_CHECK]
    if constraint or word == "PARTITION" or (word, _word(clause, index + 1)) in (
            ("PERIOD", "FOR"), ("SYSTEM", "VERSIONING")):
        return [_unrecognised("unrecognised ALTER TABLE clause")]
    index += 1 if word == "COLUMN" else 0
    index = _skip_if(clause, index, "IF", "NOT", "EXISTS")
    if _is_punct(clause, index, "("):  # ADD [COLUMN] (a INT, b INT)
        if not _is_punct(clause, len(clause) - 1, ")"):
            return [_unrecognised("unrecognised ALTER TABLE clause")]
        findings = []
        for definition in _split_top(clause[index + 1:-1]):
            findings += _column_definition(definition)
        return findings
    return _column_definition(clause[index:])


def _alter_clause(clause):
    """Findings for one comma-separated clause of ALTER TABLE."""
    word, second = _word(clause, 0), _word(clause, 1)
    if not clause:
        return [_unrecognised("unrecognised ALTER TABLE clause")]
    # Partitioning options end an ALTER without a comma: ADD COLUMN x INT PARTITION BY ...
    if any(w == "PARTITION" and i > 1 for i, w in _top_words(clause)) or _has_sequence(
            clause, "REMOVE", "PARTITIONING"):
        return [_unrecognised("unrecognised ALTER TABLE clause (partitioning)")]
    if word == "ADD":
        return _add(clause)
    if word == "DROP":
        if second in ("INDEX", "KEY"):
            return [DROPS["index"]]
        if second == "PRIMARY":
            return [DROPS["primary key"]]
        if second in ("FOREIGN", "CONSTRAINT", "CHECK"):
            return [DROPS["constraint"]]
        if second == "PARTITION":
            return [DROPS["partition"]]
        if second in ("SYSTEM", "PERIOD"):
            return [_unrecognised("unrecognised ALTER TABLE clause")]
        return [DROPS["column"]]  # DROP [COLUMN] [IF EXISTS] name
    if word == "RENAME":
        if second == "COLUMN":
            return [RENAME_COLUMN]
        if second in ("INDEX", "KEY"):
            return [RENAME_INDEX]
        return [RENAME_TABLE]  # RENAME [TO|AS] name
    if word == "CHANGE":
        return [CHANGE_COLUMN]
    if word == "MODIFY":
        return [MODIFY_COLUMN]
    if word == "ALTER" and second != "INDEX":
        index = 2 if second == "COLUMN" else 1
        index = _skip_if(clause, index, "IF", "EXISTS")
        after = _name(clause, index)
        if after is not None and _word(clause, after) == "DROP" and _word(clause, after + 1) == "DEFAULT":
            return [DROP_DEFAULT]
        if after is not None and _word(clause, after) == "SET" and _word(clause, after + 1) == "DEFAULT":
            return [SET_DEFAULT]
        return [_unrecognised("unrecognised ALTER TABLE clause")]
    if word == "ENGINE":
        return [ENGINE]
    if word == "CONVERT":
        return [CONVERT]
    if word in ("ALGORITHM", "LOCK"):  # how the server runs the ALTER, not what it changes
        index = 0
        while _word(clause, index) in ("ALGORITHM", "LOCK"):
            index += 1
            index += 1 if _is_punct(clause, index, "=") else 0
            if _word(clause, index) is None:
                break
            index += 1
        if index == len(clause):
            return []
    return [_unrecognised("unrecognised ALTER TABLE clause")]


def _alter(tokens):
    """Findings of ALTER, each with the clause it comes from (None for the whole statement)."""
    modifiers, index = _head(tokens, 1)
    kind = _word(tokens, index)
    if kind == "VIEW" and modifiers <= {"ALGORITHM", "DEFINER", "SQL SECURITY"}:
        return [(REDEFINE_VIEW, None)]
    if kind != "TABLE" or not modifiers <= {"ONLINE", "IGNORE"}:
        return [(_unrecognised(), None)]
    if "IGNORE" in modifiers:
        return [(ALTER_IGNORE, None)]
    index = _name(tokens, _skip_if(tokens, index + 1, "IF", "EXISTS"))
    if index is None:
        return [(_unrecognised(), None)]
    if _word(tokens, index) == "WAIT":
        index += 2
    elif _word(tokens, index) == "NOWAIT":
        index += 1
    clauses = _split_top(tokens[index:])
    if clauses == [[]]:
        return [(_unrecognised(), None)]
    findings = []
    for clause in clauses:
        for finding in _alter_clause(clause):
            findings.append((finding, clause if len(clauses) > 1 and clause else None))
    return findings


def _set(tokens):
    if _word(tokens, 1) == "STATEMENT":  # SET STATEMENT var=value FOR <statement>
        for index, word in _top_words(tokens):
            if word == "FOR":
                return _classify(tokens[index + 1:])
        return [(_unrecognised(), None)]
    if _word(tokens, 1) in ("PASSWORD", "ROLE", "DEFAULT", "TRANSACTION"):
        return [(_unrecognised(), None)]
    for _, word in _top_words(tokens):
        if word in ("GLOBAL", "PERSIST", "PERSIST_ONLY") or word.startswith(("@@GLOBAL", "@@PERSIST")):
            return [(SET_GLOBAL, None)]
    return []


def _classify(tokens):
    """[(Finding, clause tokens or None)] for one statement's tokens; [] when it only expands."""
    if not tokens:
        return []
    word = _word(tokens, 0)
    if word == "CREATE":
        findings = _create(tokens)
    elif word == "ALTER":
        return _alter(tokens)
    elif word == "SET":
        return _set(tokens)
    elif word == "DROP":
        findings = _drop(tokens)
    elif word == "RENAME":
        findings = [RENAME_TABLE] if _word(tokens, 1) in ("TABLE", "TABLES") else [_unrecognised()]
    elif word == "TRUNCATE":
        findings = [TRUNCATE]
    elif word == "DELETE":
        findings = [DELETE]
    elif word == "UPDATE":
        findings = [UPDATE]
    elif word == "REPLACE":
        findings = [REPLACE_ROWS]
    elif word == "INSERT":
        findings = [UPSERT] if _has_sequence(tokens, "ON", "DUPLICATE", "KEY", "UPDATE") else []
    else:
        findings = [_unrecognised()]
    return [(finding, None) for finding in findings]


# The mariadb client runs these itself when a statement starts with one (`system` runs a shell
# command, `source` another file), in batch mode too.
CLIENT_COMMANDS = frozenset((
    "CHARSET", "CLEAR", "CONNECT", "DELIMITER", "EDIT", "EGO", "EXIT", "GO", "NOPAGER", "NOTEE",
    "NOWARNING", "PAGER", "PRINT", "PROMPT", "QUIT", "REHASH", "RESETCONNECTION", "SOURCE", "STATUS",
    "SYSTEM", "TEE", "USE", "WARNINGS"))


def _client_command(tokens):
    word = _word(tokens, 0)
    if word not in CLIENT_COMMANDS:
        return None
    return Finding("always", f"starts with the mariadb client command `{word.lower()}`", "the client runs "
                   "it itself (`system` runs a shell command, `source` another file, `use` switches "
                   "the database), it is not SQL", "Remove it: migrations are plain SQL statements.")


def _touches_schema_migrations(tokens):
    return any((token.kind == "word" and token.value.lower() == "schema_migrations")
               or (token.kind == "ident" and token.value[1:-1].lower() == "schema_migrations")
               for token in tokens)


# ------------------------------------------------------------------------------------------ API
def _reason(finding, contract, contract_allowed):
    reason = f"{finding.what}; {finding.why}."
    if finding.kind == "contract" and contract:
        if contract_allowed:
            return None
        return (f"{reason} The migration is marked `{CONTRACT_MARKER}`, but contract steps are refused "
                "while the previous release is still a rollback target (contract_allowed is false).")
    return f"{reason} {finding.remedy}"


def _label(migration):
    name = migration.get("name")
    return str(name) if name not in (None, "") else f"version {migration.get('version')}"


def _migration_violations(migration, contract_allowed):
    sql = migration.get("sql")
    if not isinstance(sql, str):
        raise TypeError(f"migration {_label(migration)}: sql must be text, not {type(sql).__name__}")
    contract = is_contract(sql)
    found = []
    for statement in _scan(sql):
        findings = [(problem, None) for problem in statement.problems]
        if _touches_schema_migrations(statement.tokens):
            findings.append((SCHEMA_MIGRATIONS, None))
        command = _client_command(statement.tokens)
        findings += [(command, None)] if command else _classify(statement.tokens)
        text = _fold(statement.code, STATEMENT_WIDTH)
        for finding, clause in findings:
            reason = _reason(finding, contract, contract_allowed)
            if reason is None:
                continue
            if clause:
                part = _fold(statement.code[clause[0].start:clause[-1].end], 60)
                reason = reason.replace(f"{finding.what};", f"{finding.what} (`{part}`);", 1)
            item = {"version": migration.get("version"), "name": migration.get("name"),
                    "statement": text, "reason": reason}
            if item not in found:
                found.append(item)
    return found


def violations(migrations, contract_allowed=False):
    """Every statement of ``migrations`` that breaks the expand-only policy, in order.

    Returns a list of ``{version, name, statement, reason}``; ``statement`` is the statement without
    comments, whitespace folded, at most 120 characters. ``contract_allowed`` (a real boolean)
    lets migrations marked ``-- stackguard: contract`` drop, rename and rewrite.
    """
    if not isinstance(contract_allowed, bool):
        raise TypeError(f"contract_allowed must be true or false, not {type(contract_allowed).__name__} "
                        f"{contract_allowed!r}")
    if isinstance(migrations, (str, bytes, Mapping)) or not isinstance(migrations, Iterable):
        raise TypeError(f"migrations must be a list of {{version, name, sql}}, not "
                        f"{type(migrations).__name__}")
    found = []
    for position, migration in enumerate(migrations, 1):
        if not isinstance(migration, Mapping):
            raise TypeError(f"migration #{position} must be a mapping with version, name and sql, not "
                            f"{type(migration).__name__}")
        found += _migration_violations(migration, contract_allowed)
    return found


def format_violation(violation):
    name = violation.get("name")
    label = name if name not in (None, "") else f"version {violation.get('version')}"
    return f"migration {label}: `{violation['statement']}` {violation['reason']}"


def check(migrations, contract_allowed=False):
    """Raise MigrationPolicyError listing every violation, one per line; return None when clean."""
    found = violations(migrations, contract_allowed)
    if found:
        raise MigrationPolicyError("\n".join(format_violation(v) for v in found), found)
