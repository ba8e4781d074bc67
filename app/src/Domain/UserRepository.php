<?php

declare(strict_types=1);

namespace StackGuard\Domain;

use PDO;
use PDOException;

/**
 * Table users: id, username (unique, case-insensitive collation),
 * password_hash, created_at.
 */
final class UserRepository
{
    /**
     * A bcrypt hash of a random string nobody knows, verified against when the
     * username does not exist so that both cases take the same time.
     */
    private const DUMMY_HASH = '$2y$10$dDFYg.VZIMRryvf5XI8Nruq2P9gzVC3j.kGFMZn5rbHN8gukGZZsi';

    private PDO $pdo;

    public function __construct(PDO $pdo)
    {
        $this->pdo = $pdo;
    }

    /**
     * @return int the new user id
     * @throws DuplicateUsernameException
     */
    public function create(string $username, string $password): int
    {
        $hash = password_hash($password, PASSWORD_DEFAULT);
        $statement = $this->pdo->prepare(
            'INSERT INTO users (username, password_hash, created_at) VALUES (?, ?, UTC_TIMESTAMP(6))'
        );
        try {
            $statement->execute([$username, $hash]);
        } catch (PDOException $e) {
            $info = $e->errorInfo;
            if (is_array($info) && isset($info[1]) && (int) $info[1] === 1062) {
                throw new DuplicateUsernameException(sprintf('username %s is taken', $username));
            }
            throw $e;
        }
        return (int) $this->pdo->lastInsertId();
    }

    /**
     * @return array{id: int, username: string}|null
     */
    public function findByUsername(string $username): ?array
    {
        $row = $this->fetchRow('SELECT id, username FROM users WHERE username = ?', [$username]);
        return $row === null ? null : ['id' => (int) $row['id'], 'username' => (string) $row['username']];
    }

    /**
     * @return array{id: int, username: string}|null
     */
    public function findById(int $id): ?array
    {
        $row = $this->fetchRow('SELECT id, username FROM users WHERE id = ?', [$id]);
        return $row === null ? null : ['id' => (int) $row['id'], 'username' => (string) $row['username']];
    }

    /**
     * The user when the password matches, otherwise null.
     *
     * @return array{id: int, username: string}|null
     */
    public function authenticate(string $username, string $password): ?array
    {
        $row = null;
        if (Validator::usernameError($username) === null) {
            $row = $this->fetchRow('SELECT id, username, password_hash FROM users WHERE username = ?', [$username]);
        }
        if ($row === null || strpos($password, "\0") !== false) {
            password_verify($password, self::DUMMY_HASH);
            return null;
        }
        $hash = (string) $row['password_hash'];
        if (!password_verify($password, $hash)) {
            return null;
        }
        if (password_needs_rehash($hash, PASSWORD_DEFAULT)) {
            $update = $this->pdo->prepare('UPDATE users SET password_hash = ? WHERE id = ?');
            $update->execute([password_hash($password, PASSWORD_DEFAULT), (int) $row['id']]);
        }
        return ['id' => (int) $row['id'], 'username' => (string) $row['username']];
    }

    /**
     * @param array<int, string|int> $params
     * @return array<string, mixed>|null
     */
    private function fetchRow(string $sql, array $params): ?array
    {
        $statement = $this->pdo->prepare($sql);
        $statement->execute($params);
        $row = $statement->fetch(PDO::FETCH_ASSOC);
        $statement->closeCursor();
        return is_array($row) ? $row : null;
    }
}
