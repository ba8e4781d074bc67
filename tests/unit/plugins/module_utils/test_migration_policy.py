"""The expand-only migration policy, on tables of real-looking MariaDB migrations.

Each table row is a whole migration file. ALLOWED files must give no violation; each REFUSED file
gives exactly the listed findings, in order, named by the reason's "what" (the part before the
first "; "). The app's own migrations must pass. Tokenizer cases show the statements as the
server would run them: comments gone, executable comments kept as code, quotes intact.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from ansible.module_utils.migration_policy import (
    CONTRACT_MARKER, MigrationPolicyError, check, format_violation, is_contract, statements, violations)

REPO = Path(__file__).resolve().parents[4]
MIGRATIONS = REPO / "app" / "migrations"

CONTRACT_REFUSED = ("The migration is marked `-- stackguard: contract`, but contract steps are refused "
                    "while the previous release is still a rollback target (contract_allowed is false).")
UNRECOGNISED = ("unrecognised statement; the policy cannot tell that the previous release keeps working "
                "with it, so it fails closed. Mark the migration as a contract step "
                "(`-- stackguard: contract`) if intended.")


def migration(sql, name="0003_change.sql", version=3):
    return {"version": version, "name": name, "sql": sql}


def found(sql, contract_allowed=False):
    return violations([migration(sql)], contract_allowed=contract_allowed)


def whats(sql, contract_allowed=False):
    return [item["reason"].split("; ", 1)[0] for item in found(sql, contract_allowed)]


ALLOWED = {
    "create-table": """
        CREATE TABLE audit_log (
            id BIGINT UNSIGNED NOT NULL AUTO_INCREMENT PRIMARY KEY,
            event VARCHAR(64) NOT NULL,
            created_at DATETIME(6) NOT NULL DEFAULT CURRENT_TIMESTAMP(6)
        ) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci;
    """,
    "create-table-if-not-exists-keyword-names": """
        CREATE TABLE IF NOT EXISTS `drop` (
            `delete` INT NULL,
            `update` TEXT,
            `truncate` VARCHAR(8) NOT NULL
        ) ENGINE=InnoDB;
    """,
    "create-table-like": "CREATE TABLE IF NOT EXISTS messages_archive LIKE messages;",
    "create-table-as-select": """
        CREATE TABLE user_stats AS
            SELECT sender_id, COUNT(*) AS sent FROM messages GROUP BY sender_id;
    """,
    "create-temporary-table-and-drop-it": """
        CREATE TEMPORARY TABLE tmp_seed (name VARCHAR(64) NOT NULL);
        INSERT INTO tmp_seed (name) VALUES ('admin'), ('support');
        INSERT INTO roles (name) SELECT name FROM tmp_seed;
        DROP TEMPORARY TABLE IF EXISTS tmp_seed;
    """,
    "create-index": "CREATE INDEX idx_messages_created ON messages (created_at);",
    "create-unique-index-if-not-exists": "CREATE UNIQUE INDEX IF NOT EXISTS uq_users_email ON users (email);",
    "create-fulltext-index": "CREATE FULLTEXT INDEX ft_messages_body ON messages (body);",
    "create-index-online-options": "create index idx_sent on messages (sender_id, created_at) algorithm=inplace lock=none;",
    "add-nullable-column": "ALTER TABLE users ADD COLUMN email VARCHAR(255) NULL AFTER username;",
    "add-column-implicitly-nullable": "ALTER TABLE users ADD COLUMN IF NOT EXISTS display_name VARCHAR(128);",
    "add-column-without-column-keyword": "ALTER TABLE users ADD last_login_at DATETIME(6) DEFAULT NULL;",
    "add-not-null-with-default": "ALTER TABLE messages ADD COLUMN is_read TINYINT(1) NOT NULL DEFAULT 0;",
    "add-enum-with-default-and-comment": """
        ALTER TABLE users ADD COLUMN status ENUM('active', 'disabled') NOT NULL DEFAULT 'active'
            COMMENT 'NOT NULL; DROP COLUMN later';
    """,
    "add-not-null-default-expression": """
        ALTER TABLE users ADD COLUMN updated_at DATETIME(6) NOT NULL DEFAULT CURRENT_TIMESTAMP(6)
            ON UPDATE CURRENT_TIMESTAMP(6);
    """,
    "add-set-type-with-default-before-not-null": "ALTER TABLE users ADD COLUMN flags SET('a', 'b') DEFAULT 'a' NOT NULL;",
    "add-generated-column": """
        ALTER TABLE messages ADD COLUMN body_length INT UNSIGNED
            GENERATED ALWAYS AS (CHAR_LENGTH(body)) STORED;
    """,
    "add-virtual-column-short-form": "ALTER TABLE users ADD username_lower VARCHAR(64) AS (LOWER(username)) VIRTUAL;",
    "add-auto-increment-column": "ALTER TABLE legacy_imports ADD COLUMN id BIGINT UNSIGNED NOT NULL AUTO_INCREMENT UNIQUE FIRST;",
    "add-serial-column": "ALTER TABLE legacy_notes ADD COLUMN id SERIAL;",
    "add-column-with-check-inside-parentheses": """
        ALTER TABLE users ADD COLUMN age INT NULL CHECK (age IS NOT NULL AND age > 0);
    """,
    "several-adds-in-one-alter": """
        ALTER TABLE users
            ADD COLUMN email VARCHAR(255) NULL,
            ADD COLUMN locale VARCHAR(16) NOT NULL DEFAULT 'en',
            ADD INDEX idx_users_email (email),
            ALGORITHM=INPLACE, LOCK=NONE;
    """,
    "add-parenthesised-columns": """
        ALTER TABLE users ADD (timezone VARCHAR(64) NULL, theme VARCHAR(16) NOT NULL DEFAULT 'light');
    """,
    "add-index": "ALTER TABLE messages ADD INDEX idx_messages_created (created_at);",
    "add-key-if-not-exists": "ALTER TABLE messages ADD KEY IF NOT EXISTS idx_sender_created (sender_id, created_at);",
    "add-unique-key": "ALTER TABLE users ADD UNIQUE KEY uq_users_email (email);",
    "add-constraint-unique": "ALTER TABLE users ADD CONSTRAINT uq_users_phone UNIQUE (phone);",
    "add-constraint-foreign-key": """
        ALTER TABLE messages ADD CONSTRAINT fk_messages_reply
            FOREIGN KEY (reply_to) REFERENCES messages (id) ON DELETE SET NULL;
    """,
    "add-foreign-key-unnamed": "ALTER TABLE messages ADD FOREIGN KEY (folder_id) REFERENCES folders (id);",
    "add-fulltext": "ALTER TABLE messages ADD FULLTEXT INDEX ft_messages_body (body);",
    "alter-online-wait-qualified-name": "ALTER ONLINE TABLE stackguard.users WAIT 5 ADD COLUMN bio TEXT NULL;",
    "insert-seed-rows": """
        INSERT INTO settings (name, value) VALUES
            ('drop_after_days', '30'),
            ('motd', 'DELETE FROM users; is never run');
    """,
    "insert-ignore": "INSERT IGNORE INTO roles (name) VALUES ('admin');",
    "insert-select": """
        INSERT INTO role_members (user_id, role_id)
        SELECT u.id, r.id FROM users u JOIN roles r ON r.name = 'admin' WHERE u.username = 'root';
    """,
    "create-view": """
        CREATE VIEW inbox AS
            SELECT m.id, s.username AS sender, m.body, m.created_at
            FROM messages m JOIN users s ON s.id = m.sender_id;
    """,
    "create-view-with-definer": """
        CREATE ALGORITHM=MERGE DEFINER=`stackguard`@`localhost` SQL SECURITY INVOKER
            VIEW IF NOT EXISTS active_users AS SELECT id, username FROM users;
    """,
    "create-view-definer-quoted-user": "CREATE DEFINER='app'@'%' VIEW v_ids AS SELECT id FROM users;",
    "session-settings": """
        SET NAMES utf8mb4;
        SET SESSION foreign_key_checks = 0;
        SET @@session.sql_mode = 'STRICT_ALL_TABLES,NO_ZERO_DATE';
        SET time_zone = '+00:00', @seed_user = 'root';
        SET LOCAL innodb_lock_wait_timeout = 5;
    """,
    "set-statement-for-an-expand-step": "SET STATEMENT max_statement_time=600 FOR CREATE INDEX idx_body ON messages (body(32));",
    "comments-and-blank-statements": """
        ;;
        -- DROP TABLE users;
        /* DELETE FROM messages;
           TRUNCATE users; */
        # UPDATE users SET password_hash = '';
        ;
    """,
    "comments-between-tokens": """
        ALTER TABLE users /* DROP COLUMN username, */ ADD COLUMN bio TEXT NULL -- , DROP password_hash
        ;
    """,
    "executable-comments-that-only-expand": """
        /*!40101 SET NAMES utf8mb4 */;
        /*!40014 SET @OLD_FOREIGN_KEY_CHECKS=@@FOREIGN_KEY_CHECKS, FOREIGN_KEY_CHECKS=0 */;
        /*M!100301 ALTER TABLE users ADD COLUMN IF NOT EXISTS nickname VARCHAR(64) NULL */;
    """,
    "mixed-case-and-newlines": "alter\ttable\n`users`\n  Add\n CoLuMn\n nickname varchar(64)\n null\n;",
    "quotes-holding-semicolons-and-keywords": r"""
        INSERT INTO settings (name, value) VALUES ('banner', 'It\'s down; DROP TABLE users; -- no');
        INSERT INTO settings (name, value) VALUES ("quote", "say ""hi""; TRUNCATE users");
        INSERT INTO settings (name, value) VALUES ('path', 'C:\\temp\\'), ('x', '/* DELETE */');
    """,
    "backticks-holding-semicolons-and-keywords": "CREATE TABLE `odd;name` (`DROP TABLE x;` INT NULL, `a``b` INT NULL);",
    "no-final-semicolon": "CREATE INDEX idx_messages_sender_created ON messages (sender_id, created_at)",
    "crlf-line-endings": "-- 0003: email.\r\nALTER TABLE users\r\n  ADD COLUMN email VARCHAR(255) NULL;\r\n",
    "byte-order-mark": "\ufeff-- 0003: email.\nALTER TABLE users ADD COLUMN email VARCHAR(255) NULL;\n",
    "unicode-seed": "INSERT INTO settings (name, value) VALUES ('greeting', 'caf\u00e9 \u2615; DROP?');",
    "double-dash-followed-by-tab-is-a-comment": "CREATE INDEX i ON t (c); --\tDROP TABLE t;\n",
}

# name -> (sql, the "what" of every finding, in order)
REFUSED = {
    "drop-table": ("DROP TABLE IF EXISTS messages_old;", ["drops a table"]),
    "drop-tables-mixed-case": ("drop table `messages_old`, `users_old`;", ["drops a table"]),
    "drop-index": ("DROP INDEX idx_messages_recipient ON messages;", ["drops an index"]),
    "drop-view": ("DROP VIEW IF EXISTS inbox;", ["drops a view"]),
    "drop-database": ("DROP DATABASE stackguard;", ["drops a database"]),
    "drop-schema": ("DROP SCHEMA IF EXISTS stackguard;", ["drops a database"]),
    "drop-trigger": ("DROP TRIGGER IF EXISTS trg_users_audit;", ["drops a trigger"]),
    "alter-drop-column": ("ALTER TABLE users DROP COLUMN name;", ["drops a column"]),
    "alter-drop-without-column-keyword": ("ALTER TABLE users DROP IF EXISTS nickname;", ["drops a column"]),
    "alter-drop-index": ("ALTER TABLE messages DROP INDEX idx_messages_sender;", ["drops an index"]),
    "alter-drop-key": ("ALTER TABLE users DROP KEY uq_users_username;", ["drops an index"]),
    "alter-drop-primary-key": ("ALTER TABLE users DROP PRIMARY KEY;", ["drops the primary key"]),
    "alter-drop-foreign-key": ("ALTER TABLE messages DROP FOREIGN KEY fk_messages_sender;", ["drops a constraint"]),
    "alter-drop-constraint": ("ALTER TABLE users DROP CONSTRAINT chk_age;", ["drops a constraint"]),
    "alter-drop-partition": ("ALTER TABLE events DROP PARTITION p2019;", ["drops a partition"]),
    "rename-table": ("RENAME TABLE messages TO messages_old, messages_new TO messages;", ["renames a table"]),
    "alter-rename-to": ("ALTER TABLE messages RENAME TO message;", ["renames a table"]),
    "alter-rename-as": ("ALTER TABLE messages RENAME AS message;", ["renames a table"]),
    "alter-rename-column": ("ALTER TABLE users RENAME COLUMN username TO login;", ["renames a column"]),
    "alter-rename-index": ("ALTER TABLE messages RENAME INDEX idx_a TO idx_b;", ["renames an index"]),
    "change": ("ALTER TABLE users CHANGE username login VARCHAR(64) NOT NULL;", ["changes a column (CHANGE)"]),
    "change-column-same-name": ("ALTER TABLE users CHANGE COLUMN username username VARCHAR(32) NOT NULL;",
                                ["changes a column (CHANGE)"]),
    "modify": ("ALTER TABLE messages MODIFY body VARCHAR(1000) NOT NULL;", ["modifies a column (MODIFY)"]),
    "modify-column": ("alter table messages modify column body text null;", ["modifies a column (MODIFY)"]),
    "alter-column-drop-default": ("ALTER TABLE users ALTER COLUMN created_at DROP DEFAULT;",
                                  ["drops a column's default"]),
    "alter-set-default": ("ALTER TABLE messages ALTER is_read SET DEFAULT 1;", ["changes a column's default"]),
    "truncate-table": ("TRUNCATE TABLE messages;", ["empties a table"]),
    "truncate": ("truncate messages;", ["empties a table"]),
    "delete": ("DELETE FROM messages WHERE created_at < '2020-01-01';", ["deletes rows"]),
    "update": ("UPDATE users SET username = LOWER(username);", ["rewrites existing rows"]),
    "replace-into": ("REPLACE INTO settings (name, value) VALUES ('motd', 'hi');", ["replaces rows (REPLACE)"]),
    "insert-on-duplicate-key-update": (
        "INSERT INTO settings (name, value) VALUES ('motd', 'hi') ON DUPLICATE KEY UPDATE value = VALUES(value);",
        ["updates existing rows (INSERT ... ON DUPLICATE KEY UPDATE)"]),
    "add-not-null-without-default": ("ALTER TABLE users ADD COLUMN email VARCHAR(255) NOT NULL;",
                                     ["adds a NOT NULL column without a DEFAULT"]),
    "add-not-null-set-default-is-not-a-default": (
        "ALTER TABLE messages ADD COLUMN folder_id BIGINT UNSIGNED NOT NULL "
        "REFERENCES folders (id) ON DELETE SET DEFAULT;",
        ["adds a NOT NULL column without a DEFAULT"]),
    "add-primary-key-column": ("ALTER TABLE legacy ADD COLUMN code CHAR(8) PRIMARY KEY;",
                               ["adds a NOT NULL column without a DEFAULT"]),
    "add-not-null-in-parenthesised-columns": ("ALTER TABLE users ADD (a INT NULL, b INT NOT NULL);",
                                              ["adds a NOT NULL column without a DEFAULT"]),
    "add-primary-key": ("ALTER TABLE legacy ADD PRIMARY KEY (id);", ["adds a primary key"]),
    "add-constraint-primary-key": ("ALTER TABLE legacy ADD CONSTRAINT pk_legacy PRIMARY KEY (id);",
                                   ["adds a primary key"]),
    "add-check": ("ALTER TABLE users ADD CONSTRAINT chk_name CHECK (CHAR_LENGTH(username) >= 3);",
                  ["adds a CHECK constraint"]),
    "engine": ("ALTER TABLE messages ENGINE=MyISAM;", ["changes the table's storage engine"]),
    "convert-charset": ("ALTER TABLE users CONVERT TO CHARACTER SET latin1;", ["converts the table's character set"]),
    "alter-ignore": ("ALTER IGNORE TABLE users ADD UNIQUE (email);", ["uses ALTER IGNORE TABLE"]),
    "create-or-replace-table": ("CREATE OR REPLACE TABLE users (id INT);", ["replaces a table (CREATE OR REPLACE)"]),
    "create-or-replace-index": ("CREATE OR REPLACE INDEX i ON t (c);", ["replaces an index (CREATE OR REPLACE)"]),
    "create-or-replace-view": ("CREATE OR REPLACE VIEW inbox AS SELECT id FROM messages;", ["redefines a view"]),
    "alter-view": ("ALTER DEFINER=CURRENT_USER() VIEW inbox AS SELECT id FROM messages;", ["redefines a view"]),
    "set-global": ("SET GLOBAL max_connections = 500;", ["sets a global server variable"]),
    "set-global-at-at": ("SET @@global.sql_mode = '';", ["sets a global server variable"]),
    "set-global-second-assignment": ("SET sql_mode = '', GLOBAL event_scheduler = ON;", ["sets a global server variable"]),
    "set-statement-for-a-drop": ("SET STATEMENT lock_wait_timeout=5 FOR DROP TABLE messages_old;", ["drops a table"]),
    # Unrecognised statements and clauses fail closed.
    "grant": ("GRANT SELECT ON stackguard.* TO 'app'@'%';", ["unrecognised statement"]),
    "select": ("SELECT COUNT(*) FROM users;", ["unrecognised statement"]),
    "transaction": ("START TRANSACTION; INSERT INTO t (a) VALUES (1); COMMIT;",
                    ["unrecognised statement", "unrecognised statement"]),
    "create-trigger": (
        "CREATE TRIGGER trg_users_lower BEFORE INSERT ON users FOR EACH ROW SET NEW.username = LOWER(NEW.username);",
        ["unrecognised statement"]),
    "create-trigger-with-definer-named-view": (
        "CREATE DEFINER=view TRIGGER trg BEFORE INSERT ON users FOR EACH ROW SET NEW.id = NEW.id;",
        ["unrecognised statement"]),
    "create-database": ("CREATE DATABASE reports;", ["unrecognised statement"]),
    "call": ("CALL purge_old_messages();", ["unrecognised statement"]),
    "lock-tables": ("LOCK TABLES users WRITE;", ["unrecognised statement"]),
    "optimize": ("OPTIMIZE TABLE messages;", ["unrecognised statement"]),
    "alter-database": ("ALTER DATABASE stackguard CHARACTER SET latin1;", ["unrecognised statement"]),
    "alter-table-nothing": ("ALTER TABLE users;", ["unrecognised statement"]),
    "alter-order-by": ("ALTER TABLE users ORDER BY id;", ["unrecognised ALTER TABLE clause"]),
    "alter-default-charset": ("ALTER TABLE users DEFAULT CHARSET=latin1;", ["unrecognised ALTER TABLE clause"]),
    "alter-force": ("ALTER TABLE users FORCE;", ["unrecognised ALTER TABLE clause"]),
    "alter-partition-by": ("ALTER TABLE events PARTITION BY HASH(id) PARTITIONS 4;",
                           ["unrecognised ALTER TABLE clause"]),
    "add-column-then-partitioning": ("ALTER TABLE events ADD COLUMN x INT NULL PARTITION BY HASH(id) PARTITIONS 4;",
                                     ["unrecognised ALTER TABLE clause (partitioning)"]),
    "add-partition": ("ALTER TABLE events ADD PARTITION (PARTITION p2030 VALUES LESS THAN (2031));",
                      ["unrecognised ALTER TABLE clause"]),
    "add-system-versioning": ("ALTER TABLE users ADD SYSTEM VERSIONING;", ["unrecognised ALTER TABLE clause"]),
    "alter-index-ignored": ("ALTER TABLE users ALTER INDEX uq_users_username IGNORED;",
                            ["unrecognised ALTER TABLE clause"]),
    "delimiter-and-procedure": (
        # Split on `;` as the file is, not as DELIMITER would: both halves are refused either way.
        "DELIMITER //\nCREATE PROCEDURE p() BEGIN DELETE FROM users; END //\nDELIMITER ;\n",
        ["starts with the mariadb client command `delimiter`", "unrecognised statement"]),
    # Several clauses: each refused clause is named.
    "several-clauses": (
        "ALTER TABLE users ADD COLUMN email VARCHAR(255) NULL, DROP COLUMN name, ADD c INT NOT NULL, "
        "MODIFY username VARCHAR(32) NOT NULL;",
        ["drops a column (`DROP COLUMN name`)", "adds a NOT NULL column without a DEFAULT (`ADD c INT NOT NULL`)",
         "modifies a column (MODIFY) (`MODIFY username VARCHAR(32) NOT NULL`)"]),
    # Comments hide nothing and split nothing.
    "comment-inside-keywords": ("DROP/* harmless? */TABLE users;", ["drops a table"]),
    "line-comment-before-drop": ("ALTER TABLE users -- add a column\n  DROP COLUMN name;", ["drops a column"]),
    "hash-comment-before-delete": ("# cleanup\nDELETE FROM messages;", ["deletes rows"]),
    "double-dash-without-space-is-code": ("DELETE FROM messages WHERE id = 5--1;", ["deletes rows"]),
    # Executable comments are code.
    "executable-comment-drop": ("/*!50001 DROP VIEW IF EXISTS inbox */;", ["drops a view"]),
    "mariadb-executable-comment": ("/*M!100400 ALTER TABLE users DROP COLUMN name */;", ["drops a column"]),
    "executable-comment-inside-statement": ("ALTER TABLE users ADD COLUMN x INT NULL /*!, DROP COLUMN name */;",
                                            ["drops a column (`DROP COLUMN name`)"]),
    # Quotes hide keywords but not the statement after them.
    "statement-after-a-quoted-semicolon": ("INSERT INTO t (v) VALUES ('a;b'); DELETE FROM t;", ["deletes rows"]),
    "statement-after-escaped-quote": (r"INSERT INTO t (v) VALUES ('it\'s; fine'); UPDATE t SET v = '';",
                                      ["rewrites existing rows"]),
    # The deployer's own table, the client's own commands and broken files are refused even in a contract.
    "touches-schema-migrations": ("INSERT INTO schema_migrations (version, name, applied_at) VALUES (3, 'x', NOW(6));",
                                  ["touches schema_migrations"]),
    "alters-schema-migrations": ("ALTER TABLE `schema_migrations` ADD COLUMN note TEXT NULL;",
                                 ["touches schema_migrations"]),
    "client-shell-command": ("CREATE INDEX i ON t (c);\n\\! echo this runs in a shell\n",
                             ["contains the mariadb client command `\\!`", "unrecognised statement"]),
    "client-system-command": ("SYSTEM echo this runs in a shell;", ["starts with the mariadb client command `system`"]),
    "client-source-command": ("source /tmp/other.sql\n", ["starts with the mariadb client command `source`"]),
    "client-use-command": ("USE stackguard;", ["starts with the mariadb client command `use`"]),
    "unterminated-quote": ("INSERT INTO t (v) VALUES ('oops);\nDROP TABLE users;\n", ["has an unterminated ' quote"]),
    "unterminated-executable-comment": ("/*!40101 SET NAMES utf8mb4;\n", ["has an unterminated /*! comment"]),
    "unterminated-comment": ("CREATE INDEX i ON t (c); /* no end\nDROP TABLE users;\n",
                             ["has an unterminated /* comment"]),
}


@pytest.mark.parametrize("sql", ALLOWED.values(), ids=ALLOWED.keys())
def test_expand_steps_are_allowed(sql):
    assert found(sql) == []
    check([migration(sql)])


@pytest.mark.parametrize("sql, expected", REFUSED.values(), ids=REFUSED.keys())
def test_destructive_or_unknown_steps_are_refused(sql, expected):
    assert whats(sql) == expected


def test_the_tables_are_big_enough_to_mean_something():
    assert len(ALLOWED) >= 45 and len(REFUSED) >= 80


# ------------------------------------------------------------------------------------- the app
def app_migrations():
    # Exactly what the release_migrations lookup returns for app/.
    return [{"version": int(path.name[:4]), "name": path.name, "sql": path.read_text(encoding="utf-8")}
            for path in sorted(MIGRATIONS.glob("*.sql"))]


def test_the_apps_own_migrations_pass():
    migrations = app_migrations()
    assert [m["name"] for m in migrations][:2] == ["0001_create_users.sql", "0002_create_messages.sql"]
    assert violations(migrations) == []
    assert check(migrations) is None
    for item in migrations:
        assert not is_contract(item["sql"])
        assert [s.split(" (")[0] for s in statements(item["sql"])] == [
            f"CREATE TABLE IF NOT EXISTS {item['name'][5:-4].split('_', 1)[1]}"]


# --------------------------------------------------------------------------------- the tokenizer
TOKENIZER = {
    "comments-go": ("-- head\nCREATE /* a */ INDEX i # b\nON t (c);", ["CREATE INDEX i ON t (c)"]),
    "blank-and-comment-only-statements-go": (";; -- x\n; /* y */ ;", []),
    "quotes-stay": ("INSERT INTO t VALUES ('a;b', \"c;d\"); SELECT `e;f`;",
                    ["INSERT INTO t VALUES ('a;b', \"c;d\")", "SELECT `e;f`"]),
    "backslash-escape": (r"SELECT 'a\';b'; SELECT 2;", [r"SELECT 'a\';b'", "SELECT 2"]),
    "doubled-quotes": ("SELECT 'a'';b', \"c\"\";d\", `e``;f`; SELECT 2;",
                       ["SELECT 'a'';b', \"c\"\";d\", `e``;f`", "SELECT 2"]),
    "double-dash-needs-whitespace": ("SELECT 5--1;\nSELECT 5 -- 1\n;", ["SELECT 5--1", "SELECT 5"]),
    "double-dash-at-end": ("SELECT 1 --", ["SELECT 1"]),
    "comment-markers-in-quotes": ("SELECT '-- no', '# no', '/* no */';", ["SELECT '-- no', '# no', '/* no */'"]),
    "executable-comments-are-code": ("/*!40101 SET NAMES utf8 */; /*M!100101 SET @a = 1*/; /*!SET @b=2*/;",
                                     ["SET NAMES utf8", "SET @a = 1", "SET @b=2"]),
    "semicolon-in-executable-comment-splits": ("/*!40101 SET @a=1; SET @b=2 */;", ["SET @a=1", "SET @b=2"]),
    "whitespace-folded": ("ALTER\tTABLE\r\n  users\n\n ADD  x INT;", ["ALTER TABLE users ADD x INT"]),
}


@pytest.mark.parametrize("sql, expected", TOKENIZER.values(), ids=TOKENIZER.keys())
def test_statements_as_the_server_runs_them(sql, expected):
    assert statements(sql) == expected


def test_a_multi_statement_file_reports_each_refused_statement_in_order():
    sql = """-- 0003: split names.
