<?php

declare(strict_types=1);

namespace StackGuard;

use PDO;
use PDOException;

/**
 * Lazily opened PDO connection to MariaDB.
 */
final class Database
{
    public const CONNECT_TIMEOUT_SECONDS = 2;

    /** @var array{host: string, port: int, name: string, user: string, password: string} */
    private array $settings;

    private ?PDO $pdo = null;

    /**
     * @param array{host: string, port: int, name: string, user: string, password: string} $settings
     */
    public function __construct(array $settings)
    {
        $this->settings = $settings;
    }

    /**
     * @throws DatabaseException when the server cannot be reached
     */
    public function pdo(): PDO
    {
        if ($this->pdo === null) {
            $this->pdo = $this->connect();
        }
        return $this->pdo;
    }

    private function connect(): PDO
    {
        $s = $this->settings;
        $dsn = sprintf('mysql:host=%s;port=%d;dbname=%s;charset=utf8mb4', $s['host'], $s['port'], $s['name']);
        try {
            return new PDO($dsn, $s['user'], $s['password'], [
                PDO::ATTR_ERRMODE => PDO::ERRMODE_EXCEPTION,
                PDO::ATTR_DEFAULT_FETCH_MODE => PDO::FETCH_ASSOC,
                PDO::ATTR_EMULATE_PREPARES => false,
                PDO::ATTR_TIMEOUT => self::CONNECT_TIMEOUT_SECONDS,
            ]);
        } catch (PDOException $e) {
            $code = '';
            if (preg_match('/\[(\d{4})\]/', $e->getMessage(), $m) === 1) {
                $code = $m[1];
            }
            // The driver message names host and user but never the password.
            throw new DatabaseException(
                sprintf('cannot connect to database %s at %s:%d: %s', $s['name'], $s['host'], $s['port'], $e->getMessage()),
                $code
            );
        }
    }

    /**
     * Server version string, e.g. "10.11.6-MariaDB-0+deb12u1".
     */
    public function serverVersion(): string
    {
        $version = $this->pdo()->query('SELECT VERSION()')->fetchColumn();
        return is_string($version) ? $version : '';
    }

    /**
     * MAX(version) from schema_migrations; 0 when the table is missing or empty.
     */
    public function schemaVersion(): int
    {
        $pdo = $this->pdo();
        $exists = $pdo->query(
            "SELECT COUNT(*) FROM information_schema.TABLES"
            . " WHERE TABLE_SCHEMA = DATABASE() AND TABLE_NAME = 'schema_migrations'"
        )->fetchColumn();
        if ((int) $exists === 0) {
            return 0;
        }
        $max = $pdo->query('SELECT MAX(version) FROM schema_migrations')->fetchColumn();
        return $max === null || $max === false ? 0 : (int) $max;
    }
}
