<?php

declare(strict_types=1);

namespace StackGuard;

/**
 * Release metadata.
 *
 * The build writes release.json at the release root:
 *   {"version": "1.2.0", "schema_version": 2, "built_at": "..."}
 * Without it (running from source) the version is "dev" and the expected
 * schema version is the highest migration number found in migrations/.
 */
final class Release
{
    private string $version;

    private int $expectedSchema;

    private ?string $builtAt;

    private ?string $error;

    private function __construct(string $version, int $expectedSchema, ?string $builtAt, ?string $error)
    {
        $this->version = $version;
        $this->expectedSchema = $expectedSchema;
        $this->builtAt = $builtAt;
        $this->error = $error;
    }

    public static function load(string $root): self
    {
        $file = $root . '/release.json';
        if (!is_file($file)) {
            return new self('dev', self::highestMigration($root . '/migrations'), null, null);
        }

        $content = @file_get_contents($file);
        $data = null;
        if ($content !== false) {
            try {
                $data = json_decode($content, true, 16, JSON_THROW_ON_ERROR);
            } catch (\JsonException $e) {
                $data = null;
            }
        }
        if (!is_array($data) || !isset($data['version']) || !is_string($data['version']) || $data['version'] === '') {
            error_log(sprintf('stackguard: %s is unreadable or malformed (need a "version" string)', $file));
            return new self('unknown', self::highestMigration($root . '/migrations'), null, 'release.json is unreadable or malformed');
        }

        $expected = null;
        if (isset($data['schema_version'])) {
            if (is_int($data['schema_version']) && $data['schema_version'] >= 0) {
                $expected = $data['schema_version'];
            } elseif (is_string($data['schema_version']) && preg_match('/\A[0-9]{1,9}\z/', $data['schema_version']) === 1) {
                $expected = (int) $data['schema_version'];
            }
        }
        if ($expected === null) {
            error_log(sprintf('stackguard: %s has no valid "schema_version"; using migrations/', $file));
            $expected = self::highestMigration($root . '/migrations');
        }
        $builtAt = isset($data['built_at']) && is_string($data['built_at']) ? $data['built_at'] : null;

        return new self($data['version'], $expected, $builtAt, null);
    }

    /**
     * Highest NNNN of the files migrations/NNNN_description.sql (0 if none).
     */
    public static function highestMigration(string $dir): int
    {
        $highest = 0;
        $files = glob($dir . '/*.sql');
        if ($files === false) {
            return 0;
        }
        foreach ($files as $file) {
            if (preg_match('/\A(\d{4,})_[A-Za-z0-9_.-]+\.sql\z/', basename($file), $m) === 1) {
                $highest = max($highest, (int) $m[1]);
            }
        }
        return $highest;
    }

    public function version(): string
    {
        return $this->version;
    }

    public function expectedSchema(): int
    {
        return $this->expectedSchema;
    }

    public function builtAt(): ?string
    {
        return $this->builtAt;
    }

    /**
     * A problem with release.json, or null.
     */
    public function error(): ?string
    {
        return $this->error;
    }
}