CREATE TABLE IF NOT EXISTS profiles (user_id BIGINT UNSIGNED NOT NULL PRIMARY KEY, bio TEXT NULL);
INSERT INTO profiles (user_id) SELECT id FROM users;
UPDATE users SET username = TRIM(username);
ALTER TABLE users ADD COLUMN email VARCHAR(255) NULL;
ALTER TABLE users DROP COLUMN legacy_name;
"""
    assert [(v["statement"], v["reason"].split(";")[0]) for v in found(sql)] == [
        ("UPDATE users SET username = TRIM(username)", "rewrites existing rows"),
        ("ALTER TABLE users DROP COLUMN legacy_name", "drops a column"),
    ]


def test_an_unterminated_executable_comment_shows_where_it_opened():
    (item,) = found("CREATE INDEX i ON t (c);\n/*!40101 SET NAMES utf8mb4;\n")
    assert item["statement"] == "/*!40101 SET NAMES utf8mb4;"


def test_the_statement_is_folded_and_cut_at_120_characters():
    columns = ", ".join(f"c{i} INT" for i in range(40))
    sql = f"CREATE OR REPLACE TABLE wide (\n    {columns}\n);"
    (item,) = found(sql)
    assert item["statement"] == ("CREATE OR REPLACE TABLE wide ( " + columns)[:120]
    assert len(item["statement"]) == 120


# ------------------------------------------------------------------------------------- messages
def test_the_message_names_the_migration_statement_what_and_why():
    with pytest.raises(MigrationPolicyError) as error:
        check([migration("ALTER TABLE users DROP COLUMN name;", name="0003_drop_name.sql")])
    assert str(error.value) == (
        "migration 0003_drop_name.sql: `ALTER TABLE users DROP COLUMN name` drops a column; the previous "
        "release may still read it. Expand first, and drop it in a later release marked "
        "`-- stackguard: contract`.")
    assert error.value.violations == [{
        "version": 3, "name": "0003_drop_name.sql", "statement": "ALTER TABLE users DROP COLUMN name",
        "reason": "drops a column; the previous release may still read it. Expand first, and drop it in a "
                  "later release marked `-- stackguard: contract`."}]


def test_the_message_lists_every_violation_of_every_migration():
    migrations = [
        migration("CREATE TABLE t (a INT);", name="0003_create_t.sql", version=3),
        migration("TRUNCATE t;\nGRANT ALL ON *.* TO 'x'@'%';", name="0004_reset.sql", version=4),
        migration("ALTER TABLE t ADD b INT NOT NULL;", name="0005_add_b.sql", version=5),
    ]
    with pytest.raises(MigrationPolicyError) as error:
        check(migrations)
    assert str(error.value).splitlines() == [
        "migration 0004_reset.sql: `TRUNCATE t` empties a table; a rollback cannot bring its rows back. "
        "Do it in a later release marked `-- stackguard: contract`, once the previous release is no "
        "longer a rollback target.",
        f"migration 0004_reset.sql: `GRANT ALL ON *.* TO 'x'@'%'` {UNRECOGNISED}",
        "migration 0005_add_b.sql: `ALTER TABLE t ADD b INT NOT NULL` adds a NOT NULL column without a "
        "DEFAULT; the previous release's inserts do not set it and would fail. Give it a DEFAULT or let it "
        "be NULL, and tighten it in a later release marked `-- stackguard: contract`.",
    ]
    assert [v["version"] for v in error.value.violations] == [4, 4, 5]


@pytest.mark.parametrize("sql", [spec[0] for spec in REFUSED.values()], ids=REFUSED.keys())
def test_every_reason_is_one_line_saying_what_and_why(sql):
    for item in found(sql):
        reason = item["reason"]
        assert "\n" not in reason and "\n" not in item["statement"]
        what, rest = reason.split("; ", 1)
        assert what and rest.endswith(".") and len(reason) < 400
        assert "`-- stackguard: contract`" in reason or "Close the" in reason or "Leave the table" in reason \
            or "Remove it" in reason or "stack manifest" in reason


def test_a_migration_without_a_name_is_named_by_version():
    with pytest.raises(MigrationPolicyError, match=r"^migration version 7: `DELETE FROM t` deletes rows;"):
        check([{"version": 7, "sql": "DELETE FROM t;"}])
    assert format_violation({"version": 7, "name": "", "statement": "X", "reason": "r."}) == "migration version 7: `X` r."


# ------------------------------------------------------------------------------------- contract
CONTRACT_SQL = f"""{CONTRACT_MARKER}
-- 0009: users.name was replaced by users.display_name in 0006.
ALTER TABLE users DROP COLUMN name;
UPDATE users SET locale = 'en' WHERE locale IS NULL;
ALTER TABLE users MODIFY locale VARCHAR(16) NOT NULL DEFAULT 'en';
OPTIMIZE TABLE users;
CREATE INDEX idx_users_locale ON users (locale);
"""


def test_a_contract_migration_runs_once_contract_is_allowed():
    assert is_contract(CONTRACT_SQL)
    assert found(CONTRACT_SQL, contract_allowed=True) == []
    check([migration(CONTRACT_SQL)], contract_allowed=True)


def test_a_contract_migration_is_refused_while_the_previous_release_is_a_rollback_target():
    items = found(CONTRACT_SQL)
    assert [(v["statement"], v["reason"]) for v in items] == [
        ("ALTER TABLE users DROP COLUMN name",
         f"drops a column; the previous release may still read it. {CONTRACT_REFUSED}"),
        ("UPDATE users SET locale = 'en' WHERE locale IS NULL",
         "rewrites existing rows; the previous release may still write them the old way, leaving a mix a "
         f"rollback cannot undo. {CONTRACT_REFUSED}"),
        ("ALTER TABLE users MODIFY locale VARCHAR(16) NOT NULL DEFAULT 'en'",
         "modifies a column (MODIFY); it may narrow its type or make it stricter, and the previous release "
         f"may write values it no longer accepts. {CONTRACT_REFUSED}"),
        ("OPTIMIZE TABLE users",
         "unrecognised statement; the policy cannot tell that the previous release keeps working with it, "
         f"so it fails closed. {CONTRACT_REFUSED}"),
    ]


def test_without_the_marker_contract_allowed_changes_nothing():
    sql = CONTRACT_SQL.split("\n", 1)[1]
    assert not is_contract(sql)
    assert found(sql, contract_allowed=True) == found(sql)
    assert len(found(sql)) == 4
    assert all("Mark the migration" in v["reason"] or "later release marked" in v["reason"] for v in found(sql))


@pytest.mark.parametrize("first_line, contract", [
    ("-- stackguard: contract", True),
    ("--   StackGuard:Contract  ", True),
    ("-- stackguard: contract\r", True),
    ("\ufeff-- stackguard: contract", True),
    ("--\tstackguard :\tcontract", True),
    ("--stackguard: contract", False),  # not a comment to MariaDB: `--` needs a space after it
    ("-- stackguard: contract, but only the index", False),
    ("# stackguard: contract", False),
    ("/* stackguard: contract */", False),
    ("-- stackguard: expand", False),
    ("", False),
])
def test_the_contract_marker(first_line, contract):
    assert is_contract(f"{first_line}\nALTER TABLE t DROP COLUMN c;\n") is contract
    assert (found(f"{first_line}\nALTER TABLE t DROP COLUMN c;\n", contract_allowed=True) == []) is contract


def test_the_marker_counts_only_on_the_first_line():
    sql = f"-- 0009: drop users.name.\n{CONTRACT_MARKER}\nALTER TABLE users DROP COLUMN name;\n"
    assert not is_contract(sql)
    assert whats(sql, contract_allowed=True) == ["drops a column"]


@pytest.mark.parametrize("name", ["touches-schema-migrations", "client-shell-command", "client-system-command",
                                  "client-source-command", "delimiter-and-procedure", "unterminated-quote",
                                  "unterminated-executable-comment", "unterminated-comment"])
def test_some_things_stay_refused_in_an_allowed_contract(name):
    sql, expected = REFUSED[name]
    kept = [what for what in expected if not what.startswith("unrecognised")]
    assert whats(f"{CONTRACT_MARKER}\n{sql}", contract_allowed=True) == kept


# ---------------------------------------------------------------------------------------- input
@pytest.mark.parametrize("value", ["false", "true", 0, 1, None])
def test_contract_allowed_must_be_a_real_boolean(value):
    # "false" from `-e app_deploy_allow_contract=false` is truthy: refuse it rather than guess.
    with pytest.raises(TypeError, match="contract_allowed must be true or false"):
        violations([migration("SELECT 1;")], contract_allowed=value)


@pytest.mark.parametrize("migrations, message", [
    ("ALTER TABLE t DROP c;", "migrations must be a list of {version, name, sql}, not str"),
    ({"version": 1, "name": "x", "sql": "SELECT 1;"}, "migrations must be a list of {version, name, sql}, not dict"),
    (None, "migrations must be a list of {version, name, sql}, not NoneType"),
    (["DROP TABLE t;"], "migration #1 must be a mapping with version, name and sql, not str"),
    ([{"version": 1, "name": "0001_x.sql", "sql": None}], "migration 0001_x.sql: sql must be text, not NoneType"),
    ([{"version": 2, "name": "0002_x.sql"}], "migration 0002_x.sql: sql must be text, not NoneType"),
    ([{"version": 3, "sql": b"DROP TABLE t;"}], "migration version 3: sql must be text, not bytes"),
])
def test_malformed_input_is_a_type_error(migrations, message):
    with pytest.raises(TypeError) as error:
        violations(migrations)
    assert str(error.value) == message


def test_an_empty_list_and_tuples_are_fine():
    assert violations([]) == []
    assert violations((migration("CREATE INDEX i ON t (c);"),)) == []


def test_arbitrary_text_never_breaks_the_checker():
    # Fragments that end strings, comments and clauses at awkward places: every result is a list of
    # plain items, and a fragment soup with a DROP in code never passes.
    import random
    pieces = ["'", '"', "`", ";", "--", "-- ", "#", "/*", "*/", "/*!", "/*M!1", "\\", "(", ")", ",", "=", "@",
              " ", "\n", "x", "DROP", "ALTER", "TABLE", "ADD", "COLUMN", "NOT", "NULL", "DEFAULT", "SET",
              "FOR", "STATEMENT", "CREATE", "OR", "REPLACE", "DEFINER", "CONSTRAINT", "SQL", "SECURITY",
              "WAIT", "IF", "EXISTS", "PARTITION", "INDEX", "VIEW", "INSERT", "ON", "DUPLICATE", "KEY"]
    rng = random.Random(20240501)
    for _ in range(3000):
        sql = "".join(rng.choice(pieces) for _ in range(rng.randint(0, 30)))
        for contract_allowed in (False, True):
            for item in violations([migration(sql)], contract_allowed=contract_allowed):
                assert set(item) == {"version", "name", "statement", "reason"}
                assert isinstance(item["statement"], str) and len(item["statement"]) <= 120
                assert isinstance(item["reason"], str) and "\n" not in item["reason"]
        assert found(f"{sql}\n;DROP TABLE t;") != []
